"""No text clipped at 1366 x 768, in the dark and the light theme, and at 200 % (QT_SCALE_FACTOR=2, the same
logical window on a 2732 x 1536 screen): labels (plain and rich text; an eliding label that has to elide),
buttons, table header sections and table cells, nor a column scrolled out of sight (tests/support/clipping.py),
on the real main window with a real market (SQLite journal) that has orders from several accounts and trades,
islanded (the emergency band above every tab, the balancing panel beside the grid's readouts) and every
readout showing the widest figure it shows in the demo.

The header check by hand first: a section is cut when it is narrower than the font's advance of its label
plus the header margin (2 px either side) and the style sheet's padding and border
(``QHeaderView::section { padding: 2px 6px; border-right: 1px }``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QStyle, QTableWidget

from console.services.balancing import BalancingService
from console.services.commands import CommandService
from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from core.access import Role, User
from core.bands import Band
from core.market import MarketRules, OrderSpec, PricingConfig, Side
from core.points import Quality, Sample
from tests.support.clipping import clipped, header_clipped, table_clipped
from tests.widgets.test_market_view import NOW, PRODUCT, Clock, Ledger
from widgets import theme
from widgets.readout import Readout

pytestmark = pytest.mark.widgets

WIDTH, HEIGHT = 1366, 768
SCALED = "ENERGYNET_TEST_SCALED"  # set in the child process that runs at 200 %


@pytest.fixture(autouse=True)
def dark_after() -> Iterator[None]:
    yield
    theme.apply(theme.DARK)  # the theme is the application's: leave it as the other tests expect it


def test_a_header_section_narrower_than_its_label_is_found(qtbot) -> None:  # type: ignore[no-untyped-def]
    theme.apply(theme.DARK)  # the console's style sheet: the header padding is part of the measure
    t = QTableWidget(1, 2)
    qtbot.addWidget(t)
    t.setObjectName("probe")
    t.setHorizontalHeaderLabels(["Delivery", "Side"])
    t.resize(400, 200)
    t.show()
    QApplication.processEvents()
    header = t.horizontalHeader()
    label = header.fontMetrics().horizontalAdvance("Delivery")
    margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    assert margin == 2  # the header's own margin inside the padding, either side of the text
    need = label + 2 * margin + 2 * 6 + 1  # + 6 px padding either side, + the 1 px border on the right
    header.resizeSection(0, need)
    assert header_clipped(header, "probe") == []
    header.resizeSection(0, need - 4)  # "eliver": what the open-orders table showed at 1366 x 768
    assert header_clipped(header, "probe") == [f"probe header 'Delivery': needs {need} px, has {need - 4}"]


def test_a_cell_narrower_than_its_text_is_found(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QTableWidgetItem

    theme.apply(theme.DARK)
    t = QTableWidget(1, 1)
    qtbot.addWidget(t)
    t.setObjectName("probe")
    t.horizontalHeader().setVisible(False)
    t.verticalHeader().setVisible(False)
    t.setItem(0, 0, QTableWidgetItem("15:45–16:00"))
    t.resize(400, 100)
    t.show()
    t.resizeColumnsToContents()
    QApplication.processEvents()
    assert table_clipped(t) == []
    t.setColumnWidth(0, t.fontMetrics().horizontalAdvance("15:45"))
    assert [p.split(":")[0] for p in table_clipped(t)] == ["probe cells of '1' (e.g. '15"]


def test_a_rich_text_label_narrower_than_its_text_is_found(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A readout's value is rich text (the unit in a smaller span): the islanded screen showed "-0.002 Hz."
    for "-0.002 Hz/s" and the check, measuring plain labels only, passed it."""
    from PySide6.QtGui import QFont, QFontInfo
    from PySide6.QtWidgets import QLabel

    font = QFont("DejaVu Sans Mono")
    font.setPixelSize(20)
    if QFontInfo(font).family() != "DejaVu Sans Mono":
        pytest.skip("DejaVu Sans Mono is not installed")
    label = QLabel("-0.002 <span style='font-size:10px'>Hz/s</span>")
    qtbot.addWidget(label)
    # as the theme styles a readout's value (the application's style sheet would override a setFont)
    label.setStyleSheet("QLabel { font-family: 'DejaVu Sans Mono'; font-size: 20px; padding: 0; border: 0; }")
    # DejaVu Sans Mono advances 1233/2048 em: 12.04 px at 20 px, 6.02 px at 10 px; 7 × 12.04 + 4 × 6.02 =
    # 108.36 px, laid out at sub-pixel advances: 109 px
    label.setFixedWidth(109)
    label.show()
    QApplication.processEvents()
    assert clipped(label) == []
    label.setFixedWidth(84 + 12)  # the number and the space (7 × 12 px) and two letters: "-0.002 Hz"
    QApplication.processEvents()
    assert clipped(label) == ["label \"-0.002 <span style='font-size:10px'>Hz/s</span>\": needs 109 px, has 96"]


