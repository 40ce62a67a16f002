"""OrderSettlement's OrderSettled in the operator's words: the fill in kWh, the price per kWh and the value in the
token, small amounts not rounded away to 0.00 (the demo's trades are worth a few hundred base units)."""

from __future__ import annotations

from contracts.artifacts import load
from core.chain import ChainEvent
from core.chain_text import EventText


def test_order_settled_reads_in_kwh_and_tokens_by_the_abis_own_names() -> None:
    (abi,) = [e for e in load("OrderSettlement").abi if e.get("type") == "event" and e["name"] == "OrderSettled"]
    names = [i["name"] for i in abi["inputs"]]
    assert names == ["seq", "buyHash", "sellHash", "tradeId", "quantity", "price", "value"]
    # 100 Wh at 320 base units per kWh: value = ceil(100 * 320 / 1000) = 32 base units = 0.000032 ENC (6 decimals);
    # 320 base units = 0.00032 ENC per kWh.
    values = (223, "0x" + "10" * 32, "0x" + "76" * 32, 16, 100, 320, 32)
    ev = ChainEvent(311, 0, "0x" + "ab" * 32, "OrderSettlement", "OrderSettled", tuple(zip(names, values, strict=True)))
    assert EventText().args(ev) == ("seq 223, buyHash 0x1010…1010, sellHash 0x7676…7676, tradeId 16, "
                                    "quantity 0.100 kWh, price 0.00032 ENC/kWh, value 0.000032 ENC")


def test_money_keeps_two_decimals_from_a_cent_up() -> None:
    text = EventText()
    value = [("value", 1_234_567_890)]  # 1 234.567890 ENC → 1,234.57 ENC
    ev = ChainEvent(1, 0, "0x" + "ab" * 32, "Settlement", "Escrowed", (("payer", "0x" + "11" * 20), *value))
    assert text.args(ev) == "payer 0x1111…1111, value 1,234.57 ENC"
    zero = ChainEvent(1, 0, "0x" + "ab" * 32, "Settlement", "Escrowed", (("payer", "0x" + "11" * 20), ("value", 0)))
    assert text.args(zero) == "payer 0x1111…1111, value 0.00 ENC"
