"""ISA-101 style colours: grey when normal, colour only when abnormal."""

from __future__ import annotations

from collections.abc import Iterable

from core.bands import Band
from core.chain import ChainState
from core.points import Quality
from core.sources import ConnectionState

BACKGROUND = "#2e3236"
PANEL = "#363b40"
GRID = "#4a5056"
TEXT = "#d4d7da"
TEXT_DIM = "#8b9096"
NORMAL_LINE = "#b8bcc0"
BAND_FILL = (120, 126, 132, 28)  # the normal band, barely visible
ALERT = "#f2c12e"  # amber: operator attention
EMERGENCY = "#e8403a"  # red: act now
STALE = "#6fa8dc"  # blue-grey: value is old, not a process state
BAD = "#d05ce3"  # magenta: value cannot be trusted

# Series of one trend that are all "normal": muted, but told apart by hue, by lightness
# (greyscale) and by dash pattern (SERIES_DASHES, same index). None of them is near the
# state colours (amber, red, blue-grey stale, magenta bad), so a trace never reads as an alarm.
SERIES = ("#d4d7da", "#3fa396", "#dcb58e", "#b58fb0", "#86a552", "#8a9096", "#c4c8cc", "#b7a07e")
# Qt dash patterns (dash, gap, ... in pen widths); () = solid.
SERIES_DASHES: tuple[tuple[float, ...], ...] = (
    (), (7.0, 3.0), (1.5, 2.5), (7.0, 2.5, 1.5, 2.5), (3.5, 3.5), (11.0, 3.0, 1.5, 3.0, 1.5, 3.0),
    (1.5, 5.0), (14.0, 4.0),
)

STATE_NAMES = ("normal", "alert", "emergency", "stale", "bad", "unknown")

# The colour of each display state, as text on the dark background (status bar, cards).
STATE_COLOURS = {
    "normal": "#a9aeb3",
    "alert": ALERT,
    "emergency": "#ff6a63",  # EMERGENCY, lightened to be legible as text on the dark bar
    "stale": STALE,
    "bad": BAD,
    "unknown": TEXT_DIM,
}


# ---- data sources: one map for every screen ----------------------------------------------------

SOURCE_STATES = {
    ConnectionState.CONNECTED: "normal",
    ConnectionState.CONNECTING: "stale",  # nothing wrong yet, but no fresh data either
    ConnectionState.DEGRADED: "alert",  # connected, some points missing
    ConnectionState.DISCONNECTED: "emergency",  # the operator is blind on this source
    ConnectionState.STOPPED: "stale",  # switched off on purpose: old data, not a fault
}


# The chain connection (core.chain.ChainState) in the same colours as a data source.
CHAIN_STATES = {ChainState.UP: "normal", ChainState.CONNECTING: "stale", ChainState.DOWN: "emergency",
                ChainState.DIFFERENT_CHAIN: "alert"}


def source_state(state: ConnectionState | ChainState) -> str:
    """The display state (``normal``, ``alert``, ``emergency``, ``stale``) of a connection."""
    if isinstance(state, ChainState):
        return CHAIN_STATES[state]
    return SOURCE_STATES[state]


def state_colour(state: ConnectionState | ChainState) -> str:
    """The one colour of a connection state, on every screen (status bar, tables, chain tab)."""
    return STATE_COLOURS[source_state(state)]


def combined_state(states: Iterable[ConnectionState]) -> ConnectionState:
    """Several sources shown as one (``Modbus 20/23``): all connected → connected, none → disconnected,
    some → degraded (part of the picture missing, as a source with failed points)."""
    listed = list(states)
    ok = sum(s is ConnectionState.CONNECTED for s in listed)
    if listed and ok == len(listed):
        return ConnectionState.CONNECTED
    if ok == 0 and any(s is ConnectionState.DISCONNECTED for s in listed):
        return ConnectionState.DISCONNECTED
    if ok == 0:
        return ConnectionState.CONNECTING if any(s is ConnectionState.CONNECTING for s in listed) else (
            ConnectionState.STOPPED if listed else ConnectionState.CONNECTING)
    return ConnectionState.DEGRADED


def state_of(quality: Quality, band: Band) -> str:
    """The one display state of a value: quality problems win over bands."""
    if quality in (Quality.BAD, Quality.COMM_FAILURE):
        return "bad"
    if quality is Quality.STALE:
        return "stale"
    if band is Band.EMERGENCY:
        return "emergency"
    if band is Band.ALERT:
        return "alert"
    if band is Band.UNKNOWN:
        return "unknown"
    return "normal"
