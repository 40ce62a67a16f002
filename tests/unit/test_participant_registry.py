"""The participant register's rules (pure): every problem of a draft named by field and value."""

from __future__ import annotations

from core.participant_registry import (
    MeterLink,
    ParticipantDraft,
    ParticipantType,
    format_meters,
    parse_list,
    parse_meters,
    validate,
)

WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def draft(**kw: object) -> ParticipantDraft:
    base: dict[str, object] = {"id": "house-01", "name": "House 1", "type": ParticipantType.PROSUMER,
                               "bus": "bus-4", "wallet": WALLET, "meters": (MeterLink("h1-meter"),)}
    base.update(kw)
    return ParticipantDraft(**base)  # type: ignore[arg-type]


def test_a_good_draft_has_no_problem() -> None:
    assert validate(draft()) == []
    assert validate(draft(type=ParticipantType.PRODUCER, meters=())) == []  # a producer may be metered elsewhere


def test_each_problem_is_named() -> None:
    bad = draft(id="", name=" ", bus="", wallet="0x" + "0" * 40,
                meters=(MeterLink("m 1"), MeterLink("m2", "0x12"), MeterLink("m2")), devices=("m2", "pv"),
                tariff="gold")
    assert validate(bad, frozenset({"standard", "time-of-use"})) == [
        "id '': 1–64 letters, digits, '_', '.', '-'",
        "name ' ': 1–100 characters",
        "bus: name the network bus the participant connects at",
        "wallet: the zero address cannot trade",
        "meter 'm 1': a device name (letters, digits, '_', '.', ':', '-')",
        "meter 'm2' account '0x12': a 0x-prefixed 20-byte hex address",
        "meter 'm2' is listed twice",
        "device 'm2' is listed twice (or also as a meter)",
        "tariff 'gold': use one of standard, time-of-use",
    ]
    assert validate(draft(meters=())) == ["meters: a prosumer needs its grid meter"]


def test_the_dialog_fields_round_trip() -> None:
    meters = parse_meters(f" h1-meter , h1-sub={WALLET},, ")
    assert meters == (MeterLink("h1-meter"), MeterLink("h1-sub", WALLET))
    assert parse_meters(format_meters(meters)) == meters
    assert parse_list("pv, , bess ") == ("pv", "bess")
    assert ParticipantType.parse(" Storage ") is ParticipantType.STORAGE
