"""Participants as the admin keeps them: who they are, where they connect, what they own, how they trade (pure).

:mod:`core.participants` accounts for a participant's energy from its devices; this module is the register
the admin edits: the record, its validation (every problem named by field and value), and what a change
means on chain. No I/O: the participant administration service stores records and sends the chain calls.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
DEVICE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class ParticipantType(enum.Enum):
    PRODUCER = "producer"
    CONSUMER = "consumer"
    PROSUMER = "prosumer"
    STORAGE = "storage"

    @classmethod
    def parse(cls, text: str) -> ParticipantType:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"type {text!r}: use one of {', '.join(t.value for t in cls)}") from None


@dataclass(frozen=True, slots=True)
class MeterLink:
    """A participant's meter: the device name in the console's config, and the device account that signs
    its readings on chain (None: its readings are relayed by the console's oracle account)."""

    device: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class ParticipantDraft:
    """What the admin fills in to create or edit a participant."""

    id: str
    name: str
    type: ParticipantType
    bus: str
    wallet: str
    meters: tuple[MeterLink, ...] = ()
    devices: tuple[str, ...] = ()  # inverters, batteries… (config device names)
    tariff: str = "standard"
    dr_enrolled: bool = False


@dataclass(frozen=True, slots=True)
class ParticipantRecord:
    """A stored participant: the draft's fields and its state."""

    id: str
    name: str
    type: ParticipantType
    bus: str
    wallet: str
    meters: tuple[MeterLink, ...]
    devices: tuple[str, ...]
    tariff: str
    dr_enrolled: bool
    suspended: bool = False
    suspended_reason: str | None = None
    token_sha256: str | None = None  # sha256 hex of its API token (the token is shown once, never stored)
    token_rotated: float | None = None  # POSIX s
    chain_keys: tuple[str, ...] = field(default=())  # chain commands of its newest registration/suspension
    created: float = 0.0
    updated: float = 0.0

    def draft(self) -> ParticipantDraft:
        return ParticipantDraft(self.id, self.name, self.type, self.bus, self.wallet, self.meters, self.devices,
                                self.tariff, self.dr_enrolled)


class ParticipantInvalid(ValueError):
    """A draft that cannot be stored; ``problems`` name each field, its value and what to do."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def validate(d: ParticipantDraft, tariffs: frozenset[str] | None = None) -> list[str]:
    """Every problem of ``d`` (empty: it can be stored). ``tariffs``: the known tariff names, when known."""
    problems: list[str] = []
    if not ID.match(d.id):
        problems.append(f"id {d.id!r}: 1–64 letters, digits, '_', '.', '-'")
    if not d.name.strip() or len(d.name) > 100:
        problems.append(f"name {d.name!r}: 1–100 characters")
    if not d.bus.strip():
        problems.append("bus: name the network bus the participant connects at")
    if not ADDRESS.match(d.wallet):
        problems.append(f"wallet {d.wallet!r}: a 0x-prefixed 20-byte hex address (the key that signs its orders)")
    elif int(d.wallet, 16) == 0:
        problems.append("wallet: the zero address cannot trade")
    seen: set[str] = set()
    for m in d.meters:
        if not DEVICE.match(m.device):
            problems.append(f"meter {m.device!r}: a device name (letters, digits, '_', '.', ':', '-')")
        if m.account is not None and not ADDRESS.match(m.account):
            problems.append(f"meter {m.device!r} account {m.account!r}: a 0x-prefixed 20-byte hex address")
        if m.device in seen:
            problems.append(f"meter {m.device!r} is listed twice")
        seen.add(m.device)
    for dev in d.devices:
        if not DEVICE.match(dev):
            problems.append(f"device {dev!r}: a device name (letters, digits, '_', '.', ':', '-')")
        if dev in seen:
            problems.append(f"device {dev!r} is listed twice (or also as a meter)")
        seen.add(dev)
    if d.type in (ParticipantType.CONSUMER, ParticipantType.PROSUMER) and not d.meters:
        problems.append(f"meters: a {d.type.value} needs its grid meter")
    if tariffs is not None and d.tariff not in tariffs:
        problems.append(f"tariff {d.tariff!r}: use one of {', '.join(sorted(tariffs))}")
    return problems


def parse_meters(text: str) -> tuple[MeterLink, ...]:
    """``"m1, m2=0xabc…"`` (device, optionally = its chain account) as meter links; the admin dialog's field."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        device, _, account = part.partition("=")
        out.append(MeterLink(device.strip(), account.strip() or None))
    return tuple(out)


def format_meters(meters: tuple[MeterLink, ...]) -> str:
    return ", ".join(m.device + (f"={m.account}" if m.account else "") for m in meters)


def parse_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())
