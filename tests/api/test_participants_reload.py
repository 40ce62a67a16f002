"""The API's participants file is followed: a participant added or suspended takes effect without a restart;
a broken edit keeps the previous list."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.api.participants import ParticipantDirectory, token_hash

pytestmark = pytest.mark.unit

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


def entry(pid: str, address: str, token: str, suspended: bool = False) -> str:
    return (f'[[participants]]\nid = "{pid}"\naddress = "{address}"\ntoken_sha256 = "{token_hash(token)}"\n'
            f"suspended = {'true' if suspended else 'false'}\n\n")


def test_the_directory_follows_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(ParticipantDirectory, "RECHECK_S", 0.0)
    path = tmp_path / "participants.toml"
    path.write_text("")  # the demo starts with none: the traders write them once the world has
    directory = ParticipantDirectory.load(path)
    assert len(directory) == 0 and directory.get("alice") is None
    path.write_text(entry("alice", A, "tok-a"))
    assert directory.get("alice") is not None and directory.by_token("tok-a") == directory.get("alice")
    path.write_text(entry("alice", A, "tok-a", suspended=True) + entry("bob", B, "tok-b"))
    alice = directory.get("alice")
    assert alice is not None and alice.suspended and directory.get("bob") is not None
    path.write_text(entry("alice", A, "tok-a") + '[[participants]]\nid = 3\n')
    assert directory.get("bob") is not None  # the broken edit is refused, the previous list stays
    assert "cannot be used (the previous 2 participants stay)" in caplog.text and "participants[1].id" in caplog.text


def test_a_missing_file_at_start_is_still_an_error(tmp_path: Path) -> None:
    from console.api.participants import ParticipantsError

    with pytest.raises(ParticipantsError, match="cannot read the participants file"):
        ParticipantDirectory.load(tmp_path / "nope.toml")
