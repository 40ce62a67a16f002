"""``energynet.toml`` → validated settings.

Every error names the file, the key path (with the source/point names so the
operator can find it) and what is wrong. Unknown keys are rejected: a typo
must not silently fall back to a default.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.bands import FrequencyBands, VoltageBands
from core.points import PointDef, PointKind
from core.sources import ModbusDeviceSpec, OpcUaSourceSpec, PointBinding, SecurityMode

NODE_ID = re.compile(r"^(ns=\d+;)?(i=\d+|s=.+|g=[0-9a-fA-F-]{36}|b=[A-Za-z0-9+/=]+)$")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointModel(_Strict):
    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")]
    name: str | None = None
    node: str | None = None
    browse_path: list[str] | None = None
    unit: Annotated[str, Field(min_length=1)]
    kind: Literal["frequency", "voltage", "demand", "supply", "other"] = "other"
    nominal: float | None = None
    low_limit: float | None = None
    high_limit: float | None = None
    bus: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    deadband: Annotated[float, Field(ge=0)] = 0.0  # historian: store only changes at least this large

    @field_validator("node")
    @classmethod
    def _node_syntax(cls, v: str | None) -> str | None:
        if v is not None and not NODE_ID.match(v):
            raise ValueError(
                f"{v!r} is not an OPC-UA node id; write it like 'ns=2;s=Grid.Frequency' or 'ns=3;i=1001'"
            )
        return v

    @model_validator(mode="after")
    def _check(self) -> PointModel:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError("give exactly one of 'node' (a node id) or 'browse_path' (a list of names)")
        if self.browse_path is not None and not self.browse_path:
            raise ValueError("'browse_path' must not be empty")
        if self.kind == "voltage" and self.nominal is None:
            raise ValueError("a voltage point needs 'nominal' (volts) for the EN 50160 band")
        if self.low_limit is not None and self.high_limit is not None and self.low_limit >= self.high_limit:
            raise ValueError(f"low_limit ({self.low_limit}) must be below high_limit ({self.high_limit})")
        if self.scale == 0:
            raise ValueError("'scale' must not be 0")
        return self


class SourceModel(_Strict):
    name: Annotated[str, Field(min_length=1)]
    protocol: Literal["opcua"] = "opcua"
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^\s/:]+(:\d+)?(/.*)?$")]
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    security_policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = "None"
    certificate: str | None = None
    private_key: str | None = None
    application_uri: Annotated[str, Field(min_length=1)] = "urn:energynet:console"
    publishing_interval_ms: Annotated[float, Field(gt=0, le=60_000)] = 100.0
    sampling_interval_ms: Annotated[float, Field(ge=0, le=60_000)] = 50.0
    request_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    watchdog_interval_s: Annotated[float, Field(gt=0, le=10)] = 0.5
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 10.0
    points: Annotated[list[PointModel], Field(min_length=1)]

    @model_validator(mode="after")
    def _check(self) -> SourceModel:
        if self.security_mode != "None":
            if self.security_policy == "None":
                raise ValueError(f"security_mode {self.security_mode!r} needs a security_policy")
            if not (self.certificate and self.private_key):
                raise ValueError("a secured source needs 'certificate' and 'private_key' (PEM/DER files)")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self


class ModbusDeviceModel(_Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    device_id: Annotated[int, Field(ge=0, le=247)] = 1
    profile: Annotated[str, Field(min_length=1)]  # a profile file, or "sunspec" to discover
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 10.0
    poll: dict[str, Annotated[float, Field(gt=0)]] = {}  # poll group → interval override (s)
    rated_power_w: Annotated[float, Field(gt=0)] = 25_000.0  # plausibility of energy jumps
    consumer_only: bool = False  # negative power is then a reversed CT
    participant: Annotated[str, Field(min_length=1)] | None = None  # whose device; default: the device name
    asset: Literal["meter", "pv", "wind", "battery"] | None = None  # default: pv for SunSpec, else meter


class FrequencyBandsModel(_Strict):
    nominal_hz: float = 50.0
    normal_low_hz: float = 49.8
    normal_high_hz: float = 50.2
    emergency_low_hz: float = 49.2
    emergency_high_hz: float = 50.8


class VoltageBandsModel(_Strict):
    normal_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.10
    emergency_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.15


class ConsoleModel(_Strict):
    title: str = "EnergyNet Console"
    refresh_hz: Annotated[float, Field(gt=0, le=20)] = 20.0
    rocof_window_ms: Annotated[float, Field(ge=20, le=10_000)] = 500.0
    trend_history_s: Annotated[float, Field(ge=60, le=24 * 3600)] = 3600.0
    trend_window_s: Literal[60, 600, 3600] = 60


class HistorianModel(_Strict):
    enabled: bool = True
    url: str | None = None  # default: SQLite in the user's data directory
    spool: str | None = None  # default: beside the SQLite file / in the data directory
    batch_rows: Annotated[int, Field(ge=100, le=100_000)] = 5000
    flush_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    heartbeat_s: Annotated[float, Field(gt=0)] = 60.0
    raw_days: Annotated[float, Field(gt=0)] = 30.0
    minute_days: Annotated[float, Field(gt=0)] = 365.0
    hour_days: Annotated[float, Field(gt=0)] = 3650.0

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(sqlite:///.+|postgresql(\+psycopg)?://.+)$", v):
            raise ValueError(f"{v!r} is not a database URL; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        return v


class ChainModel(_Strict):
    enabled: bool = False
    rpc: str = "http://127.0.0.1:8545"
    deployment: str = "deployments/31337.json"  # written by `energynet chain up` / `chain deploy`
    keystore: str = "deployments/31337-operator.keystore.json"
    password_env: str = "ENERGYNET_KEYSTORE_PASSWORD"
    outbox: str | None = None  # default: chain-outbox.db in the data directory
    confirmations: Annotated[int, Field(ge=0, le=64)] = 0
    publish_status_s: Annotated[float, Field(ge=0)] = 10.0  # grid status on chain every N s; 0 = never

    @field_validator("rpc")
    @classmethod
    def _rpc(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"{v!r} is not an HTTP JSON-RPC URL; use http://HOST:PORT")
        return v


class BandsModel(_Strict):
    frequency: FrequencyBandsModel = FrequencyBandsModel()
    voltage: VoltageBandsModel = VoltageBandsModel()


class FileModel(_Strict):
    console: ConsoleModel = ConsoleModel()
    bands: BandsModel = BandsModel()
    historian: HistorianModel = HistorianModel()
    chain: ChainModel = ChainModel()
    sources: list[SourceModel] = []
    modbus: list[ModbusDeviceModel] = []

    @model_validator(mode="after")
    def _something(self) -> FileModel:
        if not self.sources and not self.modbus:
            raise ValueError("configure at least one [[sources]] (OPC-UA) or [[modbus]] device")
        return self


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    title: str
    refresh_hz: float
    rocof_window_s: float
    trend_history_s: float
    trend_window_s: float


@dataclass(frozen=True, slots=True)
class HistorianSettings:
    enabled: bool
    url: str | None
    spool: str | None
    batch_rows: int
    flush_s: float
    heartbeat_s: float
    raw_days: float
    minute_days: float
    hour_days: float


@dataclass(frozen=True, slots=True)
class ChainSettings:
    enabled: bool = False
    rpc: str = "http://127.0.0.1:8545"
    deployment: Path = Path("deployments/31337.json")
    keystore: Path = Path("deployments/31337-operator.keystore.json")
    password_env: str = "ENERGYNET_KEYSTORE_PASSWORD"
    outbox: Path | None = None
    confirmations: int = 0
    publish_status_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the console needs, validated."""

    path: Path | None
    console: ConsoleSettings
    frequency_bands: FrequencyBands
    voltage_bands: VoltageBands
    sources: tuple[OpcUaSourceSpec, ...]
    historian: HistorianSettings
    deadbands: tuple[tuple[str, float], ...] = ()
    modbus: tuple[ModbusDeviceSpec, ...] = ()
    chain: ChainSettings = ChainSettings()

    @property
    def points(self) -> tuple[PointDef, ...]:
        return tuple(b.point for s in self.sources for b in s.points)


