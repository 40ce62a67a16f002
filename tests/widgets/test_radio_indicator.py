"""The command dialogs' checked radio button is a ring with a dot, the size of an unchecked one (its 3 px
border once made it an 18 px rounded square beside 14 px circles, and moved its label)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QDialog, QRadioButton, QVBoxLayout

from widgets import theme

pytestmark = pytest.mark.widgets


def light_runs(qtbot, checked: bool, which: str) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """The runs of light pixels (luminance > 0.55 on the dark theme, < 0.35 dark-on-light in the light one)
    along the indicator's middle row."""
    app = QApplication.instance()
    before = app.styleSheet()  # type: ignore[union-attr]
    app.setStyleSheet(theme.style_sheet(which))  # type: ignore[union-attr]
    try:
        dialog = QDialog()
        dialog.setObjectName("commandDialog")
        qtbot.addWidget(dialog)
        radio = QRadioButton("Discharge at a rate")
        QVBoxLayout(dialog).addWidget(radio)
        radio.setChecked(checked)
        dialog.show()
        qtbot.waitExposed(dialog)
        img = radio.grab().toImage()
    finally:
        app.setStyleSheet(before)  # type: ignore[union-attr]
    y = img.height() // 2
    runs: list[tuple[int, int]] = []
    start = None
    for x in range(min(img.width(), 16)):  # the indicator (14 px) and a margin, not the label
        c = img.pixelColor(x, y)
        lum = (0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF())
        mark = lum > 0.55 if which == theme.DARK else lum < 0.35
        if mark and start is None:
            start = x
        elif not mark and start is not None:
            runs.append((start, x))
            start = None
    return runs


@pytest.mark.parametrize("which", [theme.DARK, theme.LIGHT])
def test_a_checked_radio_is_a_ring_around_a_dot(qtbot, which: str) -> None:  # type: ignore[no-untyped-def]
    # 12 px + 1 px border = 14 px: border, dark ring, the dot (the inner 50 % of the radius: ~6 px), dark ring,
    # border — three light runs, the middle one the widest; a filled square would be one run.
    runs = light_runs(qtbot, True, which)
    assert len(runs) == 3, runs
    (a0, a1), (d0, d1), (b0, b1) = runs
    assert d1 - d0 > a1 - a0 and d1 - d0 > b1 - b0
    assert b1 - a0 <= 15  # the ring's outer width: no wider than an unchecked one (14 px)
