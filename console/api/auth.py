"""Signed orders (EIP-712 typed data, as the settlement contract will verify them) and API tokens.

A participant signs the typed data of its order with its own key; the console recovers the signer and
compares it with the participant's registered address, and never sees the key. The order's id is the
EIP-712 digest, so the same signed order sent twice is the same order (the book refuses the second), and an
order id names exactly what was signed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_hash.auto import keccak  # eth_utils.keccak without its argument checks (a third of its cost)
from eth_utils.address import to_checksum_address

DOMAIN_NAME = "EnergyNet Market"
DOMAIN_VERSION = "1"
SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")

SIDES = {"buy": 0, "sell": 1}
KINDS = {"limit": 0, "market-with-limit": 1}
TIFS = {"gtc": 0, "gtd": 1, "ioc": 2, "fok": 3}
GRIDS = {"none": 0, "admit-if-helps": 1, "match-if-helps": 2}

_DOMAIN_TYPE = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}]
# The settlement contract's domain (OpenZeppelin EIP712) also names the contract: a signature for one deployment
# cannot be replayed on another one on the same chain. Orders settle on chain only when signed in this domain.
_CONTRACT_DOMAIN_TYPE = [*_DOMAIN_TYPE, {"name": "verifyingContract", "type": "address"}]
ORDER_TYPE = [
    {"name": "participant", "type": "address"},
    {"name": "product", "type": "uint64"},
    {"name": "side", "type": "uint8"},
    {"name": "quantity", "type": "uint256"},
    {"name": "price", "type": "uint256"},
    {"name": "hasPrice", "type": "bool"},
    {"name": "kind", "type": "uint8"},
    {"name": "tif", "type": "uint8"},
    {"name": "validFrom", "type": "uint64"},  # 0: none
    {"name": "validUntil", "type": "uint64"},  # 0: none
    {"name": "condition", "type": "string"},  # "" : none; the text form (docs/market.md)
    {"name": "grid", "type": "uint8"},
    {"name": "nonce", "type": "uint256"},
]


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _type_string(primary: str, fields: list[dict[str, str]]) -> bytes:
    return f"{primary}({','.join(f['type'] + ' ' + f['name'] for f in fields)})".encode()


# One struct: an offer and an execute are both signed Orders, the struct the settlement contract checks.
_TYPE_HASH = {"Order": keccak(_type_string("Order", ORDER_TYPE))}
_FIELDS = {"Order": ORDER_TYPE}


_EMPTY_HASH = keccak(b"")  # most orders have no condition: their string word is this, not worth a hash each


def _word(kind: str, value: Any) -> bytes:
    """One EIP-712 field encoded to its 32-byte word (only the types our two structs use)."""
    if kind == "string":
        return keccak(value.encode()) if value else _EMPTY_HASH
    if kind == "address":
        return bytes(12) + bytes.fromhex(value[2:])
    if kind == "bool":
        return int(bool(value)).to_bytes(32, "big")
    bits = int(kind.removeprefix("uint"))
    if not isinstance(value, int) or not 0 <= value < 2**bits:
        raise ValueError(f"{value!r} is not a {kind}")
    return value.to_bytes(32, "big")


def fast_digest(primary: str, message: dict[str, Any], chain_id: int, contract: str | None = None) -> bytes:
    """The EIP-712 digest, computed directly (a test checks it equals eth_account's ``encode_typed_data``):
    ``keccak(0x1901 ‖ domainSeparator ‖ keccak(typeHash ‖ fields))``; ~10× cheaper than building the
    typed-data message generically, which matters at hundreds of orders per second."""
    struct = keccak(_TYPE_HASH[primary] + b"".join(_word(f["type"], message[f["name"]]) for f in _FIELDS[primary]))
    return keccak(b"\x19\x01" + _domain_separator(chain_id, contract) + struct)


_SEPARATORS: dict[tuple[int, str | None], bytes] = {}


def _domain_separator(chain_id: int, contract: str | None = None) -> bytes:
    sep = _SEPARATORS.get((chain_id, contract))
    if sep is None:
        fields = _DOMAIN_TYPE if contract is None else _CONTRACT_DOMAIN_TYPE
        sep = keccak(keccak(_type_string("EIP712Domain", fields)) + keccak(DOMAIN_NAME.encode())
                     + keccak(DOMAIN_VERSION.encode()) + chain_id.to_bytes(32, "big")
                     + (b"" if contract is None else _word("address", contract)))
        _SEPARATORS[(chain_id, contract)] = sep
    return sep


def recover_fast(primary: str, message: dict[str, Any], chain_id: int, signature: str,
                 contract: str | None = None) -> Signed:
    """Who signed the typed data; the same rules as OpenZeppelin's ``ECDSA.recover`` (65 bytes, v 27 or 28,
    s in the lower half), so what the console accepts the settlement contract accepts. Raises
    :class:`SignatureMalformed`."""
    if not SIGNATURE.match(signature):
        raise SignatureMalformed("a signature is 0x and 130 hex digits (65 bytes: r, s, v)")
    raw = bytes.fromhex(signature[2:])
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (27, 28):
        raise SignatureMalformed(f"v must be 27 or 28, got {v}")
    if not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise SignatureMalformed("r must be in 1..n-1 and s in the lower half of the curve order (EIP-2)")
    digest_bytes = fast_digest(primary, message, chain_id, contract)
    try:
        public = PublicKey.from_signature_and_message(raw[:64] + bytes([v - 27]), digest_bytes, hasher=None)
    except Exception as exc:  # coincurve: no point on the curve for this r
        raise SignatureMalformed(f"no signer can be recovered from it ({exc})") from exc
    address = "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()
    return Signed("0x" + digest_bytes.hex(), address)


class SignatureMalformed(ValueError):
    """Not a 65-byte hex signature, or no key can be recovered from it."""


@dataclass(frozen=True, slots=True)
class Signed:
    digest: str  # 0x… EIP-712 digest: the order id
    address: str  # the recovered address, 0x… lower case (compare it with ``.lower()`` of a registered one)

    @property
    def signer(self) -> str:
        """The recovered address, checksummed (EIP-55: another keccak, so only when someone shows it)."""
        return to_checksum_address(self.address)


def domain(chain_id: int, contract: str | None = None) -> dict[str, Any]:
    """The EIP-712 domain: with ``contract`` (the OrderSettlement address) the one orders settle on chain in."""
    out: dict[str, Any] = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id}
    if contract is not None:
        out["verifyingContract"] = contract
    return out


def order_message(address: str, order: dict[str, Any]) -> dict[str, Any]:
    """The typed-data message of an order as the API receives it (its JSON field names)."""
    price = order.get("price")
    return {
        "participant": address, "product": order["product"], "side": SIDES[order["side"]],
        "quantity": order["quantity"], "price": price or 0, "hasPrice": price is not None,
        "kind": KINDS[order.get("kind", "limit")], "tif": TIFS[order.get("tif", "gtc")],
        "validFrom": order.get("valid_from") or 0, "validUntil": order.get("valid_until") or 0,
        "condition": order.get("condition") or "", "grid": GRIDS[order.get("grid", "none")],
        "nonce": order["nonce"],
    }  # fmt: skip


DEFAULT_CHAIN_ID = 31337  # anvil's; a console with a chain signs against its deployment's chain id


class ChainIdError(ValueError):
    """The chain id the API should sign against cannot be settled (names the file and what is wrong)."""


def chain_id_for(configured: int | None, deployment: Path | None) -> int:
    """The EIP-712 chain id: ``[api] chain_id`` if set; else the chain id in ``[chain]``'s deployment file
    (written from the connected chain's ``eth_chainId`` by ``energynet chain up``/``deploy``; the gateway
    refuses a chain whose id differs from it), which must then agree with a configured one; else 31337."""
    deployed: int | None = None
    if deployment is not None and deployment.is_file():
        try:
            deployed = int(json.loads(deployment.read_text(encoding="utf-8"))["chainId"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ChainIdError(f"{deployment}: no readable chainId ({exc})") from exc
    if configured is not None and deployed is not None and configured != deployed:
        raise ChainIdError(f"[api] chain_id = {configured} but the deployment {deployment} is on chain {deployed}: "
                           "orders signed for one would not settle on the other; remove [api] chain_id or fix it")
    return configured or deployed or DEFAULT_CHAIN_ID


_DOMAIN_FIELD_TYPES = {"name": "string", "version": "string", "chainId": "uint256", "verifyingContract": "address"}


def all_types(dom: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Every struct type the API verifies, with the type of the domain ``dom`` (the fields it has, in EIP-712's
    order), as published at ``GET /api/v1/eip712``."""
    fields = [{"name": k, "type": t} for k, t in _DOMAIN_FIELD_TYPES.items() if k in dom]
    return {"EIP712Domain": fields, **{name: list(f) for name, f in _FIELDS.items()}}


