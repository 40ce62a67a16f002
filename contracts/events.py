"""Logs of the suite → ChainEvent values for the journal and the chain panel.

Arguments keep their ABI types (ints stay ints, bools bools; addresses and bytes become 0x-hex text), see
:data:`core.chain.ChainValue`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from web3._utils.events import get_event_data
from web3.contract import AsyncContract

from core.chain import ChainEvent, ChainValue


class EventDecoder:
    def __init__(self, contracts: Mapping[str, AsyncContract]) -> None:
        self._by_topic: dict[tuple[str, bytes], tuple[str, ABIEvent]] = {}
        self._codec = next(iter(contracts.values())).w3.codec if contracts else None
        for name, c in contracts.items():
            for item in c.abi:
                if item["type"] == "event":
                    self._by_topic[(c.address.lower(), event_abi_to_log_topic(item))] = (name, item)

    def decode(self, logs: Sequence[Any]) -> list[ChainEvent]:
        out = []
        for entry in logs:
            if not entry["topics"]:
                continue
            hit = self._by_topic.get((str(entry["address"]).lower(), bytes(entry["topics"][0])))
            if hit is None:
                continue
            contract, abi = hit
            data = get_event_data(self._codec, abi, entry)
            args = tuple((k, chain_value(v)) for k, v in data["args"].items())
            out.append(ChainEvent(int(entry["blockNumber"]), int(entry["logIndex"]),
                                  "0x" + bytes(entry["transactionHash"]).hex(), contract, abi["name"], args))
        return out


def chain_value(v: object) -> ChainValue:
    """An ABI-decoded value as a :data:`ChainValue`: ints and bools unchanged, bytes as 0x-hex, sequences as
    tuples; a type the suite's events do not use is refused rather than guessed."""
    if isinstance(v, bool | int | str):  # bool first in the union is a reminder: bool is an int subclass
        return v
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, list | tuple):
        return tuple(chain_value(x) for x in v)
    raise TypeError(f"event argument of type {type(v).__name__} ({v!r}) has no chain value")
