"""The participants file (``participants.json``) and each participant's own keystore.

The world plays the participants, so it creates their keys: one Ethereum V3 keystore per participant
(``eth_account.Account.encrypt``, scrypt) in a keys folder, never anywhere else. The participants file names
who is connected where with which devices and the wallet address of each key; the demo's chain deployment
registers those addresses and the simulated market participants sign with the keystores. Format: docs/world.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.sim.world.community import Participant
from drivers.sim.world.modbus_face import WorldDevice

FORMAT = "energynet.participants/1"
PASSWORD_ENV = "ENERGYNET_PARTICIPANT_PASSWORD"
DEMO_PASSWORD = "energynet-demo"
DEMO_SCRYPT_N = 2**14  # ~50 ms a keystore; eth-account's default 2^18 would cost ~0.6 s each (docs/world.md)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class ParticipantsFileError(ValueError):
    """A participants file that cannot be used; the message names the file, the entry and the key."""


@dataclass(frozen=True, slots=True)
class ParticipantDevice:
    kind: str  # meter | pv | wind | battery
    device_id: int
    name: str
    flexible: bool


@dataclass(frozen=True, slots=True)
class ParticipantEntry:
    """One participant as the file says (``keystore`` resolved against the file's folder)."""

    id: str
    name: str
    kind: str
    bus: str
    feeder: int
    connection: int
    wallet: str
    keystore: Path
    assets: Mapping[str, float]
    devices: tuple[ParticipantDevice, ...]
    # the grid meter's own device account (it signs the meter's readings, MeterReading's METER role); None in
    # files written before meters had keys: the meter then reports through the wallet
    meter_device: str | None = None
    meter_keystore: Path | None = None


@dataclass(frozen=True, slots=True)
class ParticipantsFile:
    path: Path
    seed: int
    start: datetime
    modbus_host: str
    modbus_port: int
    participants: tuple[ParticipantEntry, ...]
    background: tuple[ParticipantDevice, ...]


def participant_id(name: str) -> str:
    """"household 3-12" → "household-3-12": the console's participant and device name, the on-chain name."""
    return name.replace(" ", "-")


def password() -> str:
    return os.environ.get(PASSWORD_ENV, DEMO_PASSWORD)


def ensure_keystores(ids: Sequence[str], keys_dir: Path, secret: str | None = None,
                     scrypt_n: int = DEMO_SCRYPT_N) -> dict[str, str]:
    """One keystore ``keys_dir/<id>.json`` per participant (kept when it exists); returns id → address."""
    from eth_account import Account

    keys_dir.mkdir(parents=True, exist_ok=True)
    secret = password() if secret is None else secret
    out: dict[str, str] = {}
    for pid in ids:
        path = keys_dir / f"{pid}.json"
        if path.exists():
            out[pid] = _keystore_address(path)
            continue
        account = Account.create()
        keystore = Account.encrypt(account.key, secret, kdf="scrypt", iterations=scrypt_n)
        _write_atomically(path, json.dumps(keystore), private=True)
        out[pid] = account.address
    return out


def _keystore_address(path: Path) -> str:
    from eth_utils.address import to_checksum_address

    try:
        address = str(json.loads(path.read_text(encoding="utf-8"))["address"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ParticipantsFileError(f"{path}: not a keystore with an address ({exc}); delete it to get a new key") \
            from exc
    return str(to_checksum_address(address if address.startswith("0x") else "0x" + address))


def meter_key_id(pid: str) -> str:
    """The keystore name of participant ``pid``'s grid meter device key (``keys/<id>.meter.json``)."""
    return f"{pid}.meter"


def participants_document(participants: Sequence[Participant], devices: Sequence[WorldDevice], *, host: str,
                          modbus_port: int, seed: int, start: datetime, wallets: Mapping[str, str],
                          keys_dir: str = "keys") -> dict[str, Any]:
    """The participants file's content for the served participants (``wallets``: id → address, and
    ``<id>.meter`` → the address of its grid meter's device key where there is one)."""
    own: dict[int, list[WorldDevice]] = {}
    for d in devices:
        own.setdefault(d.connection, []).append(d)

    def device(d: WorldDevice) -> dict[str, Any]:
        return {"kind": d.kind, "device_id": d.device_id, "name": d.name, "flexible": d.flexible}

    rows = []
    for p in participants:
        if p.connection not in own:
            continue
        pid = participant_id(p.name)
        rows.append({
            "id": pid, "name": p.name, "kind": p.kind.value, "bus": p.bus, "feeder": p.feeder,
            "connection": p.connection, "wallet": wallets[pid], "keystore": f"{keys_dir}/{pid}.json",
            "assets": {"pv_kwp": p.pv_kwp, "battery_kwh": p.battery_kwh, "battery_kw": p.battery_kw,
                       "ev_charger_kw": p.ev_charger_kw, "heat_pump_kw": p.heat_pump_kw, "wind_kw": p.wind_kw},
            "devices": [device(d) for d in own[p.connection]],
        })
        if (mid := meter_key_id(pid)) in wallets:
            rows[-1]["meter_device"] = wallets[mid]
            rows[-1]["meter_keystore"] = f"{keys_dir}/{mid}.json"
    doc: dict[str, Any] = {
        "format": FORMAT, "written_by": "energynet sim world", "seed": seed, "start": start.isoformat(),
        "modbus": {"host": host, "port": modbus_port},
        "keystores": {"dir": keys_dir, "kdf": "scrypt", "password_env": PASSWORD_ENV, "demo_password": DEMO_PASSWORD},
        "participants": rows,
    }
    if -1 in own:
        doc["background"] = {"id": "background", "devices": [device(d) for d in own[-1]]}
    return doc


def write_participants(path: Path, participants: Sequence[Participant], devices: Sequence[WorldDevice], *,
                       host: str, modbus_port: int, seed: int, start: datetime, keys_dir: Path | None = None,
                       scrypt_n: int = DEMO_SCRYPT_N) -> ParticipantsFile:
    """Create (or keep) every served participant's keystore, then write the file (atomically)."""
    keys = keys_dir if keys_dir is not None else path.parent / "keys"
    served = {d.connection for d in devices}
    ids = [participant_id(p.name) for p in participants if p.connection in served]
    # one key per participant (its wallet) and one per grid meter (the device that signs its readings)
    wallets = ensure_keystores(ids + [meter_key_id(i) for i in ids], keys, scrypt_n=scrypt_n)
    rel = os.path.relpath(keys, path.parent)
    doc = participants_document(participants, devices, host=host, modbus_port=modbus_port, seed=seed, start=start,
                                wallets=wallets, keys_dir=Path(rel).as_posix())
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return load_participants(path)


def _write_atomically(path: Path, text: str, private: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def load_participants(path: Path) -> ParticipantsFile:
    """Read and check a participants file; every problem is named with its entry and key."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ParticipantsFileError(f"{path}: no participants file; `energynet sim world --participants-out "
                                    f"{path}` writes it") from exc
    except ValueError as exc:
        raise ParticipantsFileError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ParticipantsFileError(f"{path}: format {found!r} is not {FORMAT!r}; write it again with this version")
    problems: list[str] = []

    def need(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        value = obj.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            problems.append(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
            return None
        return value

    def devices_of(rows: Any, where: str) -> tuple[ParticipantDevice, ...]:
        if not isinstance(rows, list):
            problems.append(f"{where}: expected a list of devices, got {rows!r}")
            return ()
        out = []
        for j, d in enumerate(rows):
            w = f"{where}[{j}]"
            if not isinstance(d, dict):
                problems.append(f"{w}: expected an object, got {d!r}")
                continue
            kind, device_id, name = need(d, "kind", str, w), need(d, "device_id", int, w), need(d, "name", str, w)
            if kind is not None and device_id is not None and name is not None:
                out.append(ParticipantDevice(kind, device_id, name, bool(d.get("flexible", False))))
        return tuple(out)

    entries: list[ParticipantEntry] = []
    rows = doc.get("participants")
    if not isinstance(rows, list):
        problems.append(f"participants: expected a list, got {rows!r}")
        rows = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"participants[{i}]"
        if not isinstance(row, dict):
            problems.append(f"{where}: expected an object, got {row!r}")
            continue
        pid = need(row, "id", str, where)
        wallet = need(row, "wallet", str, where)
        if wallet is not None and not _ADDRESS.match(wallet):
            problems.append(f"{where}.wallet: {wallet!r} is not a 0x-prefixed 20-byte address")
        if pid in seen:
            problems.append(f"{where}.id: {pid!r} appears twice")
        seen.add(pid)
        keystore = need(row, "keystore", str, where)
        meter_device = row.get("meter_device")
        if meter_device is not None and not (isinstance(meter_device, str) and _ADDRESS.match(meter_device)):
            problems.append(f"{where}.meter_device: {meter_device!r} is not a 0x-prefixed 20-byte address")
        meter_keystore = row.get("meter_keystore")
        if meter_keystore is not None and not isinstance(meter_keystore, str):
            problems.append(f"{where}.meter_keystore: expected str, got {meter_keystore!r}")
        assets = row.get("assets", {})
        entry = ParticipantEntry(
            pid, need(row, "name", str, where), need(row, "kind", str, where), need(row, "bus", str, where),
            need(row, "feeder", int, where), need(row, "connection", int, where), wallet,
            path.parent / keystore if keystore else path.parent,
            {str(k): float(v) for k, v in assets.items()} if isinstance(assets, dict) else {},
            devices_of(row.get("devices"), f"{where}.devices"),
            meter_device if isinstance(meter_device, str) else None,
            path.parent / meter_keystore if isinstance(meter_keystore, str) else None)
        entries.append(entry)
    modbus: dict[str, Any] = doc["modbus"] if isinstance(doc.get("modbus"), dict) else {}
    host, port = need(modbus, "host", str, "modbus"), need(modbus, "port", int, "modbus")
    start_text = need(doc, "start", str, "file")
    start = datetime.fromisoformat(start_text) if start_text else datetime.min
    background = devices_of(doc["background"].get("devices"), "background.devices") \
        if isinstance(doc.get("background"), dict) else ()
    if problems:
        raise ParticipantsFileError(f"{path}:\n  " + "\n  ".join(problems))
    return ParticipantsFile(path, int(doc.get("seed", 0)), start, host, port, tuple(entries), background)
