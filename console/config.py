"""``energynet.toml`` → validated settings.

Every error names the file, the key path (with the source/point names so the
operator can find it) and what is wrong. Unknown keys are rejected: a typo
must not silently fall back to a default.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from core.alarms import AlarmConfigError, AlarmDef, load_alarms
from core.bands import FrequencyBands, VoltageBands
from core.points import PointDef, PointKind
from core.quantities import UnitError, unit_for
from core.reports.schedule import Every, ReportSchedule
from core.sources import ModbusDeviceSpec, OpcUaSourceSpec, PointBinding, SecurityMode

ENDPOINT = re.compile(r"^opc\.tcp://[^\s/:]+(:(?P<port>\d{1,5}))?(/.*)?$")
# Profiles shipped with EnergyNet (drivers/profiles; the console may not import
# drivers, so the folder is named here and a test keeps the two in step).
SHIPPED_PROFILES = Path(__file__).resolve().parent.parent / "drivers" / "profiles"
# An OPC-UA node id: namespace by URI (nsu=, survives a server renumbering its
# namespaces) or by index (ns=), then a numeric, string, GUID or opaque identifier.
NODE_ID = re.compile(r"^(ns=\d+;|nsu=[^;\s]+;)?(i=\d+|s=.+|g=[0-9a-fA-F-]{36}|b=[A-Za-z0-9+/=]+)$")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


# -- the rules of single values, shared by the models below and by the first-run wizard (console/services/
# first_run.py), so what the wizard accepts is what the config loads. Each raises ValueError saying what to do.

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_env_name(name: str) -> str:
    """An environment variable's name (a password is read from it, never from the file)."""
    if not ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not an environment variable name (letters, digits, _; not starting "
                         "with a digit)")
    return name


def check_rpc_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError(f"{url!r} is not an HTTP JSON-RPC URL; write it like http://127.0.0.1:8545")
    return url


