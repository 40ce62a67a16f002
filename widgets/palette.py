"""ISA-101 style colours: grey when normal, colour only when abnormal."""

from __future__ import annotations

from core.bands import Band
from core.points import Quality

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

# Distinct greys/blues for several series that are all "normal".
SERIES = ("#c9ccd0", "#8fb3d9", "#a3a8ad", "#7a9cbf", "#d8c9a3", "#9fb7a0", "#b39fc4", "#c4a29f")

STATE_NAMES = ("normal", "alert", "emergency", "stale", "bad", "unknown")


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
