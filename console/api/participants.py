"""Who may trade: participants with their registered address and a hashed API token (a TOML file for now;
issues 12/18 replace it with the admin's participant registry).

```toml
[[participants]]
id = "house-01"
address = "0x7099…79C8"      # the key that signs its orders
token_sha256 = "9f86…"       # sha256 hex of its API token (the token itself is never stored)
suspended = false
```
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
log = logging.getLogger(__name__)


class ParticipantsError(ValueError):
    """The participants file cannot be used; the message names the file, the entry and the key."""


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    address: str  # checksummed or not; compared case-insensitively
    token_sha256: str
    suspended: bool = False
    suspended_reason: str | None = None  # shown with the 403 (the admin's register has it; the file does not)


def token_hash(token: str) -> str:
    """What the participants file stores for a token: sha256 hex of its UTF-8 bytes (the token is 32 random
    bytes, so a fast hash is enough; argon2 for human passwords is issue 18's)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh API token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


class Directory(Protocol):
    """What the routes ask about participants: the file's :class:`ParticipantDirectory`, or the admin's
    register (console/api/registry_directory.py)."""

    def get(self, participant_id: str) -> Participant | None: ...
    def by_token(self, token: str) -> Participant | None: ...


class ParticipantDirectory:
    """Participants by id and by token. One loaded from a file follows it: when the file changes (checked at
    most once per ``RECHECK_S`` on a lookup) it is read again, so a participant added or suspended takes
    effect without a restart; a changed file that cannot be used is logged and the previous list kept."""

    RECHECK_S = 1.0

    def __init__(self, participants: Iterable[Participant]) -> None:
        self._by_id = self._index(participants)
        self._source: Path | None = None
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
        self._checked = 0.0

    @staticmethod
    def _index(participants: Iterable[Participant]) -> dict[str, Participant]:
        by_id: dict[str, Participant] = {}
        for p in participants:
            if p.id in by_id:
                raise ParticipantsError(f"participant id {p.id!r} appears twice")
            by_id[p.id] = p
        return by_id

    @staticmethod
    def load(path: Path) -> ParticipantDirectory:
        stamp = _stamp(path)
        directory = ParticipantDirectory(_parse(path))
        directory._source, directory._stamp, directory._checked = path, stamp, time.monotonic()
        return directory

    def _follow(self) -> None:
        if self._source is None:
            return
        now = time.monotonic()
        if now - self._checked < self.RECHECK_S:
            return
        self._checked = now
        stamp = _stamp(self._source)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            self._by_id = self._index(_parse(self._source))
        except ParticipantsError as exc:
            log.error("participants file changed but cannot be used (the previous %d participants stay): %s",
                      len(self._by_id), exc)
            return
        log.info("participants file %s read again: %d participants", self._source, len(self._by_id))

    def get(self, participant_id: str) -> Participant | None:
        self._follow()
        return self._by_id.get(participant_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def by_token(self, token: str) -> Participant | None:
        """The participant whose token this is (every entry compared in constant time)."""
        self._follow()
        digest = token_hash(token)
        found = None
        for p in self._by_id.values():
            if hmac.compare_digest(p.token_sha256, digest):
                found = p
        return found

    def __len__(self) -> int:
        return len(self._by_id)


def _parse(path: Path) -> list[Participant]:
    """The participants in ``path``; raises :class:`ParticipantsError` naming the entry and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParticipantsError(f"{path}: cannot read the participants file: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParticipantsError(f"{path}: not valid TOML: {exc}") from exc
    entries = raw.get("participants", [])
    if not isinstance(entries, list):
        raise ParticipantsError(f"{path}: 'participants' must be an array of tables ([[participants]])")
    out = []
    for i, e in enumerate(entries):
        where = f"{path}: participants[{i}]"
        if not isinstance(e, dict):
            raise ParticipantsError(f"{where}: must be a table")
        unknown = set(e) - {"id", "address", "token_sha256", "suspended"}
        if unknown:
            raise ParticipantsError(f"{where}: unknown key(s) {sorted(unknown)}")
        pid, addr, tok = e.get("id"), e.get("address"), e.get("token_sha256")
        if not isinstance(pid, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", pid):
            raise ParticipantsError(f"{where}.id: 1–64 letters, digits, '_', '.', '-' required, got {pid!r}")
        if not isinstance(addr, str) or not ADDRESS.match(addr):
            raise ParticipantsError(f"{where} {pid!r}.address: a 0x-prefixed 20-byte hex address, got {addr!r}")
        if not isinstance(tok, str) or not SHA256_HEX.match(tok):
            raise ParticipantsError(f"{where} {pid!r}.token_sha256: 64 lowercase hex digits, got {tok!r}")
        suspended = e.get("suspended", False)
        if not isinstance(suspended, bool):
            raise ParticipantsError(f"{where} {pid!r}.suspended: true or false, got {suspended!r}")
        out.append(Participant(pid, addr, tok, suspended))
    return out


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
