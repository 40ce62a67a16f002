"""Chain event arguments keep their types from the decoder through the outbox journal and back."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.events import chain_value
from contracts.outbox import Outbox
from core.chain import ChainEvent

pytestmark = pytest.mark.contracts

APPROVE_ALL = 2**255  # the demo's allowance: 58 digits, far past the 2**53 a float holds exactly


def test_an_event_read_back_from_the_journal_has_the_values_it_was_stored_with(tmp_path: Path) -> None:
    event = ChainEvent(7, 2, "0x" + "ab" * 32, "EnergyNetCredit", "Approval",
                       (("owner", "0x" + "11" * 20), ("value", APPROVE_ALL), ("settled", True),
                        ("ids", (1, 2, 3))))
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        assert outbox.store_events(31337, [event], up_to_block=7) == 1
        (back,) = outbox.events()
    finally:
        outbox.close()
    assert back == event
    assert back.arg("value") == 57896044618658097711785492504343953926634992332820282019728792003956564819968
    assert type(back.arg("settled")) is bool and back.arg("ids") == (1, 2, 3)
    with pytest.raises(KeyError, match=r"EnergyNetCredit.Approval has no argument 'amount'"):
        back.arg("amount")


def test_decoded_values_keep_ints_and_bools_and_write_bytes_as_hex() -> None:
    assert chain_value(APPROVE_ALL) == APPROVE_ALL and type(chain_value(5)) is int
    assert chain_value(False) is False
    assert chain_value(b"\x00\x01\xff") == "0x0001ff"
    assert chain_value([b"\x02", (3, True)]) == ("0x02", (3, True))
    with pytest.raises(TypeError, match="float"):
        chain_value(1.5)
