"""The outbox's validity rules on a real SQLite file: superseded, expired, history of an older chain, and an
outbox written before these columns existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from contracts.outbox import Outbox
from core.chain import ChainCommand, ChainIdentity, TxState


def cmd(key: str, *, group: str | None = None, until: float | None = None) -> ChainCommand:
    return ChainCommand(key, "GridBalance", "updateStatus", (50_000, 230_000, 1, 1), key, valid_until=until,
                        supersedes=group)


def test_only_the_newest_queued_command_of_a_group_stays_queued(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for key in ("st-1", "st-2", "st-3"):
        box.add(cmd(key, group="grid-status"))
    box.add(cmd("other"))
    assert {k: box.record(k).state for k in ("st-1", "st-2", "st-3", "other")} == {  # type: ignore[union-attr]
        "st-1": TxState.SUPERSEDED, "st-2": TxState.SUPERSEDED, "st-3": TxState.QUEUED, "other": TxState.QUEUED}
    assert box.record("st-1").error == "superseded by st-2 before it was sent"  # type: ignore[union-attr]
    assert [c.key for c in box.queued()] == ["st-3", "other"]


def test_queued_commands_past_their_validity_expire_with_the_time_they_were_valid_until(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.add(cmd("dr-old", until=1_000.0), now=900.0)
    box.add(cmd("dr-new", until=2_000.0), now=900.0)
    box.add(cmd("forever"), now=900.0)
    assert box.expire_queued(1_500.0) == ["dr-old"]
    old = box.record("dr-old")
    assert old is not None and old.state is TxState.EXPIRED and old.state.done
    assert old.valid_until == 1_000.0 and old.created == 900.0 and "not sent after that" in (old.error or "")
    assert [c.key for c in box.queued()] == ["dr-new", "forever"]


def test_commands_confirmed_on_an_older_chain_are_never_taken_for_lost_blocks(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    ident = ChainIdentity(31337, "0xaa", (("GridBalance", "0x11"),))
    box.record_identity(ident, replaces=False)
    box.add(cmd("old"))
    box.mark_signed([("old", 0, b"\x01", "0xh0")])
    box.set_states([("old", TxState.CONFIRMED)], {"old": (5, 21_000)})
    assert box.recent_confirmed() == [("old", "0xh0")]
    box.record_identity(ChainIdentity(31337, "0xbb", ident.code), replaces=True)
    assert box.recent_confirmed() == []  # confirmed on the chain before: history, not re-broadcast
    assert box.identity() == ChainIdentity(31337, "0xbb", (("GridBalance", "0x11"),))


def test_an_outbox_written_before_validity_existed_gains_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE commands (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
            contract TEXT NOT NULL, function TEXT NOT NULL, args TEXT NOT NULL, description TEXT NOT NULL,
            state TEXT NOT NULL, nonce INTEGER, raw_tx BLOB, tx_hash TEXT, block INTEGER, gas_used INTEGER,
            error TEXT, created REAL NOT NULL, updated REAL NOT NULL);
        INSERT INTO commands (key, contract, function, args, description, state, created, updated)
            VALUES ('status-1', 'GridBalance', 'updateStatus', '[1, 2, 3, 4]', 'grid status', 'queued', 5, 5);
    """)
    db.commit()
    db.close()
    box = Outbox(path)
    (queued,) = box.queued()
    assert queued.valid_until is None and queued.supersedes is None and queued.args == (1, 2, 3, 4)
    assert box.identity() is None  # recorded on first contact with a chain
