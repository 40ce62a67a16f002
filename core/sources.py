"""Where points come from: data-source specs and their live health.

These are plain values built by the console's config loader and consumed by
drivers, so neither has to know the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from core.points import PointDef


class SecurityMode(enum.Enum):
    """OPC-UA message security mode."""

    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


@dataclass(frozen=True, slots=True)
class PointBinding:
    """How to find one point on a server: a node id or a browse path."""

    point: PointDef
    node_id: str | None = None
    browse_path: tuple[str, ...] = ()
    scale: float = 1.0  # engineering value = raw * scale + offset (a server in mHz or kV)
    offset: float = 0.0

    @property
    def address(self) -> str:
        """The node id or the browse path as written in the config."""
        return self.node_id if self.node_id is not None else "/".join(self.browse_path)


@dataclass(frozen=True, slots=True)
class OpcUaSourceSpec:
    """One OPC-UA endpoint and the points read from it."""

    name: str
    endpoint: str
    points: tuple[PointBinding, ...]
    security_mode: SecurityMode = SecurityMode.NONE
    security_policy: str = "None"
    certificate: str | None = None
    private_key: str | None = None
    application_uri: str = "urn:energynet:console"  # must match the URI in the client certificate
    publishing_interval_ms: float = 100.0
    sampling_interval_ms: float = 50.0
    request_timeout_s: float = 2.0
    watchdog_interval_s: float = 0.5
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    # Secured sources: the server certificate trust list (JSON; None: trust what the server offers — tests and
    # unsecured sources only) and the user identity (None: anonymous). The password never shows in a repr.
    trust_list: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)


# A meter's plausibility bound when its configuration names no rating (3 × 35 A at 230 V, core.tamper): not a
# device's rating, so the screens and the hub tell it apart from a configured one.
DEFAULT_RATED_POWER_W = 25_000.0


@dataclass(frozen=True, slots=True)
class ModbusDeviceSpec:
    """One Modbus TCP device: where it is and which profile decodes it.

    ``profile`` is a profile file (see docs/modbus-profiles.md) or ``"sunspec"``
    to discover the SunSpec models on the device.
    """

    name: str
    host: str
    port: int
    device_id: int
    profile: str
    timeout_s: float = 1.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    poll_overrides: tuple[tuple[str, float], ...] = ()  # (poll group, interval s)
    rated_power_w: float = DEFAULT_RATED_POWER_W  # plausibility: the most energy the meter can count per hour
    consumer_only: bool = False  # plausibility: negative power means a reversed CT
    participant: str = ""  # the market participant (house, farm) the device belongs to; "" = its own name
    asset: str = ""  # meter | pv | wind | battery; "" = pv for SunSpec, else meter
    read_only: bool = False  # takes no setpoints (the simulated world's summed background devices)

    @property
    def kind(self) -> str:
        """What the device is: meter, pv, wind or battery."""
        return self.asset or ("pv" if self.profile.lower() == "sunspec" else "meter")

    @property
    def owner(self) -> str:
        """The participant the device belongs to."""
        return self.participant or self.name


class ConnectionState(enum.Enum):
    """Connection state of one data source."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DEGRADED = "degraded"  # connected, but some points failed to resolve
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PointFault:
    """A point a source could not serve, and why."""

    point: str
    address: str
    message: str


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Health of one source, reported by its driver on every change."""

    source: str
    endpoint: str
    state: ConnectionState
    since: float
    last_error: str | None = None
    reconnects: int = 0
    next_retry_s: float | None = None  # the backoff delay chosen when the source was lost (s)
    faults: tuple[PointFault, ...] = ()
    reads_ok: int = 0
    reads_failed: int = 0
    latency_ms: float | None = None
    # When the next reconnect attempt is due (POSIX s, the driver's clock); None while connected or
    # connecting. The attempt comes earlier if the endpoint's port opens again (drivers probe it).
    retry_at: float | None = None

    def retry_in_s(self, now: float) -> float | None:
        """Seconds until the next reconnect attempt (0 when due), for a live countdown; None if none is due."""
        return None if self.retry_at is None else max(0.0, self.retry_at - now)
