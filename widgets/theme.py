"""The two ISA-101 themes, dark and light, and switching between them while the window is open.

The dark theme is the one written out (resources/theme.qss, widgets/palette.py, the colours the screens
set in code). The light theme is *derived* from it, colour by colour, by one rule (:func:`light`):

* greys and dark tinted backgrounds swap lightness (a dark panel becomes a light one, light text dark),
  so every contrast the dark theme has, the light one has the other way round;
* signal colours (amber alert, red emergency, blue stale, magenta bad, the alarm priorities, the trend
  series) keep their hue and saturation and are darkened until they read on light grey: the same colour
  means the same thing in both themes, only its lightness differs.

Deriving instead of keeping a second list means a colour another screen adds later has a light twin at
once; the few colours the rule gets wrong for the eye are fixed in ``LIGHT_OVERRIDES``.

Switching (:func:`apply`) replaces the application style sheet, updates widgets.palette's values (code
that reads ``palette.NAME`` when it draws follows at once; the dicts are updated in place so importers of
``STATE_COLOURS`` / ``PRIORITY_COLOUR`` follow too) and recolours what the screens already set in code:
widget style sheets, pyqtgraph backgrounds, axes, curves, lines, regions, bars and titles
(:func:`recolour`).
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QApplication, QTableWidget, QWidget

from widgets import alarm_style, palette

DARK, LIGHT = "dark", "light"
THEMES = (DARK, LIGHT)

# Where the rule's result is not what an operator should see.
LIGHT_OVERRIDES = {
    "#2e3236": "#d4d6d9",  # the window: a calm mid-light grey (ISA-101), not near-white
    "#363b40": "#e3e5e7",  # raised panels (readouts, event card) a little lighter than the window
    "#25292c": "#c8cbce",  # status bar, inputs: a little darker than the window
    "#1e2124": "#e8e9eb",  # plot backgrounds: light, the traces dark on them
    "#1f2225": "#f4f4f0",  # tooltips
    "#ffffff": "#000000",  # an overridden value's white text
    "#f2f3f4": "#101214",
}

_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")
_current = DARK
_to_dark: dict[str, str] = {}  # light → dark, filled as light() derives, to switch back


# A signal colour must reach WCAG's 3:1 (bold text, lines, UI parts) on the darkest light surface (the
# status bar and alarm banner): a fixed lightness left amber at 2.1:1 there, so FLOOD and HORN ON could not
# be read.
LIGHT_SURFACE = "#c8cbce"
SIGNAL_CONTRAST = 3.0


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in rgb))


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    def linear(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _readable_on_light(h: float, lum: float, s: float) -> str:
    out = _hex(colorsys.hls_to_rgb(h, lum, s))
    while contrast(out, LIGHT_SURFACE) < SIGNAL_CONTRAST and lum > 0.1:
        lum -= 0.01  # same hue and saturation, a little darker
        out = _hex(colorsys.hls_to_rgb(h, lum, s))
    return out


def light(dark_hex: str) -> str:
    """The light theme's twin of a dark-theme colour ``#rrggbb`` (lower case)."""
    key = dark_hex.lower()
    if key in LIGHT_OVERRIDES:
        out = LIGHT_OVERRIDES[key]
    else:
        r, g, b = (int(key[i:i + 2], 16) / 255 for i in (1, 3, 5))
        h, lum, s = colorsys.rgb_to_hls(r, g, b)
        if s >= 0.3 and lum >= 0.35:  # a signal colour: same hue, dark enough to read on light grey
            out = _readable_on_light(h, min(lum, 0.36), max(s, 0.6))
        else:  # a grey or a dark tinted background: mirror the lightness
            out = _hex(colorsys.hls_to_rgb(h, 1.0 - lum, s))
    if out not in _DARK_VALUES:  # a dark palette colour stays itself in dark(): '#d4d7da' is the dark text
        _to_dark.setdefault(out, key)  # and also the light twin of '#25282b', the light text mirrored again
    return out


def dark(light_hex: str) -> str:
    """The dark colour a light-theme colour was derived from (itself when it was not derived)."""
    return _to_dark.get(light_hex.lower(), light_hex.lower())


def current() -> str:
    return _current


def shown(dark_hex: str) -> str:
    """A dark-theme colour as the theme shown now draws it (for style sheets built after a switch)."""
    return light(dark_hex) if _current == LIGHT else dark_hex.lower()


def to_light(colour: str) -> str:
    """For a widget built while the light theme shows: its hard-coded dark colours become light, and
    the palette colours it read (light already) stay as they are instead of being mirrored back."""
    return light(dark(colour))


def mapper(theme: str) -> Callable[[str], str]:
    """The colour map from the theme shown now to ``theme`` (identity when they are the same)."""
    if theme == _current:
        return lambda c: c.lower()
    return light if theme == LIGHT else dark


def remap_text(text: str, to: Callable[[str], str]) -> str:
    """Every ``#rrggbb`` in a style sheet or an HTML title replaced by its twin."""
    return _HEX.sub(lambda m: to(m.group(0)), text)


def style_sheet(theme: str) -> str:
    """The application style sheet of ``theme``: resources/theme.qss, derived for the light theme."""
    qss = resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8")
    return qss if theme == DARK else remap_text(qss, light)


# The palette's dark values, kept to derive from whichever theme is shown.
_PALETTE_NAMES = ("BACKGROUND", "PANEL", "GRID", "TEXT", "TEXT_DIM", "NORMAL_LINE", "ALERT", "EMERGENCY",
                  "STALE", "BAD")
