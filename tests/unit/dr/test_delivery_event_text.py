"""GridBalance's DeliveryVerified in the operator's words: the argument names of the compiled ABI, each
energy figure in kWh (the event log shows it so)."""

from __future__ import annotations

from contracts.artifacts import load
from core.chain import ChainEvent
from core.chain_text import EventText


def test_delivery_verified_reads_in_kwh_by_the_abis_own_names() -> None:
    (abi,) = [e for e in load("GridBalance").abi if e.get("type") == "event" and e["name"] == "DeliveryVerified"]
    names = [i["name"] for i in abi["inputs"]]
    assert names == ["requestId", "participant", "verifiedWh", "meteredImportWh", "deliveredWh"]
    # verified 2 500 Wh, 1 234 Wh imported since opt-in, delivered capped at a 2 000 Wh target
    values = (7, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 2_500, 1_234, 2_000)
    ev = ChainEvent(10, 0, "0x" + "ab" * 32, "GridBalance", "DeliveryVerified", tuple(zip(names, values, strict=True)))
    assert EventText().args(ev) == ("requestId 7, participant 0x7099…79C8, verifiedWh 2.500 kWh, "
                                    "meteredImportWh 1.234 kWh, deliveredWh 2.000 kWh")
