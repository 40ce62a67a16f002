"""How alarms look everywhere (list, banner): priority by shape, colour and text together (ISA-101:
never colour alone, so a colour-blind operator and a grey-scale printout read the same), and short state
names after ISA-18.2."""

from __future__ import annotations

from core.alarms.definitions import Priority
from core.alarms.state import IsaState

# Shape and text carry the priority; the colour repeats it. Red is kept for the most urgent only.
PRIORITY_GLYPH = {Priority.CRITICAL: "◆", Priority.HIGH: "▲", Priority.MEDIUM: "■", Priority.LOW: "●"}
PRIORITY_TEXT = {Priority.CRITICAL: "CRIT", Priority.HIGH: "HIGH", Priority.MEDIUM: "MED", Priority.LOW: "LOW"}
PRIORITY_COLOUR = {
    Priority.CRITICAL: "#ff4f4a",  # red
    Priority.HIGH: "#ff9a3c",  # orange
    Priority.MEDIUM: "#f2d43a",  # yellow
    Priority.LOW: "#8fb8f0",  # light blue (distinct from the blue-grey of stale data by its shape and text)
}

STATE_TEXT = {
    IsaState.NORMAL: "normal",
    IsaState.UNACK_ACTIVE: "UNACK",
    IsaState.ACKED_ACTIVE: "ACK",
    IsaState.RTN_UNACK: "RTN UNACK",
    IsaState.LATCHED: "LATCHED",
    IsaState.SHELVED: "SHELVED",
    IsaState.SUPPRESSED: "SUPPRESSED",
    IsaState.OUT_OF_SERVICE: "OUT OF SERVICE",
}


def priority_label(p: Priority) -> str:
    """``"▲ HIGH"``: shape and word, so the priority reads without the colour."""
    return f"{PRIORITY_GLYPH[p]} {PRIORITY_TEXT[p]}"