def load(path: str | Path) -> Settings:
    """Read and validate a config file; raises :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from exc
    return parse(text, path)


def parse(text: str, path: Path | None = None) -> Settings:
    """Validate config text; ``path`` only names the file in errors."""
    where = str(path) if path else "<config>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    try:
        model = FileModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(where, raw, exc)) from exc
    try:
        return _build(model, path)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _explain(where: str, raw: dict[str, Any], exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = _key_path(raw, err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see resources/energynet.toml for all keys)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and err["type"] not in ("value_error",):
            msg = f"{msg} (got {err['input']!r})"
        lines.append(f"{where}: {loc}: {msg}")
    return "\n".join(lines)


def _key_path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """``sources[0].points[2].node`` with names: ``sources[0 'grid'].points[2 'bus1.v'].node``."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            label = ""
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict):
                name = node[key].get("name") or node[key].get("id")
                label = f" {name!r}" if isinstance(name, str) else ""
            parts[-1] += f"[{key}{label}]" if parts else f"[{key}]"
            node = node[key] if isinstance(node, list) and key < len(node) else None
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _build(model: FileModel, path: Path | None) -> Settings:
    seen: dict[str, str] = {}
    kinds: dict[str, str] = {}
    sources = []
    for src in model.sources:
        bindings = []
        for p in src.points:
            if p.id in seen:
                raise ValueError(f"point id {p.id!r} appears in sources {seen[p.id]!r} and {src.name!r}")
            seen[p.id] = src.name
            if p.kind in ("frequency", "demand", "supply"):
                if p.kind in kinds:
                    raise ValueError(f"only one {p.kind} point is allowed: {kinds[p.kind]!r} and {p.id!r}")
                kinds[p.kind] = p.id
            point = PointDef(
                id=p.id,
                name=p.name or p.id,
                unit=p.unit,
                kind=PointKind(p.kind),
                nominal=p.nominal if p.nominal is not None else math.nan,
                low_limit=p.low_limit if p.low_limit is not None else -math.inf,
                high_limit=p.high_limit if p.high_limit is not None else math.inf,
                bus=p.bus or (p.name if p.kind == "voltage" else None),
            )
            bindings.append(PointBinding(
                point, p.node, tuple(p.browse_path or ()), scale=p.scale, offset=p.offset
            ))
        sources.append(OpcUaSourceSpec(
            name=src.name,
            endpoint=src.endpoint,
            points=tuple(bindings),
            security_mode=SecurityMode(src.security_mode),
            security_policy=src.security_policy,
            certificate=src.certificate,
            private_key=src.private_key,
            application_uri=src.application_uri,
            publishing_interval_ms=src.publishing_interval_ms,
            sampling_interval_ms=src.sampling_interval_ms,
            request_timeout_s=src.request_timeout_s,
            watchdog_interval_s=src.watchdog_interval_s,
            reconnect_min_s=src.reconnect_min_s,
            reconnect_max_s=src.reconnect_max_s,
        ))
    names = [s.name for s in sources] + [d.name for d in model.modbus]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"source names must be unique, repeated: {dupes}")
    c = model.console
    fb = model.bands.frequency
    vb = model.bands.voltage
    if vb.emergency_fraction < vb.normal_fraction:
        raise ValueError("bands.voltage.emergency_fraction must not be below normal_fraction")
    return Settings(
        path=path,
        console=ConsoleSettings(
            c.title, c.refresh_hz, c.rocof_window_ms / 1000, c.trend_history_s, float(c.trend_window_s)
        ),
        frequency_bands=FrequencyBands(**fb.model_dump()),
        voltage_bands=VoltageBands(vb.normal_fraction, vb.emergency_fraction),
        sources=tuple(sources),
        historian=HistorianSettings(**model.historian.model_dump()),
        deadbands=tuple((p.id, p.deadband) for src in model.sources for p in src.points if p.deadband > 0),
        modbus=tuple(_modbus(d, path) for d in model.modbus),
        chain=_chain(model.chain),
    )


def _chain(c: ChainModel) -> ChainSettings:
    # Relative paths are taken from the working directory, where `energynet chain up` writes them.
    return ChainSettings(c.enabled, c.rpc, Path(c.deployment).expanduser(), Path(c.keystore).expanduser(),
                         c.password_env, Path(c.outbox).expanduser() if c.outbox else None, c.confirmations,
                         c.publish_status_s)


def _modbus(d: ModbusDeviceModel, path: Path | None) -> ModbusDeviceSpec:
    profile = d.profile
    if profile.lower() != "sunspec" and path is not None and not Path(profile).is_absolute():
        local = path.parent / profile
        profile = str(local) if local.exists() else profile  # else: a profile shipped with EnergyNet
    asset = d.asset or ("pv" if d.profile.lower() == "sunspec" else "meter")
    return ModbusDeviceSpec(d.name, d.host, d.port, d.device_id, profile, d.timeout_s, d.reconnect_min_s,
                            d.reconnect_max_s, tuple(d.poll.items()), d.rated_power_w, d.consumer_only,
                            d.participant or d.name, asset)


def default_config_path() -> Path:
    """The config shipped in ``resources/`` (drives the demo)."""
    return Path(__file__).resolve().parent.parent / "resources" / "energynet.toml"
