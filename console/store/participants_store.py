"""Participants in the ``participant_register`` table (migration 0008); implements
console.services.participants_admin.ParticipantStore."""

from __future__ import annotations

import json

from sqlalchemy import (
    Engine,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from console.services.participants_admin import ParticipantConflict
from console.store.schema import participant_register as participants
from core.participant_registry import MeterLink, ParticipantRecord, ParticipantType


def _us(t: float | None) -> int | None:
    return None if t is None else round(t * 1_000_000)


def _row(r: ParticipantRecord) -> dict[str, object]:
    # The wallet comes checksummed from the service: one spelling per address, so UNIQUE means one owner.
    return {"id": r.id, "name": r.name, "type": r.type.value, "bus": r.bus, "wallet": r.wallet,
            "meters": json.dumps([[m.device, m.account] for m in r.meters]), "devices": json.dumps(list(r.devices)),
            "tariff": r.tariff, "dr_enrolled": int(r.dr_enrolled), "suspended": int(r.suspended),
            "suspended_reason": r.suspended_reason, "token_sha256": r.token_sha256,
            "token_rotated_us": _us(r.token_rotated), "chain_keys": json.dumps(list(r.chain_keys)),
            "created_us": _us(r.created), "updated_us": _us(r.updated)}


def _record(row: object) -> ParticipantRecord:
    g = row._mapping  # type: ignore[attr-defined]
    return ParticipantRecord(
        g["id"], g["name"], ParticipantType(g["type"]), g["bus"], g["wallet"],
        tuple(MeterLink(d, a) for d, a in json.loads(g["meters"])), tuple(json.loads(g["devices"])), g["tariff"],
        bool(g["dr_enrolled"]), bool(g["suspended"]), g["suspended_reason"], g["token_sha256"],
        None if g["token_rotated_us"] is None else g["token_rotated_us"] / 1e6, tuple(json.loads(g["chain_keys"])),
        g["created_us"] / 1e6, g["updated_us"] / 1e6)


class SqlParticipantStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all(self) -> list[ParticipantRecord]:
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(select(participants).order_by(participants.c.id))]

    def insert(self, record: ParticipantRecord) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(participants).values(**_row(record)))
        except IntegrityError:
            raise ParticipantConflict(f"a participant with id {record.id!r} or wallet {record.wallet} exists "
                                      "already") from None

    def replace(self, record: ParticipantRecord) -> None:
        values = _row(record)
        del values["id"]
        try:
            with self.engine.begin() as conn:
                n = conn.execute(update(participants).where(participants.c.id == record.id).values(**values))
        except IntegrityError:
            raise ParticipantConflict(f"another participant has the wallet {record.wallet}") from None
        if n.rowcount != 1:
            raise ParticipantConflict(f"no participant {record.id!r} is stored")