_DARK_PALETTE = {name: getattr(palette, name) for name in _PALETTE_NAMES}
_DARK_SERIES = tuple(palette.SERIES)
_DARK_STATES = dict(palette.STATE_COLOURS)
_DARK_PRIORITY = dict(alarm_style.PRIORITY_COLOUR)
_DARK_VALUES = frozenset(c.lower() for c in (*_DARK_PALETTE.values(), *_DARK_SERIES, *_DARK_STATES.values(),
                                             *_DARK_PRIORITY.values()))


def _set_palette(theme: str) -> None:
    to = (lambda c: c) if theme == DARK else light
    for name, value in _DARK_PALETTE.items():
        setattr(palette, name, to(value))
    palette.SERIES = tuple(to(c) for c in _DARK_SERIES)  # type: ignore[assignment]  # same length
    palette.STATE_COLOURS.update({k: to(v) for k, v in _DARK_STATES.items()})
    alarm_style.PRIORITY_COLOUR.update({k: to(v) for k, v in _DARK_PRIORITY.items()})


def apply(theme: str, roots: Iterable[QWidget] = ()) -> None:
    """Show ``theme``: the application style sheet, the palette, and the colours already set in code
    under ``roots`` (every top-level widget when none are given)."""
    global _current
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}: use one of {', '.join(THEMES)}")
    app = QApplication.instance()
    to = mapper(theme)
    widgets = list(roots) or (list(app.topLevelWidgets()) if isinstance(app, QApplication) else [])
    if theme != _current:
        for root in widgets:
            recolour(root, to)
    _current = theme
    _set_palette(theme)
    pg.setConfigOption("background", palette.BACKGROUND)
    pg.setConfigOption("foreground", palette.TEXT_DIM)
    if isinstance(app, QApplication):
        app.setStyleSheet(style_sheet(theme))


def recolour(root: QWidget, to: Callable[[str], str]) -> None:
    """Recolour ``root`` and its children: their own style sheets and their plots."""
    for w in [root, *root.findChildren(QWidget)]:
        sheet = w.styleSheet()
        if sheet and _HEX.search(sheet):
            w.setStyleSheet(remap_text(sheet, to))
        if isinstance(w, pg.PlotWidget):
            _recolour_plot(w, to)
        elif isinstance(w, QTableWidget):
            _recolour_cells(w, to)


def _recolour_cells(table: QTableWidget, to: Callable[[str], str]) -> None:
    """The text colour written into each cell: a table that writes a cell only when its text or state
    changes (widgets/market_cells.py) kept the dark theme's light grey on the light background."""
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            item = table.item(r, c)
            if item is not None and item.foreground().style() != Qt.BrushStyle.NoBrush:
                item.setForeground(_brush(item.foreground(), to))


def _colour(c: QColor, to: Callable[[str], str]) -> QColor:
    out = QColor(to(c.name()))
    out.setAlpha(c.alpha())
    return out


def _pen(pen: QPen, to: Callable[[str], str]) -> QPen:
    out = QPen(pen)
    out.setColor(_colour(pen.color(), to))
    return out


def _brush(brush: QBrush, to: Callable[[str], str]) -> QBrush:
    out = QBrush(brush)
    out.setColor(_colour(brush.color(), to))
    return out


def _recolour_plot(plot: pg.PlotWidget, to: Callable[[str], str]) -> None:
    plot.setBackground(_colour(plot.backgroundBrush().color(), to))
    item = plot.getPlotItem()
    for axis in (item.getAxis(n) for n in ("left", "bottom", "right", "top")):
        axis.setPen(_pen(axis.pen(), to))
        axis.setTextPen(_pen(axis.textPen(), to))
    title = item.titleLabel
    if title.text:
        colour = title.opts.get("color")
        if colour is not None:
            title.opts["color"] = _colour(pg.mkColor(colour), to)
        title.setText(remap_text(title.text, to))
    seen: set[int] = set()  # a curve is in both lists: recoloured twice it would be mapped back
    for child in item.items + list(item.getViewBox().addedItems):
        if id(child) not in seen:
            seen.add(id(child))
            _recolour_item(child, to)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(_colour(pg.mkColor(legend.opts["labelTextColor"] or palette.TEXT), to))
        if legend.opts.get("brush") is not None:
            legend.setBrush(_brush(pg.mkBrush(legend.opts["brush"]), to))


def _recolour_item(item: Any, to: Callable[[str], str]) -> None:
    if isinstance(item, pg.PlotDataItem):
        pen = item.opts.get("pen")
        if pen is not None:
            item.setPen(_pen(pg.mkPen(pen), to))
        brush = item.opts.get("fillBrush")
        if brush is not None:
            item.setFillBrush(_brush(pg.mkBrush(brush), to))
    elif isinstance(item, pg.PlotCurveItem):
        item.setPen(_pen(pg.mkPen(item.opts["pen"]), to))
    elif isinstance(item, pg.InfiniteLine):
        item.setPen(_pen(item.pen, to))
    elif isinstance(item, pg.LinearRegionItem):
        item.setBrush(_brush(item.brush, to))
    elif isinstance(item, pg.BarGraphItem):
        opts = {k: item.opts[k] for k in ("brush", "pen") if item.opts.get(k) is not None}
        if "brush" in opts and not isinstance(opts["brush"], list | tuple):
            opts["brush"] = _brush(pg.mkBrush(opts["brush"]), to)
        if "pen" in opts and not isinstance(opts["pen"], list | tuple):
            opts["pen"] = _pen(pg.mkPen(opts["pen"]), to)
        item.setOpts(**opts)
    elif isinstance(item, pg.TextItem):
        item.setColor(_colour(item.color, to))
        if item.fill is not None:
            item.fill = _brush(item.fill, to)
            item.update()
