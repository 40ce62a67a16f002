"""Logs of the suite → ChainEvent values (name and arguments as text) for the journal and the chain panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3._utils.events import get_event_data
from web3.contract import AsyncContract

from core.chain import ChainEvent


class EventDecoder:
    def __init__(self, contracts: Mapping[str, AsyncContract]) -> None:
        self._by_topic: dict[tuple[str, bytes], tuple[str, dict[str, Any]]] = {}
        self._codec = next(iter(contracts.values())).w3.codec if contracts else None
        for name, c in contracts.items():
            for item in c.abi:
                if item.get("type") == "event":
                    self._by_topic[(c.address.lower(), event_abi_to_log_topic(item))] = (name, item)  # type: ignore[arg-type]

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
            args = tuple((k, _text(v)) for k, v in data["args"].items())
            out.append(ChainEvent(int(entry["blockNumber"]), int(entry["logIndex"]),
                                  "0x" + bytes(entry["transactionHash"]).hex(), contract, abi["name"], args))
        return out


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return str(v)
