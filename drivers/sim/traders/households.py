"""The fleet's households: read from the world's participants file (``energynet.participants/1``, see
docs/world.md) with their keys decrypted from their own keystores, and the API credentials derived from them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

FORMAT = "energynet.participants/1"


class HouseholdsError(ValueError):
    """The participants file or a keystore cannot be used (names the file, the participant and the problem)."""


@dataclass(frozen=True, slots=True)
class Household:
    id: str
    kind: str  # household, business, prosumer
    address: str  # EIP-55
    key: bytes = b""  # the private key (only in the fleet's process)
    pv_kwp: float = 0.0
    battery_kwh: float = 0.0
    battery_kw: float = 0.0
    ev_charger_kw: float = 0.0
    heat_pump_kw: float = 0.0

    def __repr__(self) -> str:  # never print a key
        return f"Household({self.id!r}, {self.kind!r}, {self.address})"

    @property
    def api_token(self) -> str:
        """The participant's API read credential, derived from its key (only its holder can compute it; the
        console stores its sha256 in the API's participants file)."""
        return keccak(b"energynet-api-token/1" + self.key).hex()


def load(path: Path, password: str | None = None) -> list[Household]:
    """Every participant with a wallet and a keystore in the world's participants file, keys decrypted with
    ``password`` (default: ``$<keystores.password_env>``, else the demo password the file names)."""
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HouseholdsError(f"{path}: cannot read the participants file: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise HouseholdsError(f"{path}: not JSON: {exc}") from exc
    fmt = str(doc.get("format", "")) if isinstance(doc, dict) else ""
    if fmt != FORMAT and not fmt.startswith(FORMAT + "."):  # a later minor version reads the same
        raise HouseholdsError(f"{path}: format {doc.get('format') if isinstance(doc, dict) else None!r}, "
                              f"expected {FORMAT!r}")
    stores = doc.get("keystores") or {}
    if password is None:
        password = os.environ.get(str(stores.get("password_env", "ENERGYNET_PARTICIPANT_PASSWORD"))) \
            or stores.get("demo_password")
    if not password:
        raise HouseholdsError(f"{path}: no keystore password: set ${stores.get('password_env')}")
    out: list[Household] = []
    for i, p in enumerate(doc.get("participants") or []):
        where = f"{path}: participants[{i}]"
        if not isinstance(p, dict) or not p.get("wallet") or not p.get("keystore"):
            continue  # no wallet: not a market participant
        keystore = (path.parent / str(p["keystore"])).resolve()
        try:
            key = bytes(Account.decrypt(json.loads(keystore.read_text(encoding="utf-8")), password))
        except (OSError, ValueError, KeyError) as exc:
            raise HouseholdsError(f"{where} {p.get('id')!r}: keystore {keystore}: {exc}") from exc
        address = Account.from_key(key).address
        if address.lower() != str(p["wallet"]).lower():
            raise HouseholdsError(f"{where} {p.get('id')!r}: keystore {keystore} holds {address}, "
                                  f"not the wallet {p['wallet']}")
        a = p.get("assets") or {}
        out.append(Household(str(p["id"]), str(p.get("kind", "household")), address, key,
                             float(a.get("pv_kwp", 0)), float(a.get("battery_kwh", 0)),
                             float(a.get("battery_kw", 0)), float(a.get("ev_charger_kw", 0)),
                             float(a.get("heat_pump_kw", 0))))
    if not out:
        raise HouseholdsError(f"{path}: no participant with a wallet and a keystore")
    return out


def api_participants_toml(households: list[Household]) -> str:
    """The console's ``[api] participants`` file for these households (addresses and token hashes only)."""
    import hashlib

    return "".join(
        f'[[participants]]\nid = "{h.id}"\naddress = "{h.address}"\n'
        f'token_sha256 = "{hashlib.sha256(h.api_token.encode()).hexdigest()}"\nsuspended = false\n\n'
        for h in households)
