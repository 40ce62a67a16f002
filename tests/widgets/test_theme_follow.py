"""The light theme reads, and screens follow a theme switch in what they draw afterwards.

The contrast figures are WCAG 2 relative-luminance ratios, worked by hand for the two colours the alarm
banner depends on most."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.alarms import AlarmState, Priority
from core.alarms.flood import FloodStatus
from tests.widgets.test_alarm_widgets import HIGH_UNACK, LOW_UNACK, snapshot, utc, view
from widgets import alarm_style, palette, theme
from widgets.alarm_banner import AlarmBanner
from widgets.alarm_table import STATE, AlarmTable


@pytest.fixture(autouse=True)
def dark_after() -> Iterator[None]:
    yield
    theme.apply(theme.DARK)  # the theme is the application's: leave it as the other tests expect it


def test_wcag_contrast_by_hand() -> None:
    # black on white: (1 + 0.05) / (0 + 0.05) = 21
    assert theme.contrast("#000000", "#ffffff") == pytest.approx(21.0)
    # #c8cbce: 0xc8/255 = 0.784 -> ((0.784 + 0.055) / 1.055) ** 2.4 = 0.578; 0xcb -> 0.597; 0xce -> 0.617
    # L = 0.2126 * 0.578 + 0.7152 * 0.597 + 0.0722 * 0.617 = 0.594
    assert theme.luminance("#c8cbce") == pytest.approx(0.594, abs=0.002)


def test_every_signal_colour_reads_on_the_darkest_light_surface() -> None:
    """Amber at a fixed lightness (#ad840b) was 2.1:1 on the banner's light grey: (0.594 + 0.05) /
    (0.254 + 0.05). Each alarm, state and series colour now reaches 3:1 there, hue kept."""
    assert theme.contrast("#ad840b", theme.LIGHT_SURFACE) == pytest.approx(2.12, abs=0.02)
    signals = [palette.ALERT, palette.EMERGENCY, palette.STALE, palette.BAD, *alarm_style.PRIORITY_COLOUR.values(),
               *palette.SERIES[1:]]
    for colour in signals:
        assert theme.contrast(theme.light(colour), theme.LIGHT_SURFACE) >= 3.0, colour
    # the text grey is mirrored, not darkened step by step: #d4d7da (lightness 0.843) -> lightness 0.157
    assert theme.light(palette.TEXT) == "#25282b"


def test_a_late_widget_keeps_the_light_colours_it_read() -> None:
    """A screen built while light shows reads light palette colours and has dark ones written in code; the
    recolouring for it maps the dark ones and leaves the light ones (mirroring them again made text light
    on light)."""
    text_light = theme.light(palette.TEXT)
    assert theme.to_light(text_light) == text_light
    assert theme.to_light("#d4d7da") == text_light
    assert theme.to_light(theme.light("#f2c12e")) == theme.light("#f2c12e")


def test_a_light_colour_mirrored_again_does_not_redefine_the_dark_text() -> None:
    """A pen already light ('#25282b', the light text) recoloured to light once more comes out as '#d4d7da',
    which is the dark theme's text: that must not make '#d4d7da' read as a light-derived colour afterwards
    (the full suite failed on this order: a plot built in light, then the light theme applied again)."""
    assert theme.light("#25282b") == "#d4d7da"
    assert theme.dark("#d4d7da") == "#d4d7da"
    assert theme.to_light("#d4d7da") == "#25282b"


def test_banner_built_and_drawn_in_light_uses_the_light_colours(qtbot) -> None:  # type: ignore[no-untyped-def]
    theme.apply(theme.LIGHT, [])
    banner = AlarmBanner(fmt_time=utc)
    qtbot.addWidget(banner)
    banner.show_snapshot(snapshot(HIGH_UNACK, LOW_UNACK, floods=(FloodStatus("main", 14, True, 1000.0, "l"),)))
    amber = theme.light("#f2c12e")
    assert banner.flood.text() == "FLOOD main 14/10 min" and f"color: {amber}" in banner.flood.styleSheet()
    assert banner.horn.text() == "HORN ON" and f"color: {amber}" in banner.horn.styleSheet()
    assert theme.LIGHT_SURFACE in banner.styleSheet()  # the banner's own background, light too
    assert f"color: {theme.light('#ff9a3c')}" in banner.counts[Priority.HIGH].styleSheet()


def test_alarm_rows_drawn_in_dark_are_drawn_again_in_light(qtbot) -> None:  # type: ignore[no-untyped-def]
    table = AlarmTable(fmt_time=utc)
    qtbot.addWidget(table)
    rows = [HIGH_UNACK, LOW_UNACK]
    table.show_alarms(rows)
    assert table.colour(0, STATE) == "#ff9a3c"  # high priority, unacknowledged: orange on the dark theme
    theme.apply(theme.LIGHT, [table])
    table.show_alarms(rows)  # the same views: nothing changed but the theme
    assert table.colour(0, STATE) == theme.light("#ff9a3c") == "#b25600"
    acked = view(HIGH_UNACK.id, Priority.HIGH, AlarmState(active=True, acked=True, active_since=1100.0), 50.25)
    table.show_alarms([acked, LOW_UNACK])
    assert table.colour(0, STATE) == "#b25600"  # acknowledged: still the priority colour, plain
