"""Style-sheet properties: the theme (resources/theme.qss) colours widgets by properties such as `state`."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def set_style_property(widget: QWidget, name: str, value: str) -> None:
    """Set a property the style sheet matches on, re-polishing only when it changed (a re-polish restyles)."""
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
