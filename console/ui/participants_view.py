"""The participants' trading (F6): a sortable table of every participant's energy and money in the market,
and a detail view of the selected one — net position per delivery period and the money per period.

With field devices configured, each participant's production and consumption now and its meter's
energy counters join the row (the field devices' accounting, ``core.participants``; a participant with
devices but no trades has a row too). Not on this page yet: suggested orders from the forecast surplus
and the achievements (issue 14, items 3 and 5).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.services.market import MarketService, ParticipantPosition
from core.participants import EnergyBalance
from widgets import palette
from widgets.cells import ColumnFit, keep_state_on_selection
from widgets.market_cells import hhmm, kwh
from widgets.plot_frame import calm_frame

HEADERS = ("Participant", "Prod. kW", "Cons. kW", "Import kWh", "Export kWh", "Trades", "Bought kWh",
           "Sold kWh", "Net kWh", "Costs", "Earnings", "Net money", "vs ref.")
TIPS = ("", "Production now: PV and wind", "Consumption now (reconstructed from meter, generation, battery)",
        "The meter's import counter", "The meter's export counter", "Trades in the market", "", "",
        "Bought − sold", "Paid for energy bought (base units)", "Received for energy sold (base units)",
        "Earnings − costs", "Gain against the reference price at each trade's time (base units)")


class _Number(QTableWidgetItem):
    """A cell that sorts by its value, not its text."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < other.value if isinstance(other, _Number) else super().__lt__(other)


def _money(x: float) -> str:
    return f"{x:,.0f}"


class ParticipantsView(QWidget):
    """``refresh()`` once per frame while shown: it rebuilds only when the market's book changed."""

    def __init__(self, market: MarketService, energy: Callable[[], Sequence[EnergyBalance]] | None = None,
                 parent: QWidget | None = None, badges: Callable[[str], Sequence[str]] | None = None) -> None:
        super().__init__(parent)
        self.market = market
        self.badges_of = badges  # the participant's achievement badges (the chain's soulbound NFTs), if any
        self.balances_of = energy  # each participant's balance now (the field devices' accounting), if any
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("participantsTable")
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        for c, tip in enumerate(TIPS):
            header = self.table.horizontalHeaderItem(c)
            if header is not None and tip:
                header.setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        keep_state_on_selection(self.table)
        self.columns = ColumnFit(self.table)  # never a cut label or value; the room left shared out
        self.table.setSortingEnabled(True)
        self.table.itemSelectionChanged.connect(self._show_detail)
        self.title = QLabel("Select a participant")
        self.title.setObjectName("marketTitle")
        self.energy = pg.PlotWidget(background=palette.BACKGROUND)
        self.money = pg.PlotWidget(background=palette.BACKGROUND)
        for plot, title in ((self.energy, "Net position per delivery period [kWh] (+ bought, − sold)"),
                            (self.money, "Money per delivery period (earnings − costs)")):
            item = plot.getPlotItem()
            item.setTitle(f"<span style='color:{palette.TEXT_DIM}'>{title}</span>", size="9pt")
            calm_frame(item)
            plot.setMouseEnabled(x=False, y=False)
        self.energy_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=palette.SERIES[5])
        self.money_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=palette.SERIES[5])
        self.energy.addItem(self.energy_bars)
        self.money.addItem(self.money_bars)
        plots = QHBoxLayout()
        plots.addWidget(self.energy)
        plots.addWidget(self.money)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.title)
        layout.addLayout(plots, 2)
        self.positions: dict[str, ParticipantPosition] = {}
        self._drawn: object = None
        self.selected: str | None = None

    def refresh(self) -> bool:
        """Rebuild when the book changed (and once a second for the devices' powers); True if it did."""
        key = (self.market.revision()[0], int(time.monotonic()) if self.balances_of is not None else 0)
        if key == self._drawn:
            return False
        self._drawn = key
        rows = self.market.positions()
        self.positions = {p.participant: p for p in rows}
        energy = {b.participant: b for b in (self.balances_of() if self.balances_of is not None else ())}
        names = sorted(set(self.positions) | set(energy))
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(names))
        for r, who in enumerate(names):
            p = self.positions.get(who) or ParticipantPosition(who, (), 0, 0.0)
            t.setItem(r, 0, QTableWidgetItem(who))
            b = energy.get(who)
            for c, value in enumerate((b.generation_w / 1000 if b else math.nan,
                                       b.consumption_w / 1000 if b else math.nan,
                                       b.imported_wh / 1000 if b else math.nan,
                                       b.exported_wh / 1000 if b else math.nan), start=1):
                t.setItem(r, c, _Number("—" if not math.isfinite(value) else f"{value:,.1f}",
                                        value if math.isfinite(value) else -math.inf))
            net_money = p.earnings - p.cost
            for c, (text, value) in enumerate((
                    (f"{p.trades:,}", p.trades), (kwh(p.bought_wh), p.bought_wh), (kwh(p.sold_wh), p.sold_wh),
                    (kwh(p.bought_wh - p.sold_wh), p.bought_wh - p.sold_wh), (_money(p.cost), p.cost),
                    (_money(p.earnings), p.earnings), (_money(net_money), net_money),
                    (_money(p.gain_vs_reference), p.gain_vs_reference)), start=5):
                t.setItem(r, c, _Number(text, float(value)))
        t.setSortingEnabled(True)
        if self.selected in self.positions:
            self._detail(self.positions[self.selected])
        return True

    def select(self, participant: str) -> None:
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.text() == participant:
                self.table.selectRow(r)
                return

    def _show_detail(self) -> None:
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        if item is None:
            return
        if item.text() not in self.positions:
            self.positions[item.text()] = ParticipantPosition(item.text(), (), 0, 0.0)
        self.selected = item.text()
        self._detail(self.positions[self.selected])

    def _badges_text(self, participant: str) -> str:
        if self.badges_of is None:
            return ""
        badges = self.badges_of(participant)
        return "  ·  badges: " + (", ".join(badges) if badges else "none yet")

    def _detail(self, p: ParticipantPosition) -> None:
        self.title.setText(f"{p.participant}: {p.trades} trades, bought {kwh(p.bought_wh)} kWh for "
                           f"{_money(p.cost)}, sold {kwh(p.sold_wh)} kWh for {_money(p.earnings)}; "
                           f"{_money(p.gain_vs_reference)} against the reference price"
                           + self._badges_text(p.participant))
        x = np.arange(len(p.products), dtype=float)
        self.energy_bars.setOpts(x=x, height=[q.net_wh / 1000 for q in p.products], width=0.6)
        self.money_bars.setOpts(x=x, height=[q.earnings - q.cost for q in p.products], width=0.6)
        ticks = [[(float(i), hhmm(q.product)) for i, q in enumerate(p.products)]]
        n = max(len(p.products), 8)  # a few periods never stretch into slabs: at least 8 slots wide
        for plot, values in ((self.energy, [q.net_wh / 1000 for q in p.products]),
                             (self.money, [q.earnings - q.cost for q in p.products])):
            plot.getPlotItem().getAxis("bottom").setTicks(ticks)
            low, high = min([0.0, *values]), max([0.0, *values])
            pad = (high - low) * 0.1 or 1.0
            plot.setRange(xRange=(-0.7, n - 0.3), yRange=(low - pad, high + pad), padding=0)
