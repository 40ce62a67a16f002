"""Style-sheet properties: the theme (resources/theme.qss) colours widgets by properties such as `state`."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from widgets.palette import STATE_COLOURS


def set_style_property(widget: QWidget, name: str, value: str) -> None:
    """Set a property the style sheet matches on, re-polishing only when it changed (a re-polish restyles)."""
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def show_state(widget: QWidget, state: str) -> None:
    """Colour a status text by its display state (``normal``, ``alert``, ``emergency``, ``stale``...)
    from the palette's one map, bold when not normal; re-styles only on a change."""
    if widget.property("state") == state:
        return
    widget.setProperty("state", state)
    weight = "" if state == "normal" else " font-weight: bold;"
    widget.setStyleSheet(f"color: {STATE_COLOURS[state]};{weight}")