ENCODINGS = {"side": SIDES, "kind": KINDS, "tif": TIFS, "grid": GRIDS}


def typed_data(primary: str, message: dict[str, Any], chain_id: int, contract: str | None = None) -> dict[str, Any]:
    types = {"EIP712Domain": _DOMAIN_TYPE if contract is None else _CONTRACT_DOMAIN_TYPE,
             primary: _FIELDS[primary]}
    return {"types": types, "primaryType": primary, "domain": domain(chain_id, contract), "message": message}


def signable(primary: str, message: dict[str, Any], chain_id: int, contract: str | None = None) -> SignableMessage:
    return encode_typed_data(full_message=typed_data(primary, message, chain_id, contract))


def digest(msg: SignableMessage) -> str:
    return "0x" + keccak(b"\x19" + msg.version + msg.header + msg.body).hex()


def recover(msg: SignableMessage, signature: str) -> Signed:
    """Who signed ``msg``; raises :class:`SignatureMalformed`."""
    if not SIGNATURE.match(signature):
        raise SignatureMalformed("a signature is 0x and 130 hex digits (65 bytes: r, s, v)")
    try:
        signer = Account.recover_message(msg, signature=bytes.fromhex(signature[2:]))
    except Exception as exc:  # eth_keys raises several types for an invalid r, s or v
        raise SignatureMalformed(f"no signer can be recovered from it ({exc})") from exc
    return Signed(digest(msg), signer.lower())


def sign(primary: str, message: dict[str, Any], chain_id: int, private_key: str | bytes,
         contract: str | None = None) -> str:
    """A participant's signature (for clients, the simulated participants, tests and the benchmark)."""
    signed = Account.sign_message(signable(primary, message, chain_id, contract), private_key)
    return "0x" + bytes(signed.signature).hex()