@pytest.fixture
async def busy_market(tmp_path: Path) -> AsyncIterator[MarketService]:
    """Four products with a book from six accounts and some trades (as tests/e2e/market_screenshots.py)."""
    service = MarketService(MarketRules(tick=1, lot=100), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.db'}"),
                            clock=Clock(NOW), pricing=PricingConfig(base=250),
                            settlement=Ledger())  # type: ignore[arg-type]  # the port as test_market_view's
    await service.start()
    accounts = ("house-01", "house-02", "house-03", "house-04", "school", "grid-maker")
    n = 0
    for k in range(4):
        product = PRODUCT + 900 * k
        for i, who in enumerate(accounts):
            for j in range(3):
                n += 1
                side = Side.BUY if (i + j) % 2 else Side.SELL
                px = 250 + 6 * k + (-(j + 1) if side is Side.BUY else j + 2)
                await service.submit(OrderSpec(f"shot-{n}", who, product, side, (12 + 7 * j) * 100, px))
    for i, who in enumerate(accounts[:5]):  # takers: trades on the tape
        await service.submit(OrderSpec(f"take-{i}", who, PRODUCT, Side.BUY if i % 2 else Side.SELL,
                                       (3 + i) * 100, 260 if i % 2 else 240))
    try:
        yield service
    finally:
        await service.stop()


# The widest figure a readout shows in the demo, by its decimals: a sign and three digits of kW ("-208.7 kW"
# grid exchange), a ROCOF of a few Hz/s ("-1.250 Hz/s"; the frequency "49.898 Hz" is as wide), a count.
WIDEST = {0: 888, 1: -888.8, 3: -8.888}


def islanded_balancing() -> BalancingService:
    """The balancing service after an island: breaker open at 49.70 Hz, stage 1 shed, the battery forming
    the grid (the emergency band above every tab, the balancing panel beside the grid's readouts)."""
    service = BalancingService(CommandService(None, None, user=User("op-1", Role.OPERATOR)), write=None)
    t = 1_782_086_400.0
    service.on_samples([Sample(point, value, "", Quality.GOOD, t, t) for point, value in (
        ("breaker.main", 0.0), ("grid.frequency", 49.70), ("grid.rocof", -1.25), ("ufls.stages", 1.0),
        ("community_battery.soc", 50.0), ("community_battery.power", 37_400.0), ("grid.import", 0.0),
        ("grid.demand", 126_100.0), ("grid.supply", 88_700.0))])
    return service


async def _window_problems(qtbot, market: MarketService, name: str,  # type: ignore[no-untyped-def]
                           size: tuple[int, int] = (WIDTH, HEIGHT)) -> list[str]:
    from console.bootstrap import build_acquisition
    from console.bootstrap_demo import DEMO_CONFIG
    from console.config import load
    from console.services.loop_monitor import LoopMonitor
    from console.ui.main_window import MainWindow

    theme.apply(theme.DARK)
    settings = load(DEMO_CONFIG)  # the demo's community: eleven feeder buses, 69 field devices
    win = MainWindow(settings, build_acquisition(settings), LoopMonitor(), market=market,
                     balancing=islanded_balancing())
    qtbot.addWidget(win)
    win.timer.stop()
    assert win.balancing is not None
    win.balancing.timer.stop()
    win.balancing.refresh()  # the emergency panel above every screen, the balancing panel on the grid tab
    win.layout_menus.set_theme(name)
    win.resize(*size)
    win.show()
    problems = []
    for i in range(win.tabs.count()):
        win.tabs.setCurrentIndex(i)
        for _ in range(3):
            win.frames = 0
            win.refresh()
            QApplication.processEvents()
        for r in win.findChildren(Readout):  # without a world the readouts show "—": the widest figures
            r.set_value(WIDEST.get(r.decimals, -888.8), Quality.GOOD, Band.NORMAL)
        QApplication.processEvents()
        key = win.tabs.tabText(i).split("(")[0].strip()
        problems += [f"{name} {key}: {p}" for p in clipped(win)]
    assert (win.width(), win.height()) == size
    return problems