def check_database_url(url: str) -> str:
    if not re.match(r"^(sqlite:///.+|postgresql(\+psycopg)?://.+)$", url):
        raise ValueError(f"{url!r} is not a database URL; use sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    return url


EnvName = Annotated[str, AfterValidator(check_env_name)]


POINT_ID = re.compile(r"[A-Za-z0-9_.:-]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointModel(_Strict):
    id: str
    name: str | None = None
    node: str | None = None
    browse_path: list[str] | None = None
    # kind before unit: the unit is checked against the kind (pydantic validates in this order)
    kind: Literal["frequency", "voltage", "demand", "supply", "other"] = "other"
    unit: str
    # nominal and limits are in the point's configured unit (20 for a bus in kV); _build converts them to SI
    nominal: float | None = None
    low_limit: float | None = None
    high_limit: float | None = None
    bus: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    deadband: Annotated[float, Field(ge=0)] = 0.0  # historian: store only changes at least this large

    @field_validator("id")
    @classmethod
    def _id_syntax(cls, v: str) -> str:
        # Only these characters: the console's own series ("<console ROCOF>") can then never share a
        # point's trend buffer, and ids stay safe in CSV exports, URLs and the historian.
        if not POINT_ID.fullmatch(v):
            reserved = " ('<…>' names are the console's own series, such as its computed ROCOF)" if v[:1] == "<" else ""
            raise ValueError(f"{v!r} is not a usable point id{reserved}; write it with letters, digits and "
                             f"_ . : - only, like 'grid.rocof' or 'feeder1.voltage'")
        return v

    @field_validator("node")
    @classmethod
    def _node_syntax(cls, v: str | None) -> str | None:
        if v is not None and not NODE_ID.match(v):
            raise ValueError(
                f"{v!r} is not an OPC-UA node id; write it like 'nsu=urn:acme:substation;i=5001' or "
                f"'nsu=urn:acme:substation;s=Bay1.Frequency' (namespace by URI, recommended), "
                f"or 'ns=2;s=Grid.Frequency' (namespace by index)"
            )
        return v

    @field_validator("unit")
    @classmethod
    def _unit_fits_kind(cls, v: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is not None:  # else the kind itself is wrong and reported
            try:
                unit_for(PointKind(kind), v)
            except UnitError as exc:
                raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _check(self) -> PointModel:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError("give exactly one of 'node' (a node id) or 'browse_path' (a list of names)")
        if self.browse_path is not None and not self.browse_path:
            raise ValueError("'browse_path' must not be empty")
        if self.kind == "voltage" and self.nominal is None:
            raise ValueError(f"a voltage point needs 'nominal' (in its unit, {self.unit}) for the EN 50160 band")
        if self.kind == "voltage" and not (self.nominal is not None and 0 < self.nominal < math.inf):
            raise ValueError(f"a voltage point's 'nominal' must be positive (in {self.unit}), got {self.nominal}")
        if self.low_limit is not None and self.high_limit is not None and self.low_limit >= self.high_limit:
            raise ValueError(f"low_limit ({self.low_limit}) must be below high_limit ({self.high_limit})")
        if self.scale == 0:
            raise ValueError("'scale' must not be 0")
        return self


class SourceModel(_Strict):
    name: Annotated[str, Field(min_length=1)]
    protocol: Literal["opcua"] = "opcua"
    endpoint: str
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    security_policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = "None"
    certificate: str | None = None
    private_key: str | None = None
    application_uri: Annotated[str, Field(min_length=1)] = "urn:energynet:console"
    # Security (issue 18): the server-certificate trust list (default: opcua-trust.json in the data directory)
    # and the user identity; the password is read from the environment variable named here, never the file.
    trust_list: str | None = None
    username: Annotated[str, Field(min_length=1)] | None = None
    password_env: EnvName = "ENERGYNET_OPCUA_PASSWORD"
    publishing_interval_ms: Annotated[float, Field(gt=0, le=60_000)] = 100.0
    sampling_interval_ms: Annotated[float, Field(ge=0, le=60_000)] = 50.0
    request_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    watchdog_interval_s: Annotated[float, Field(gt=0, le=10)] = 0.5
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 10.0
    points: Annotated[list[PointModel], Field(min_length=1)]

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        match = ENDPOINT.match(v)
        if match is None or not 0 < int(match["port"] or 4840) < 65536:
            raise ValueError(f"{v!r} is not an OPC-UA endpoint; write it like opc.tcp://10.0.0.7:4840/path "
                             "(host name or address, optional port 1–65535, optional path)")
        return v

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
    read_only: bool = False  # takes no setpoints (the simulated world's summed background devices)

    @field_validator("profile")
    @classmethod
    def _profile_file(cls, v: str, info: ValidationInfo) -> str:
        if v.lower() == "sunspec":
            return v
        context = info.context if isinstance(info.context, dict) else {}
        return str(resolve_profile(v, context.get("config_dir")))


def resolve_profile(profile: str, config_dir: Path | None) -> Path:
    """The profile file a device names: a path as given if absolute, else next to
    the config (the working directory without one), else shipped with EnergyNet.
    Raises ValueError naming every place it looked."""
    given = Path(profile).expanduser()
    if given.is_absolute():
        if given.is_file():
            return given
        raise ValueError(f"no profile file at {given}")
    local = ((config_dir or Path.cwd()) / given).absolute()
    shipped = SHIPPED_PROFILES / given
    for candidate in (local, shipped):
        if candidate.is_file():
            return candidate.resolve()
    where = "next to the config" if config_dir is not None else "in the working directory"
    raise ValueError(f"no profile file {profile!r}: looked {where} ({local}) and among the profiles "
                     f"shipped with EnergyNet ({shipped})")


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
    # Who acts in the desktop app until its login dialog exists (role operator); default: the login name.
    user: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    idle_lock_s: Annotated[float, Field(ge=30, le=24 * 3600)] = 900.0  # the window locks after this idle time


class HistorianModel(_Strict):
    enabled: bool = True
    url: str | None = None  # default: SQLite in the user's data directory
    spool: str | None = None  # default: beside the SQLite file / in the data directory
    batch_rows: Annotated[int, Field(ge=100, le=100_000)] = 5000
    flush_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    heartbeat_s: Annotated[float, Field(gt=0)] = 60.0
    maintain_every_s: Annotated[float, Field(gt=0)] = 60.0  # rollup + retention period
    raw_days: Annotated[float, Field(gt=0)] = 30.0
    minute_days: Annotated[float, Field(gt=0)] = 365.0
    hour_days: Annotated[float, Field(gt=0)] = 3650.0

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_database_url(v)


class ChainModel(_Strict):
    enabled: bool = False
    rpc: str = "http://127.0.0.1:8545"
    deployment: str = "deployments/31337.json"  # written by `energynet chain up` / `chain deploy`
    keystore: str = "deployments/31337-operator.keystore.json"
    password_env: EnvName = "ENERGYNET_KEYSTORE_PASSWORD"
    outbox: str | None = None  # default: chain-outbox.db in the data directory
    confirmations: Annotated[int, Field(ge=0, le=64)] = 0
    publish_status_s: Annotated[float, Field(ge=0)] = 10.0  # grid status on chain every N s; 0 = never

    @field_validator("rpc")
    @classmethod
    def _rpc(cls, v: str) -> str:
        return check_rpc_url(v)


class MakerModel(_Strict):
    """[market.maker]: the grid as a participant, quoting its tariffs in the next products (docs/market.md)."""

    enabled: bool = False
    participant: str = "grid-maker"
    feed_in_tariff: Annotated[int, Field(ge=0)] = 80  # what the grid pays for surplus, base units per kWh
    retail_tariff: Annotated[int, Field(gt=0)] = 320  # what it charges for supply, base units per kWh
    size_wh: Annotated[int, Field(gt=0)] = 10_000  # each quote's quantity
    products: Annotated[int, Field(gt=0, le=96)] = 8  # how many delivery periods ahead it quotes
    every_s: Annotated[float, Field(gt=0)] = 5.0  # how often quotes are checked and topped up
    keystore: str = "deployments/31337-grid-maker.keystore.json"  # written by `energynet chain up`
    password_env: EnvName = "ENERGYNET_KEYSTORE_PASSWORD"

    @model_validator(mode="after")
    def _spread(self) -> MakerModel:
        if self.retail_tariff <= self.feed_in_tariff:
            raise ValueError(f"retail_tariff ({self.retail_tariff}) must be above feed_in_tariff "
                             f"({self.feed_in_tariff}): the grid's buy and sell quotes would cross")
        return self


class MarketModel(_Strict):
    """[market]: the order book's rules, its journal and the reference price (docs/market.md)."""

    enabled: bool = False
    journal_url: str | None = None  # default: the historian's database
    tick: Annotated[int, Field(gt=0)] = 1  # price step, base units per kWh
    lot: Annotated[int, Field(gt=0)] = 100  # quantity step, Wh
    max_price: Annotated[int, Field(gt=0, lt=2**62)] = 10**9
    max_quantity: Annotated[int, Field(gt=0)] = 10**9
    open_horizon_s: Annotated[int, Field(gt=0)] = 24 * 3600
    gate_closure_s: Annotated[int, Field(ge=0)] = 300
    tick_hz: Annotated[float, Field(ge=1, le=20)] = 1.0
    base_price: Annotated[int, Field(gt=0)] = 250  # reference price before factors, base units per kWh
    price_floor: Annotated[int, Field(ge=0)] = 0
    price_cap: Annotated[int, Field(gt=0)] | None = None
    # the market.price_spike alarm: a product's last trade more than this fraction off the reference price
    price_spike_band: Annotated[float, Field(gt=0, le=100)] = 0.5
    maker: MakerModel = MakerModel()

    @field_validator("journal_url")
    @classmethod
    def _journal_url(cls, v: str | None) -> str | None:
        return HistorianModel._url(v)


class ApiModel(_Strict):
    """[api]: the participant API (FastAPI on the console's loop)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8600
    tls_cert: str | None = None
    tls_key: str | None = None
    participants: str = "participants.toml"  # [[participants]] id, address, token_sha256, suspended
    rate_per_s: Annotated[float, Field(gt=0)] = 50.0  # per participant, token bucket
    burst: Annotated[int, Field(ge=1)] = 100
    max_body_bytes: Annotated[int, Field(ge=256, le=1_048_576)] = 16_384
    # EIP-712 domain chain id orders are signed for; default: [chain]'s deployment's (the connected chain's), else 31337
    chain_id: Annotated[int, Field(ge=1, lt=2**63)] | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiModel:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("api.tls_cert and api.tls_key go together: give both or neither")
        return self


class ReportScheduleModel(_Strict):
    """[[reports]]: a report written after each day, week or month into a folder that keeps the newest N."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["all", "stability", "production", "savings", "carbon", "efficiency"] = "all"
    every: Literal["daily", "weekly", "monthly"]
    format: Literal["pdf", "xlsx", "csv"] = "pdf"
    folder: Annotated[str, Field(min_length=1)]
    keep: Annotated[int, Field(ge=1, le=10_000)] = 12


class BandsModel(_Strict):
    frequency: FrequencyBandsModel = FrequencyBandsModel()
    voltage: VoltageBandsModel = VoltageBandsModel()


class FileModel(_Strict):
    console: ConsoleModel = ConsoleModel()
    bands: BandsModel = BandsModel()
    historian: HistorianModel = HistorianModel()
    chain: ChainModel = ChainModel()
    market: MarketModel = MarketModel()
    api: ApiModel = ApiModel()
    sources: list[SourceModel] = []
    modbus: list[ModbusDeviceModel] = []
    alarms: list[dict[str, Any]] = []  # raw [[alarms]] tables: core.alarms.load_alarms validates them
    reports: list[ReportScheduleModel] = []

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
    user: str | None = None  # [console] user: the acting operator until a login dialog exists
    idle_lock_s: float = 900.0


@dataclass(frozen=True, slots=True)
class HistorianSettings:
    enabled: bool
    url: str | None
    spool: str | None
    batch_rows: int
    flush_s: float
    heartbeat_s: float
    maintain_every_s: float
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
class MakerSettings:
    enabled: bool = False
    participant: str = "grid-maker"
    feed_in_tariff: int = 80
    retail_tariff: int = 320
    size_wh: int = 10_000
    products: int = 8
    every_s: float = 5.0
    keystore: Path = Path("deployments/31337-grid-maker.keystore.json")
    password_env: str = "ENERGYNET_KEYSTORE_PASSWORD"


@dataclass(frozen=True, slots=True)
class MarketSettings:
    enabled: bool = False
    journal_url: str | None = None
    tick: int = 1
    lot: int = 100
    max_price: int = 10**9
    max_quantity: int = 10**9
    open_horizon_s: int = 24 * 3600
    gate_closure_s: int = 300
    tick_hz: float = 1.0
    base_price: int = 250
    price_floor: int = 0
    price_cap: int | None = None
    price_spike_band: float = 0.5
    maker: MakerSettings = MakerSettings()


@dataclass(frozen=True, slots=True)
class ApiSettings:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8600
    tls_cert: Path | None = None
    tls_key: Path | None = None
    participants: Path = Path("participants.toml")
    rate_per_s: float = 50.0
    burst: int = 100
    max_body_bytes: int = 16_384
    chain_id: int | None = None


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
    market: MarketSettings = MarketSettings()
    api: ApiSettings = ApiSettings()
    alarms: tuple[AlarmDef, ...] = ()
    reports: tuple[ReportSchedule, ...] = ()

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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file (UTF-8): {exc.reason} at byte {exc.start}") from exc
    return parse(text, path)


def parse(text: str, path: Path | None = None) -> Settings:
    """Validate config text; ``path`` only names the file in errors."""
    where = str(path) if path else "<config>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    try:
        model = FileModel.model_validate(raw, context={"config_dir": path.parent if path else None})
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
            msg = f"{msg} (got {_short(err['input'])})"
        lines.append(f"{where}: {loc}: {msg}")
    return "\n".join(lines)


def _short(value: object, limit: int = 80) -> str:
    """``repr`` of a wrong value, cut short: a whole mistyped table is no help in one line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _key_path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """``sources[0].points[2].node`` with ids: ``sources[0 'grid'].points[2 'bus1.v'].node``.

    Entries are labelled by their ``id`` (points: the id run-time messages and
    the historian use, not the display name), else by ``name`` (sources and
    devices, which have no id)."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            label = ""
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict):
                entry = node[key]
                name = entry.get("id") if isinstance(entry.get("id"), str) and entry["id"] else entry.get("name")
                label = f" {name!r}" if isinstance(name, str) and name else ""
            parts[-1:] = [f"{parts[-1]}[{key}{label}]"] if parts else [f"[{key}]"]
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
            kind = PointKind(p.kind)
            unit = unit_for(kind, p.unit)  # checked by PointModel; here for the factor
            # nominal and limits are written in the point's unit; core compares them with SI values
            point = PointDef(
                id=p.id,
                name=p.name or p.id,
                unit=unit.symbol,
                kind=kind,
                nominal=unit.to_si(p.nominal) if p.nominal is not None else math.nan,
                low_limit=unit.to_si(p.low_limit) if p.low_limit is not None else -math.inf,
                high_limit=unit.to_si(p.high_limit) if p.high_limit is not None else math.inf,
                bus=p.bus or (p.name if p.kind == "voltage" else None),
                factor=unit.factor,
                si_unit=unit.quantity.si,
            )
            # The factor to SI folds into the binding once: SI = (raw * scale + offset) * factor,
            # so the driver's one multiply-add already yields SI and nothing converts per sample.
            bindings.append(PointBinding(
                point, p.node, tuple(p.browse_path or ()),
                scale=p.scale * unit.factor, offset=p.offset * unit.factor,
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
            trust_list=_trust_list(src) if src.security_mode != "None" else None,
            username=src.username,
            password=os.environ.get(src.password_env) if src.username else None,
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
            c.title, c.refresh_hz, c.rocof_window_ms / 1000, c.trend_history_s, float(c.trend_window_s),
            c.user, c.idle_lock_s,
        ),
        frequency_bands=FrequencyBands(**fb.model_dump()),
        voltage_bands=VoltageBands(vb.normal_fraction, vb.emergency_fraction),
        sources=tuple(sources),
        historian=HistorianSettings(**model.historian.model_dump()),
        deadbands=tuple((p.id, p.deadband) for src in model.sources for p in src.points if p.deadband > 0),
        modbus=tuple(_modbus(d) for d in model.modbus),
        chain=_chain(model.chain),
        market=_market(model.market),
        api=_api(model.api, path),
        alarms=_alarms(model.alarms, sources, c.rocof_window_ms / 1000),
        reports=_reports(model.reports, path),
    )


def _reports(entries: list[ReportScheduleModel], path: Path | None) -> tuple[ReportSchedule, ...]:
    """The [[reports]] schedules; a relative folder is relative to the config file. Two schedules with one
    name and folder would delete each other's files (keep N), so names are unique."""
    seen: dict[str, int] = {}
    out = []
    for i, r in enumerate(entries):
        if r.name in seen:
            raise ValueError(f"reports[{i} {r.name!r}].name: already used by reports[{seen[r.name]}]; "
                             "give each scheduled report its own name")
        seen[r.name] = i
        folder = Path(r.folder).expanduser()
        if not folder.is_absolute() and path is not None:
            folder = path.parent / folder
        out.append(ReportSchedule(r.name, r.kind, Every(r.every), r.format, str(folder), r.keep))
    return tuple(out)


def _api(a: ApiModel, path: Path | None) -> ApiSettings:
    # Files named in [api] are relative to the config file (like profiles), else to the working directory.
    base = path.parent if path is not None else Path.cwd()

    def resolve(name: str) -> Path:
        p = Path(name).expanduser()
        return p if p.is_absolute() else base / p

    return ApiSettings(a.enabled, a.host, a.port, resolve(a.tls_cert) if a.tls_cert else None,
                       resolve(a.tls_key) if a.tls_key else None, resolve(a.participants), a.rate_per_s, a.burst,
                       a.max_body_bytes, a.chain_id)


def _alarms(entries: list[dict[str, Any]], sources: list[OpcUaSourceSpec],
            rocof_window_s: float = 0.5) -> tuple[AlarmDef, ...]:
    """``[[alarms]]`` → definitions; an error is re-worded with the key path like every other config error.
    A rate alarm on the frequency point uses the ROCOF readout's window unless it names its own."""
    points = [b.point for s in sources for b in s.points]
    windows = {p.id: rocof_window_s for p in points if p.kind is PointKind.FREQUENCY}
    try:
        return load_alarms(entries, {p.id: p.factor for p in points}, windows)
    except AlarmConfigError as exc:
        index = re.match(r"alarms\[(\d+)\]", exc.alarm)
        loc: tuple[int | str, ...] = ("alarms", int(index[1])) if index else ("alarms",)
        field = tuple(p for p in re.split(r"[.\[\]]+", exc.field) if p)  # suppress_when[0] → suppress_when, 0
        path = _key_path({"alarms": entries}, loc + tuple(int(p) if p.isdigit() else p for p in field))
        raise ValueError(f"{path}: {exc.problem}") from None


def _market(m: MarketModel) -> MarketSettings:
    mk = m.maker
    # The keystore path is taken from the working directory, like [chain]'s (`energynet chain up` writes both).
    maker = MakerSettings(mk.enabled, mk.participant, mk.feed_in_tariff, mk.retail_tariff, mk.size_wh, mk.products,
                          mk.every_s, Path(mk.keystore).expanduser(), mk.password_env)
    return MarketSettings(**m.model_dump(exclude={"maker"}), maker=maker)


def _chain(c: ChainModel) -> ChainSettings:
    # Relative paths are taken from the working directory, where `energynet chain up` writes them.
    return ChainSettings(c.enabled, c.rpc, Path(c.deployment).expanduser(), Path(c.keystore).expanduser(),
                         c.password_env, Path(c.outbox).expanduser() if c.outbox else None, c.confirmations,
                         c.publish_status_s)


def _modbus(d: ModbusDeviceModel) -> ModbusDeviceSpec:
    # d.profile is already resolved to its file (ModbusDeviceModel._profile_file), or "sunspec".
    asset = d.asset or ("pv" if d.profile.lower() == "sunspec" else "meter")
    return ModbusDeviceSpec(d.name, d.host, d.port, d.device_id, d.profile, d.timeout_s, d.reconnect_min_s,
                            d.reconnect_max_s, tuple(d.poll.items()), d.rated_power_w, d.consumer_only,
                            d.participant or d.name, asset, d.read_only)


def default_config_path() -> Path:
    """The config shipped in ``resources/`` (drives the demo)."""
    return Path(__file__).resolve().parent.parent / "resources" / "energynet.toml"


def _trust_list(src: SourceModel) -> str:
    """The OPC-UA server trust list of a secured source: as configured, else in the user's data directory."""
    if src.trust_list:
        return str(Path(src.trust_list).expanduser())
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("energynet", appauthor=False)) / "opcua-trust.json")
