"""The balancing panel: the community's imbalance and what covers it (import, community battery), and what
the battery's frequency response asks of it: FCR grid-connected, its grid-forming droop islanded
(core.balancing.emergency.battery_ask_w, computed by the balancing service)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel

from widgets.style import show_state

BATTERY_RATING_KW = 250.0  # the community battery's inverter (the world's IslandConfig.battery_rating_w)
# Short names (the panel shares the grid tab's top row with five readouts and the event card at 1366 px);
# what each means in its tooltip.
ASK_NAMES = {True: "FCR ask", False: "Droop ask", None: "Battery ask"}
ASK_TIPS = {True: "What frequency containment (FCR) asks of the community battery at this Δf: "
                  "full output at ±200 mHz",
            False: "What the grid-forming droop asks of the community battery while islanded",
            None: "What the battery's frequency response asks at this Δf"}


def _kw(v: float) -> str:
    # rounded first and + 0.0: a few watts either way read "+0.0", never "-0.0"
    return f"{round(v, 1) + 0.0:+.1f} kW" if math.isfinite(v) else "—"


class BalancingPanel(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("balancingPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setVerticalSpacing(1)
        self.values: dict[str, QLabel] = {}
        self.names: dict[str, QLabel] = {}
        rows = (("imbalance", "Demand − supply", "The imbalance: + the community draws more than it generates"),
                ("import", "Transformer import", "+ import from the grid, − export"),
                ("battery", "Battery (+ disch.)", "The community battery: + discharging, − charging"),
                ("droop", ASK_NAMES[True], ASK_TIPS[True]),
                ("soc", "Battery SoC", "The community battery's state of charge"),
                ("mode", "Mode", "Grid-connected, or ISLANDED (transformer breaker open; the battery forms the grid)"))
        grid.addWidget(QLabel("BALANCING"), 0, 0, 1, 2)
        for r, (key, name, tip) in enumerate(rows, start=1):
            self.names[key] = QLabel(name)
            self.names[key].setToolTip(tip)
            grid.addWidget(self.names[key], r, 0)
            lab = QLabel("—")
            self.values[key] = lab
            grid.addWidget(lab, r, 1)

    def show_balance(self, demand_kw: float, supply_kw: float, import_kw: float, battery_kw: float,
                     soc_pct: float, ask_kw: float, breaker_closed: bool | None) -> None:
        v = self.values
        v["imbalance"].setText(_kw(demand_kw - supply_kw))
        v["import"].setText(_kw(import_kw))
        v["battery"].setText(_kw(battery_kw))
        ask = ask_kw
        self.names["droop"].setText(ASK_NAMES[breaker_closed])
        self.names["droop"].setToolTip(ASK_TIPS[breaker_closed])
        v["droop"].setText(_kw(ask))
        show_state(v["droop"], "normal" if not math.isfinite(ask) or abs(ask) < 0.5 * BATTERY_RATING_KW else "alert")
        v["soc"].setText(f"{soc_pct:.0f} %" if math.isfinite(soc_pct) else "—")
        show_state(v["soc"], "alert" if math.isfinite(soc_pct) and not 10 <= soc_pct <= 95 else "normal")
        v["mode"].setText({True: "grid-connected", False: "ISLANDED", None: "—"}[breaker_closed])
        show_state(v["mode"], "emergency" if breaker_closed is False else "normal")