@pytest.mark.parametrize("name", theme.THEMES)
async def test_no_table_header_or_cell_is_cut_at_1366x768(qtbot, busy_market: MarketService, name: str) -> None:  # type: ignore[no-untyped-def]
    problems = await _window_problems(qtbot, busy_market, name)
    assert problems == [], "\n".join(problems)  # nor a column out of sight (a table scrolled sideways)


@pytest.mark.skipif(bool(os.environ.get(SCALED)), reason="the child process at 200 % runs the 1366 x 768 test")
async def test_nothing_is_cut_at_1600x900(qtbot, busy_market: MarketService) -> None:  # type: ignore[no-untyped-def]
    """The next common laptop size: every trend's time labels, legends and tables as at 1366 x 768."""
    problems = await _window_problems(qtbot, busy_market, theme.DARK, (1600, 900))
    assert problems == [], "\n".join(problems)


def test_a_time_axis_below_the_trends_edge_is_found(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The feeder voltages at 1366 x 768: eleven legend entries in the plot's row stretched it and the time
    axis was laid out below the widget's edge (no time labels), which the legend and label checks passed."""
    from PySide6.QtCore import QRectF

    from tests.support.clipping import time_axis_clipped
    from widgets.trend import TrendWidget

    trend = TrendWidget("Feeder voltages", "% of nominal")
    qtbot.addWidget(trend)
    for i in range(11):
        trend.add_series(f"f{i}", f"Feeder {i} end (230 V)")
    trend.show_legend()
    trend.resize(680, 240)  # the dock's size at 1366 x 768 below the alarm banner
    trend.show()
    for _ in range(3):
        QApplication.processEvents()
    assert time_axis_clipped(trend) == []
    axis = trend.getPlotItem().getAxis("bottom")
    assert trend.mapFromScene(axis.sceneBoundingRect().bottomLeft()).y() <= 240
    trend.getPlotItem().setGeometry(QRectF(0, 0, 680, 280))  # laid out 40 px taller than the widget, as it was
    QApplication.processEvents()
    assert time_axis_clipped(trend) == [
        "trend 'Feeder voltages [% of nominal]': time axis 25 px high ending at 279 px, 240 px shown: "
        "its time labels are cut"]


@pytest.mark.skipif(bool(os.environ.get(SCALED)), reason="the child process at 200 % runs the 1366 x 768 test")
def test_no_table_header_or_cell_is_cut_at_200_percent() -> None:
    """The same window at QT_SCALE_FACTOR=2: a process of its own (the factor is read when Qt starts)."""
    here = Path(__file__)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{here}::test_no_table_header_or_cell_is_cut_at_1366x768"],
        env={**os.environ, SCALED: "1", "QT_SCALE_FACTOR": "2"}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "2 passed" in out.stdout, out.stdout[-4000:]


def test_cells_written_in_dark_read_in_light(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A market table writes a cell only when its text or state changes: after a switch to light its
    unchanged cells kept the dark theme's text grey (#d4d7da on #d4d6d9: the ladder, tape and orders of the
    light market screenshot were empty)."""
    from widgets.market_cells import RIGHT as R
    from widgets.market_cells import CachedTable

    theme.apply(theme.DARK)
    t = CachedTable(["Price"], [R])
    qtbot.addWidget(t)
    t.set_rows(1)
    t.set_cell(0, 0, "248")
    item = t.item(0, 0)
    assert item is not None and item.foreground().color().name() == "#d4d7da"
    theme.apply(theme.LIGHT, [t])
    t.set_cell(0, 0, "248")  # the same text and state: not written again
    assert item.foreground().color().name() == theme.light("#d4d7da") == "#25282b"
