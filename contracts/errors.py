"""Revert data → a message a person can act on (custom errors of every artifact, Error(string), Panic)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector

from contracts.artifacts import all_abis
from contracts.roles import NAMES as ROLE_NAMES

PANICS = {0x01: "assertion failed", 0x11: "arithmetic overflow or underflow", 0x12: "division by zero",
          0x21: "invalid enum value", 0x32: "array index out of bounds", 0x41: "out of memory"}

# What the operator can do about the errors one meets in normal operation.
ADVICE = {
    "AccessControlUnauthorizedAccount": "ask an administrator to grant the role",
    "EnforcedPause": "the contract is paused; a PAUSER must unpause it",
    "NotParticipant": "register the account as a participant first",
    "OfferExpired": "the offer has expired; create a new one",
    "OfferClosed": "the offer is filled or cancelled",
    "OverFill": "take at most the remaining amount",
    "ReadingNotNewer": "the reading was already submitted or is older than the last one",
    "TimestampInFuture": "check the meter's clock",
    "CounterWentBackwards": "the meter counter went backwards: check the meter for tampering or a reset",
    "AlreadyClaimed": "the compensation was already paid",
    "Soulbound": "achievements cannot be transferred",
    "ERC20InsufficientAllowance": "approve the Settlement contract to spend the token first",
    "ERC20InsufficientBalance": "the account holds too few settlement tokens",
    "ReentrancyGuardReentrantCall": "a contract tried to call back in during a payment; rejected",
}


@dataclass(frozen=True, slots=True)
class DecodedRevert:
    name: str
    args: dict[str, Any]
    message: str


def _fmt(value: Any, abi_type: str) -> str:
    if isinstance(value, bytes):
        return ROLE_NAMES.get(value, "0x" + value.hex())
    return str(value)


@cache
def _errors_by_selector() -> dict[bytes, dict[str, Any]]:
    table: dict[bytes, dict[str, Any]] = {}
    for abi in all_abis().values():
        for item in abi:
            if item.get("type") == "error":
                sig = f"{item['name']}({','.join(_canonical(i) for i in item['inputs'])})"
                table[function_signature_to_4byte_selector(sig)] = item
    return table


def _canonical(inp: dict[str, Any]) -> str:
    t = str(inp["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in inp["components"]) + ")" + t[len("tuple"):]
    return t


def decode_revert(data: bytes | str | None) -> DecodedRevert:
    """Decode revert `data` from any EnergyNet contract."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    if not data:
        return DecodedRevert("Revert", {}, "reverted without a reason (out of gas, or a call to a non-contract)")
    selector, body = data[:4], data[4:]
    if selector == bytes.fromhex("08c379a0"):
        (reason,) = decode(["string"], body)
        return DecodedRevert("Error", {"reason": reason}, reason)
    if selector == bytes.fromhex("4e487b71"):
        (code,) = decode(["uint256"], body)
        return DecodedRevert("Panic", {"code": code}, f"panic: {PANICS.get(code, hex(code))}")
    item = _errors_by_selector().get(selector)
    if item is None:
        return DecodedRevert("Unknown", {"data": "0x" + data.hex()}, f"unknown error 0x{data.hex()}")
    types = [_canonical(i) for i in item["inputs"]]
    values = decode(types, body) if types else ()
    args = {i["name"] or f"arg{n}": v for n, (i, v) in enumerate(zip(item["inputs"], values, strict=True))}
    shown = ", ".join(f"{k}={_fmt(v, t)}" for (k, v), t in zip(args.items(), types, strict=True))
    message = f"{item['name']}({shown})"
    if item["name"] in ADVICE:
        message += f": {ADVICE[item['name']]}"
    return DecodedRevert(item["name"], args, message)
