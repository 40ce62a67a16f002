"""The balancing and emergency panels fed by the real balancing service from samples as the OPC-UA driver
delivers them: the battery's ask by mode (figures by hand) and every time the data's (world) clock."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from console.services.balancing import BalancingService
from console.services.commands import CommandService
from core.access import Role, User
from core.points import Quality, Sample
from widgets.balancing_panel import BalancingPanel
from widgets.emergency_panel import EmergencyPanel

WORLD_T0 = 1_782_086_400.0  # 2026-06-22 00:00:00 UTC, the world's clock at its start
WALL = 1_796_220_000.0  # 2026-12-02 ~10:40 UTC: when the console received the samples


@pytest.fixture
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def sample(point: str, value: float, world_s: float) -> Sample:
    return Sample(point, value, "", Quality.GOOD, WORLD_T0 + world_s, WALL + world_s)


def service(*samples: Sample) -> BalancingService:
    s = BalancingService(CommandService(None, None, user=User("op-1", Role.OPERATOR)), write=None)
    s.on_samples(samples)
    return s


def test_islanded_the_panel_shows_the_grid_forming_droop_ask(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = BalancingPanel()
    qtbot.addWidget(panel)
    # 49.70 Hz islanded, SoC 50 %: 250 kW · (0.30 / 50) / 0.04 = 37.5 kW discharge (FCR would say 250 kW)
    st = service(sample("breaker.main", 0.0, 5.0), sample("grid.frequency", 49.70, 5.0),
                 sample("community_battery.soc", 50.0, 5.0), sample("community_battery.power", 37_400.0, 5.0)).state()
    panel.show_balance(st.demand_kw, st.supply_kw, st.import_kw, st.battery_kw, st.battery_soc_pct,
                       st.battery_ask_kw, st.breaker_closed)
    assert panel.names["droop"].text() == "Droop ask"
    assert panel.values["mode"].text() == "ISLANDED"
    assert panel.values["droop"].text() == "+37.5 kW"
    # grid-connected at 49.895 Hz: (0.105 − 0.01) / 0.19 = 0.5 of 250 kW = 125 kW, FCR
    st = service(sample("breaker.main", 1.0, 6.0), sample("grid.frequency", 49.895, 6.0),
                 sample("community_battery.soc", 50.0, 6.0)).state()
    panel.show_balance(st.demand_kw, st.supply_kw, st.import_kw, st.battery_kw, st.battery_soc_pct,
                       st.battery_ask_kw, st.breaker_closed)
    assert panel.names["droop"].text() == "FCR ask"
    assert "±200 mHz" in panel.names["droop"].toolTip()
    assert panel.values["droop"].text() == "+125.0 kW"
    # an empty battery is asked for nothing
    st = service(sample("breaker.main", 0.0, 7.0), sample("grid.frequency", 49.70, 7.0),
                 sample("community_battery.soc", 0.0, 7.0)).state()
    panel.show_balance(st.demand_kw, st.supply_kw, st.import_kw, st.battery_kw, st.battery_soc_pct,
                       st.battery_ask_kw, st.breaker_closed)
    assert panel.values["droop"].text() == "+0.0 kW"


def test_stage_times_are_the_worlds_clock_not_the_consoles(qtbot, utc) -> None:  # type: ignore[no-untyped-def]
    panel = EmergencyPanel(None, None)
    qtbot.addWidget(panel)
    s = service(sample("breaker.main", 0.0, 2.0), sample("grid.frequency", 49.5, 2.0),
                sample("community_battery.soc", 50.0, 2.0), sample("community_battery.power", 60_000.0, 2.0),
                sample("ufls.stages", 0.0, 2.0), sample("ufls.stages", 1.0, 11.0), sample("ufls.stages", 2.0, 13.4))
    st = s.state()
    assert st.data_ts == WORLD_T0 + 13.4
    panel.show_state(st.reason, st.breaker_closed, st.frequency_hz, st.rocof_hz_s, st.stages_tripped_at,
                     st.next_stage_hz, st.shed_share, st.battery_kw, st.battery_soc_pct, st.battery_ask_kw)
    # world 00:00:11.0 and 00:00:13.4 — received at ~10:40 wall-clock time, which must not show
    assert [lab.text() for lab in panel.stage_labels] == ["00:00:11.0", "00:00:13.4", "—", "—", "—", "—"]
    assert panel.shed_share.text() == "15.0 % of load shed"
    # 49.5 Hz islanded: 250 kW · (0.5 / 50) / 0.04 = 62.5 kW
    assert panel.battery.text() == "Battery +60.0 kW (droop asks +62.5), SoC 50 %"
    assert not panel.shed_button.isEnabled()  # no command path: the tooltip says why


def test_a_few_watts_either_way_read_plus_zero_never_minus_zero() -> None:
    from widgets.balancing_panel import _kw

    assert [_kw(-0.04), _kw(0.04), _kw(-0.06), _kw(12.25), _kw(float("nan"))] == [
        "+0.0 kW", "+0.0 kW", "-0.1 kW", "+12.2 kW", "—"]


def test_the_procedure_shows_each_step_and_marks_the_next(qtbot, utc) -> None:  # type: ignore[no-untyped-def]
    from core.balancing.procedure import Step, next_step

    clicked: list[Step] = []
    panel = EmergencyPanel(None, None, clicked.append)
    qtbot.addWidget(panel)
    # islanded at 00:00:05, the relays shed stage 1 at 00:00:06.2; community 49.700 Hz, system 50.010 Hz:
    # Δf = −0.310 Hz, outside the 0.2 Hz synchrocheck; no market, no battery, no OPC-UA write path
    svc = service(sample("breaker.main", 0.0, 5.0), sample("grid.frequency", 49.70, 5.0),
                  sample("grid.system_frequency", 50.01, 5.0), sample("ufls.stages", 1.0, 6.2))
    steps = svc.procedure()
    panel.show_procedure(steps, next_step(steps))
    texts = [panel.step_labels[s].text() for s in Step]
    assert texts == ["not applicable: no market in this console", "not applicable: no battery takes setpoints here",
                     "done 00:00:06.2 by UFLS relays · 1 stage, 7.5 %",
                     "pending · manual, on site · Δf −0.310 Hz (≤ 0.2) OUT · ΔV, Δφ not measured"]
    assert next_step(steps) is Step.RECONNECT
    assert panel.step_buttons[Step.RECONNECT].text() == "▶ 4 Reconnect when synchronised…"
    assert panel.step_buttons[Step.RECONNECT].font().bold()
    assert panel.step_buttons[Step.MARKET].text() == "1 Suspend market…"
    assert not panel.step_buttons[Step.MARKET].font().bold()
    assert not any(b.isEnabled() for b in panel.step_buttons.values())  # manual: nothing to click
