"""The grid view shows every point in its configured unit and buses of different levels per unit.

Fed with SI samples, as the drivers deliver them after the config loader folded the unit's
factor into the point's scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from console.bootstrap import build_acquisition
from console.config import parse
from console.ui.grid_view import GridView
from core.points import Quality, Sample

pytestmark = pytest.mark.widgets

SITE = """
[[sources]]
name = "substation"
endpoint = "opc.tcp://127.0.0.1:4840/x"
  [[sources.points]]
  id = "area.f"
  node = "ns=2;s=F"
  unit = "Hz"
  kind = "frequency"
  [[sources.points]]
  id = "area.demand"
  node = "ns=2;s=P"
  unit = "MW"
  kind = "demand"
  [[sources.points]]
  id = "area.supply"
  node = "ns=2;s=G"
  unit = "MW"
  kind = "supply"
  [[sources.points]]
  id = "mv.u"
  name = "MV busbar"
  node = "ns=2;s=U_MV"
  unit = "kV"
  kind = "voltage"
  nominal = 20
  [[sources.points]]
  id = "lv.u"
  name = "LV feeder"
  node = "ns=2;s=U_LV"
  unit = "V"
  kind = "voltage"
  nominal = 230
"""


def _view(qtbot, site: str = SITE):  # type: ignore[no-untyped-def]
    acq = build_acquisition(settings := parse(site, Path("site.toml")))
    v = GridView(acq, settings.frequency_bands, settings.voltage_bands)
    qtbot.addWidget(v)
    v.resize(1200, 700)
    v.show()
    return v, acq


@pytest.fixture
def view(qtbot):  # type: ignore[no-untyped-def]
    return _view(qtbot)


def test_a_demand_point_in_mw_reads_mw(view) -> None:  # type: ignore[no-untyped-def]
    v, acq = view
    now = 1_700_000_000.0
    acq.on_samples([Sample("area.demand", 12_500_000.0, "W", Quality.GOOD, now, now),
                    Sample("area.supply", 12_740_000.0, "W", Quality.GOOD, now, now)])
    v.refresh(acq.state.snapshot(now))
    assert (v.demand_readout.text, v.demand_readout.unit) == ("12.5", "MW")
    assert (v.supply_readout.text, v.balance_readout.text) == ("12.7", "0.2")  # 12.74 - 12.5 = 0.24 MW
    assert v.power_trend.getPlotItem().getAxis("left").labelText == "MW"
    assert "Demand vs supply [MW]" in v.power_trend.getPlotItem().titleLabel.text
    _, y = v.power_trend.curve_data("area.demand")
    assert y[0] == pytest.approx(12.5)


def test_a_demand_point_in_kw_reads_kw_and_a_frequency_in_mhz_reads_mhz(qtbot) -> None:  # type: ignore[no-untyped-def]
    site = SITE.replace('unit = "MW"', 'unit = "kW"').replace('unit = "Hz"', 'unit = "mHz"')
    v, acq = _view(qtbot, site)
    now = 1_700_000_000.0
    acq.on_samples([Sample("area.demand", 12_500_000.0, "W", Quality.GOOD, now, now),
                    Sample("area.f", 49.987, "Hz", Quality.GOOD, now, now)])
    v.refresh(acq.state.snapshot(now))
    assert (v.demand_readout.text, v.demand_readout.unit) == ("12,500.0", "kW")
    assert v.power_trend.getPlotItem().getAxis("left").labelText == "kW"
    assert (v.freq_readout.text, v.freq_readout.unit) == ("49,987", "mHz")
    _, y = v.freq_trend.curve_data("area.f")
    assert y[0] == pytest.approx(49_987.0)
    (_, _), (low, high) = v.freq_trend.getPlotItem().getViewBox().viewRange()
    assert low < 49_800.0 and high > 50_200.0  # the ENTSO-E normal band, in mHz too


def test_a_20_kv_and_a_230_v_bus_are_trended_together_in_percent_of_nominal(view) -> None:  # type: ignore[no-untyped-def]
    v, acq = view
    t0 = 1_700_000_000.0
    mv = [20_000.0, 20_200.0, 20_400.0]  # V: 100 %, 101 %, 102 % of 20 kV
    lv = [230.0, 227.7, 225.4]  # V: 100 %, 99 %, 98 % of 230 V
    for i, (u_mv, u_lv) in enumerate(zip(mv, lv, strict=True)):
        ts = t0 + i
        acq.on_samples([Sample("mv.u", u_mv, "V", Quality.GOOD, ts, ts),
                        Sample("lv.u", u_lv, "V", Quality.GOOD, ts, ts)])
    v.refresh(acq.state.snapshot(t0 + 2))
    _, y_mv = v.voltage_trend.curve_data("mv.u")
    _, y_lv = v.voltage_trend.curve_data("lv.u")
    np.testing.assert_allclose(y_mv, [100.0, 101.0, 102.0], rtol=1e-12)
    np.testing.assert_allclose(y_lv, [100.0, 99.0, 98.0], rtol=1e-12)
    assert v.voltage_trend.getPlotItem().getAxis("left").labelText == "% of nominal"
    assert "Feeder voltages [% of nominal]" in v.voltage_trend.getPlotItem().titleLabel.text
    # The readouts keep the absolute value, in each bus's own unit; the tooltip says both.
    assert (v.bus_readouts["mv.u"].text, v.bus_readouts["mv.u"].unit) == ("20.40", "kV")
    assert (v.bus_readouts["lv.u"].text, v.bus_readouts["lv.u"].unit) == ("225.4", "V")
    assert v.bus_readouts["mv.u"].toolTip() == "MV busbar: 20.40 kV = 102.0 % of 20 kV nominal"
    assert v.bus_readouts["lv.u"].toolTip() == "LV feeder: 225.4 V = 98.0 % of 230 V nominal"
    # The cursor at the last sample gives the absolute values behind the percentages.
    hover = v.voltage_trend.hover_text(t0 + 2).splitlines()
    assert hover[1:] == ["MV busbar (20 kV): 20.40 kV (102.0 %)", "LV feeder (230 V): 225.4 V (98.0 %)"]
    assert v.voltage_trend.hover_text(t0 + 1).splitlines()[1] == "MV busbar (20 kV): 20.20 kV (101.0 %)"
    # EN 50160 ±10 %: both buses are in the normal band, so neither readout alarms.
    assert v.bus_readouts["mv.u"].state == v.bus_readouts["lv.u"].state == "normal"
    # The axis spans the band (90 %-110 %) plus a margin, so both traces sit inside it.
    (_, _), (low, high) = v.voltage_trend.getPlotItem().getViewBox().viewRange()
    assert low < 90.0 and high > 110.0


def test_a_bus_outside_en50160_alarms_in_its_own_unit(view) -> None:  # type: ignore[no-untyped-def]
    v, acq = view
    now = 1_700_000_000.0
    acq.on_samples([Sample("mv.u", 17_800.0, "V", Quality.GOOD, now, now)])  # 89 % of 20 kV
    v.refresh(acq.state.snapshot(now))
    assert v.bus_readouts["mv.u"].text == "17.80" and v.bus_readouts["mv.u"].state == "alert"


def test_the_axis_shows_the_unit_as_given_without_a_prefix_of_its_own(view) -> None:  # type: ignore[no-untyped-def]
    v, acq = view
    t0 = 1_700_000_000.0
    # ROCOF of a few mHz/s: pyqtgraph would relabel the axis "Hz/s (x0.001)" on its own.
    acq.on_samples([Sample("area.f", 50.0 + 0.002 * i * 0.05, "Hz", Quality.GOOD, t0 + i * 0.05, t0 + i * 0.05)
                    for i in range(40)])
    v.refresh(acq.state.snapshot(t0 + 2))
    axis = v.rocof_trend.getPlotItem().getAxis("left")
    assert axis.labelString() == "<span style='color: #8b9096'>Hz/s </span>"  # not "Hz/s (x0.001)"


def test_moving_the_mouse_over_the_voltage_trend_reads_out_absolute_values(view, qtbot) -> None:  # type: ignore[no-untyped-def]
    v, acq = view
    t0 = 1_700_000_000.0
    for i in range(61):  # a minute of steady 20.4 kV and 225.4 V
        acq.on_samples([Sample("mv.u", 20_400.0, "V", Quality.GOOD, t0 + i, t0 + i),
                        Sample("lv.u", 225.4, "V", Quality.GOOD, t0 + i, t0 + i)])
    v.refresh(acq.state.snapshot(t0 + 60))
    trend = v.voltage_trend
    centre = trend.getPlotItem().getViewBox().sceneBoundingRect().center()
    qtbot.mouseMove(trend.viewport(), trend.mapFromScene(centre))
    # The shared cursor readout under the trends, not a tooltip over the data.
    qtbot.waitUntil(lambda: "MV busbar (20 kV): 20.40 kV (102.0 %)" in v.cursor_readout.text())
    assert "LV feeder (230 V): 225.4 V (98.0 %)" in v.cursor_readout.text() and not trend.toolTip()


def test_demand_in_kw_and_supply_in_mw_share_the_larger_unit(qtbot) -> None:  # type: ignore[no-untyped-def]
    site = SITE.replace('unit = "MW"\n  kind = "demand"', 'unit = "kW"\n  kind = "demand"')
    v, acq = _view(qtbot, site)
    now = 1_700_000_000.0
    acq.on_samples([Sample("area.demand", 800_000.0, "W", Quality.GOOD, now, now),
                    Sample("area.supply", 1_200_000.0, "W", Quality.GOOD, now, now)])
    v.refresh(acq.state.snapshot(now))
    assert [(r.text, r.unit) for r in (v.demand_readout, v.supply_readout, v.balance_readout)] == [
        ("0.8", "MW"), ("1.2", "MW"), ("0.4", "MW")]
    assert v.power_trend.getPlotItem().getAxis("left").labelText == "MW"


def test_a_value_that_rounds_to_zero_has_no_sign(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The balancing screenshot's ROCOF read "-0.000 Hz/s" for -0.0002 Hz/s."""
    from core.bands import Band
    from widgets.readout import Readout

    r = Readout("ROCOF", "Hz/s", decimals=3)
    qtbot.addWidget(r)
    for value, shown in ((-0.0002, "0.000"), (-0.0004, "0.000"), (-0.0006, "-0.001"), (0.0004, "0.000"),
                         (-1.25, "-1.250"), (-1234.5, "-1,234.500")):
        r.set_value(value, Quality.GOOD, Band.NORMAL)
        assert r.text == shown, value
