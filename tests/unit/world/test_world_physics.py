"""The simulated community against physics worked out by hand.

Every figure asserted here is computed in the test from first principles
(Ohm's law, the swing equation, a voltage-drop estimate along the feeder), not
by calling the code under test a second way. Few load flows: each world runs
only a handful of ticks.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.community import CommunityConfig
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.network import V_LN_NOMINAL, Network
from drivers.sim.world.snapshot import WorldSnapshot

pytestmark = pytest.mark.unit

NOON = utc(2026, 6, 22, 11, 0)  # 13:00 CEST: the sun near its highest on the roofs
NIGHT = utc(2026, 6, 22, 1, 0)  # 03:00 CEST: no sun, cars charged


def world_at(start: object, **kw: object) -> World:
    config = replace(WorldConfig(clock=WorldClock(start=start)), **kw)  # type: ignore[arg-type]
    return World(config)


@pytest.fixture(scope="module")
def noon_pair() -> tuple[World, World]:
    """The same community at the same instants, with and without PV."""
    sunny, dark = world_at(NOON), world_at(NOON)
    dark.set_pv_limit(None, 0.0)
    for _ in range(2):
        sunny.step()
        dark.step()
    return sunny, dark


def test_transformer_flow_is_what_the_meters_draw_plus_losses(noon_pair: tuple[World, World]) -> None:
    s = noon_pair[0].snapshot
    # device by device: load + EV + heat pump − PV − wind + battery charging, at every meter
    devices = s.consumption_w.sum() - s.pv_w.sum() - s.wind_w.sum() + s.battery_w.sum()
    assert s.p_w.sum() == pytest.approx(devices, abs=1e-6)
    balance = devices + s.line_loss_w + s.trafo_loss_w - s.community_battery_w
    assert s.trafo_p_w == pytest.approx(balance, abs=1.0)  # Newton–Raphson tolerance 1e-8 MVA
    assert s.trafo_p_w < -100e3, "at noon in June the suburb exports"
    # each meter reads its own bus's voltage from the load flow (phase-to-neutral of 400 V)
    grid = noon_pair[0].network.grid
    for c in noon_pair[0].connections[::29]:
        assert s.v_v[c.index] == pytest.approx(grid.res_bus.vm_pu[c.bus] * 400 / math.sqrt(3), abs=1e-9)
    # the 630 kVA transformer's iron losses alone are 1.18 kW (its data sheet); copper adds a little
    assert 1180 < s.trafo_loss_w < 1180 + 0.0108 * 630e3


def test_line_losses_of_one_load_are_three_i_squared_r() -> None:
    net = Network()
    end = net.connections[net.feeder_ends[0]]  # the far end of feeder 1
    p = np.zeros(len(net.connections))
    p[end.index] = 20e3  # 20 kW at unity power factor, nothing else on the network
    flow = net.solve(p, np.zeros_like(p), 0.0, islanded=False)
    line = net.grid.line.set_index(["from_bus", "to_bus"])
    resistance = sum(float(line.loc[seg, "r_ohm_per_km"] * line.loc[seg, "length_km"])
                     for seg in net.path_to_busbar(end.bus))
    v_ll = flow.connection_v_pu[end.index] * 400.0
    current = 20e3 / (math.sqrt(3) * v_ll)
    assert flow.line_loss_w == pytest.approx(3 * current**2 * resistance, rel=0.02)


def test_pv_export_at_noon_raises_the_end_of_feeder_voltage(noon_pair: tuple[World, World]) -> None:
    sunny, dark = (w.snapshot for w in noon_pair)
    net = noon_pair[0].network
    feeder = int(np.argmax(sunny.feeder_end_v))
    end = net.connections[net.feeder_ends[feeder]]
    assert sunny.feeder_end_v[feeder] > sunny.busbar_v + 1.0, "exporting feeder: the end is above the busbar"
    assert sunny.feeder_end_v[feeder] > dark.feeder_end_v[feeder] + 1.0
    assert dark.feeder_end_v[feeder] < dark.busbar_v, "without PV the same feeder sags"
    # by hand: ΔV ≈ Σ over the path (R·P + X·Q) / V², P and Q the flows through each segment
    assert _rise_pu(net, sunny, end.bus) == pytest.approx(
        (sunny.feeder_end_v[feeder] - sunny.busbar_v) / V_LN_NOMINAL, rel=0.1)


def _rise_pu(net: Network, s: WorldSnapshot, bus: int) -> float:
    line = net.grid.line.set_index(["from_bus", "to_bus"])
    paths = {c.index: set(net.path_to_busbar(c.bus)) for c in net.connections}
    rise = 0.0
    for seg in net.path_to_busbar(bus):
        downstream = [i for i, path in paths.items() if seg in path]
        p, q = -s.p_w[downstream].sum(), -s.q_var[downstream].sum()  # what flows out towards the busbar
        r = float(line.loc[seg, "r_ohm_per_km"] * line.loc[seg, "length_km"])
        x = float(line.loc[seg, "x_ohm_per_km"] * line.loc[seg, "length_km"])
        rise += (r * p + x * q) / 400.0**2
    return rise


def test_a_battery_discharging_lowers_the_import_by_its_power() -> None:
    idle, busy = world_at(NIGHT), world_at(NIGHT)
    i = int(np.argmax(idle.assets.battery_max_w))
    x = idle.assets.battery_max_w[i] / 2
    idle.set_battery_setpoint(i, 0.0)
    busy.set_battery_setpoint(i, -x)
    for _ in range(2):
        a, b = idle.step(), busy.step()
    assert b.p_w[i] == pytest.approx(a.p_w[i] - x, abs=0.01)  # the house's meter
    reduction = a.trafo_p_w - b.trafo_p_w
    assert reduction == pytest.approx(x, rel=0.05)
    assert reduction > x, "less current in the lines and transformer: a little less loss too"


def test_islanding_with_a_ten_percent_deficit_falls_at_the_swing_rocof_and_sheds_at_49_hz() -> None:
    # no turbines, no load noise, batteries not answering frequency: at 03:00 the only change
    # when the breaker opens is the import that vanishes
    w = world_at(NIGHT, load_noise=0.0, battery_fcr=False, community=CommunityConfig(wind_turbines_kw=()))
    s = w.snapshot
    cover = (s.trafo_p_w - s.trafo_loss_w) - 0.10 * s.demand_w
    w.set_community_battery(cover, limit_w=cover)  # the grid-forming battery has no headroom left
    before = w.step()
    deficit = before.trafo_p_w - before.trafo_loss_w  # the transformer's own losses leave with it
    assert deficit / before.demand_w == pytest.approx(0.10, abs=0.003)

    w.open_breaker()
    first = w.step()
    # by hand: ROCOF = −ΔP / (2 H S) · f0 with H = 3 s, S = 250 kVA, f0 = 50 Hz
    expected = -deficit / (2 * 3.0 * 250e3) * 50.0
    rocof = (first.frequency_trace_hz[0] - before.frequency_hz) / 0.01
    assert rocof == pytest.approx(expected, rel=0.02)
    assert first.frequency_hz < before.frequency_hz - 0.1

    snaps = [first]
    while not snaps[-1].ufls_tripped[0]:
        assert len(snaps) < 30, "frequency never reached the first UFLS stage"
        snaps.append(w.step())
    tripped, previous = snaps[-1], snaps[-2]
    trace = tripped.frequency_trace_hz
    below = int(np.argmax(trace < 49.0))
    assert trace[below] < 49.0 <= (trace[below - 1] if below else previous.frequency_trace_hz[-1])
    assert not any(tripped.ufls_tripped[1:]), "only the first stage (49.0 Hz) has been reached"
    stage1 = np.array([w.ufls_stage_of(c.index) == 0 for c in w.connections])
    assert not tripped.connected[stage1].any() and tripped.connected[~stage1].all()
    assert (tripped.p_w[stage1] == 0).all()
    shed = previous.consumption_w[stage1].sum() / previous.demand_w
    assert 0.04 < shed < 0.12, f"stage 1 sheds about 7.5 % of the load, shed {shed:.1%}"
    # relay delay 100 ms: the stage trips 10 sub-steps after the frequency crossed 49.0 Hz
    assert trace[-1] > trace[below] - 0.2
    after = w.step().frequency_trace_hz
    falling_before = trace[below] - trace[max(below - 10, 0)]
    assert after[-1] - after[0] > falling_before, "shedding stops or slows the fall"


def test_the_same_seed_gives_the_same_world_and_another_seed_another() -> None:
    runs = []
    for seed in (7, 7, 8):
        w = world_at(NOON, seed=seed)
        w.step()
        runs.append(w.step())
    a, b, c = runs
    assert a.frequency_hz == b.frequency_hz and a.trafo_p_w == b.trafo_p_w
    assert np.array_equal(a.v_v, b.v_v) and np.array_equal(a.p_w, b.p_w)
    assert not np.array_equal(a.p_w, c.p_w)
    assert a.frequency_hz != c.frequency_hz


def test_an_island_with_surplus_and_a_full_battery_curtails_pv_by_the_over_frequency_droop() -> None:
    w = world_at(NOON, load_noise=0.0, battery_fcr=False, community=CommunityConfig(wind_turbines_kw=()))
    w.community_battery_soc_wh = w.config.island.battery_capacity_wh  # full: it cannot absorb the surplus
    w.step()
    w.open_breaker()
    for _ in range(10):
        s = w.step()
    # by hand: PV keeps 1 − 0.4 · (f − 50.2) of its power (40 % per Hz above 50.2 Hz)
    reference = world_at(NOON, load_noise=0.0, battery_fcr=False, community=CommunityConfig(wind_turbines_kw=()))
    for _ in range(11):
        available = reference.step()
    assert 50.2 < s.frequency_hz < 52.7
    kept = 1 - 0.4 * (s.frequency_hz - 50.2)
    assert s.pv_w.sum() == pytest.approx(available.pv_w.sum() * kept, rel=1e-6)
    # and what PV still makes is what the community uses: the battery neither gives nor takes much
    assert abs(s.community_battery_w) < 0.02 * s.pv_w.sum()


def test_a_load_flow_that_cannot_converge_keeps_the_last_solution_flagged() -> None:
    net = Network()
    p = np.full(len(net.connections), 1000.0)
    good = net.solve(p, np.zeros_like(p), 0.0, islanded=False)
    bad = net.solve(np.full_like(p, -2e6), np.zeros_like(p), 0.0, islanded=False)  # 2 MW from every house
    assert good.iterations_ok and not bad.iterations_ok
    assert bad.trafo_p_w == good.trafo_p_w and np.array_equal(bad.connection_v_pu, good.connection_v_pu)


def test_meter_counters_integrate_what_the_meter_measured() -> None:
    w = world_at(NOON)
    before = w.step()
    after = w.step()
    # one 1 s tick at the new power: counters grow by p · 1 s / 3600 on the import or the export side
    assert np.allclose(after.import_wh - before.import_wh, np.clip(after.p_w, 0, None) / 3600)
    assert np.allclose(after.export_wh - before.export_wh, np.clip(-after.p_w, 0, None) / 3600)
    assert np.allclose(after.pv_wh - before.pv_wh, after.pv_w / 3600)


def test_the_grid_supply_meter_counts_the_transformer_flow_from_the_grids_side() -> None:
    """The grid-maker's meter at the point of connection: at noon the suburb exports over 100 kW, so the
    grid's import counter grows by that power × 1 s / 3600 each tick and its export (supply) stays 0."""
    from drivers.sim.world.snapshot import grid_supply_reading

    w = world_at(NOON)
    assert grid_supply_reading(w.snapshot) == (0, 0)  # nothing has flowed before the first tick
    exported_w = [-w.step().trafo_p_w for _ in range(12)]
    assert all(p > 100e3 for p in exported_w)
    imp, exp = grid_supply_reading(w.snapshot)
    assert exp == 0
    assert imp == int(sum(exported_w) / 3600)  # 12 s at > 100 kW: more than 333 Wh
    assert imp > 333


def test_participants_are_data_one_per_connection() -> None:
    w = world_at(NIGHT)
    people = w.participants
    assert len(people) == 146 and [p.connection for p in people] == list(range(146))
    kinds = [p.kind.value for p in people]
    assert kinds.count("business") == 6 and kinds.count("prosumer") == 3
    farm = next(p for p in people if p.wind_kw)
    assert farm.kind.value == "prosumer" and 50 <= farm.pv_kwp <= 100
    assert people[0].name == f"{people[0].kind.value} 1-1" and people[0].bus == "loadbus_1_1"
    assert all(p.battery_kwh in (0.0, 5.0, 7.5, 10.0) for p in people)
