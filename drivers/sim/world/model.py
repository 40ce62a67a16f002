"""One simulated community: network, participants, sunshine, frequency, driven by one clock.

Each tick (``tick_s``, 1 s by default) the world

1. computes every connection's consumption, PV, wind, flexible loads and
   battery power at the tick's local time (load shapes, pvlib clear sky,
   cloud and wind processes, battery controllers);
2. integrates the frequency over the tick in 10 ms sub-steps: the
   interconnection's always, the community's own swing equation while the
   breaker is open (with battery frequency response and under-frequency load
   shedding acting within the tick);
3. writes every connection's net power into the network and runs one load
   flow, which gives the bus voltages, the losses and the transformer flow;
4. publishes one immutable :class:`~drivers.sim.world.snapshot.WorldSnapshot`.

Sign convention everywhere: + is power drawn from the network (consumption,
battery charging, import over the transformer); generation is −.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from drivers.sim.world.clock import WorldClock
from drivers.sim.world.community import (
    Assets,
    CommunityConfig,
    Kind,
    Participant,
    business_shape,
    draw_assets,
    heat_demand,
    household_shape,
    outdoor_temperature_c,
    participants_of,
    wind_power_share,
)
from drivers.sim.world.frequency import (
    SUBSTEP_S,
    Interconnection,
    InterconnectionConfig,
    IslandConfig,
    UflsStage,
    default_ufls,
    ou_step,
    world_rngs,
)
from drivers.sim.world.island import Balance, IslandFrequency, Ufls, fcr_response, lfsm_o
from drivers.sim.world.network import V_LN_NOMINAL, Network
from drivers.sim.world.snapshot import WorldSnapshot, frozen
from drivers.sim.world.solar import ClearSky, Site, clear_sky_index

PV_PERFORMANCE_RATIO = 0.86  # temperature, soiling, wiring and inverter losses of a rooftop system
BATTERY_EFFICIENCY = 0.95  # each way
EV_DEPARTURE_H = 7.0


@dataclass(frozen=True, slots=True)
class WorldConfig:
    """Everything that decides a world's trajectory (with the commands given to it)."""

    seed: int = 1
    clock: WorldClock = field(default_factory=WorldClock)
    site: Site = field(default_factory=Site)
    community: CommunityConfig = field(default_factory=CommunityConfig)
    interconnection: InterconnectionConfig = field(default_factory=InterconnectionConfig)
    island: IslandConfig = field(default_factory=IslandConfig)
    ufls: tuple[UflsStage, ...] = field(default_factory=default_ufls)
    cloud_mean: float = 0.3  # mean cloud cover 0..1 (a scenario's cloud front raises it)
    wind_mean_m_s: float = 5.5
    battery_fcr: bool = True  # home batteries answer frequency deviations (FCR droop)
    load_noise: float = 0.3  # per-house relative load noise (std)
    substep_s: float = SUBSTEP_S  # the frequency's integration step (backfill: 0.1 s, see backfill.py)


class World:
    """The community's physics; not thread-safe: one owner steps it and calls its commands."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = c = config or WorldConfig()
        draw, self._noise_rng, self._weather_rng, grid_rng, _ = world_rngs(c.seed)
        self.clock = WorldClock(c.clock.start, c.clock.tick_s, c.clock.ticks)
        self.network = Network()
        self.connections = self.network.connections
        n = len(self.connections)
        self.assets: Assets = draw_assets(n, c.community, draw)
        self._sky = ClearSky(c.site)
        self.interconnection = Interconnection(c.interconnection, grid_rng)
        self.ufls = Ufls(c.ufls, self.assets.mean_load_w, draw)
        self.island = IslandFrequency(c.island, c.interconnection.f0_hz)
        self._is_business = np.array([k is Kind.BUSINESS for k in self.assets.kind])
        # state
        self._slow = np.zeros(n)
        self._fast = np.zeros(n)
        self._cloud = c.cloud_mean
        self._wind = c.wind_mean_m_s
        self._ev_done_wh = np.zeros(n)
        self._ev_day = -1
        self.battery_setpoint_w = np.full(n, np.nan)  # nan: self-consumption
        self.flex_limit = np.ones(n)  # share of EV / heat-pump power allowed
        self.pv_limit = np.ones(n)  # share of PV power allowed
        self.pv_cap_w = np.full(n, np.inf)  # the inverter's active power limit (SunSpec WMaxLimPct × WMax)
        self.cloud_mean = c.cloud_mean  # a scenario's cloud front moves it
        self.wind_wh = np.zeros(n)  # the wind turbines' lifetime energy (SunSpec WH)
        self.relay_open = np.zeros(n, dtype=bool)  # the operator's meter relays
        self.flex_curtailed_wh = np.zeros(n)  # energy the flexible loads' limit kept them from drawing
        self.import_wh = np.zeros(n)  # the meters' counters (SDM630 total import / export)
        self.export_wh = np.zeros(n)
        self.pv_wh = np.zeros(n)  # the PV inverters' lifetime energy (SunSpec WH)
        self.trafo_import_wh = 0.0  # the transformer's counters (10 kV side): drawn from / fed to the grid
        self.trafo_export_wh = 0.0
        self.breaker_closed = True
        self.community_battery_setpoint_w = 0.0  # + discharge; islanded, the droop's reference
        self.community_battery_limit_w = c.island.battery_rating_w  # the operator's cap on its power
        self.community_battery_soc_wh = c.island.battery_capacity_wh / 2
        self._trace: list[float] = []
        self._participants = participants_of(self.connections, self.assets)
        self._snapshot = self._compute(first=True)

    @property
    def participants(self) -> tuple[Participant, ...]:
        """Who is connected where with what: the data a participants file and the Modbus face are made from."""
        return self._participants

    # ---- commands -------------------------------------------------------------------

    def open_breaker(self) -> None:
        """Island the community: from now on its own balance sets its frequency."""
        if not self.breaker_closed:
            return
        self.breaker_closed = False
        self.island.start(self.interconnection.df,
                          self._community_battery_output(self.community_battery_setpoint_w, self.config.clock.tick_s))

    def close_breaker(self) -> None:
        """Reconnect; refused unless the community is in step with the system (synchrocheck)."""
        if self.breaker_closed:
            return
        f_sys = self.interconnection.frequency_hz
        f_own = self.frequency_hz
        if abs(f_sys - f_own) > self.config.island.sync_tolerance_hz:
            raise RuntimeError(
                f"breaker: synchrocheck refused: community at {f_own:.3f} Hz, system at {f_sys:.3f} Hz "
                f"(more than {self.config.island.sync_tolerance_hz} Hz apart); wait until they converge")
        self.breaker_closed = True
        self.ufls.reset()  # the shed connections are restored with the reconnection

    def shed_next_stage(self) -> int:
        """Shed the next load-shedding stage by hand (the emergency procedure's step); its index, −1: all shed."""
        return self.ufls.shed_next()

    def restore_shed(self) -> None:
        """Reconnect every shed connection and re-arm the relays (the operator's restore, islanded or not)."""
        self.ufls.reset()

    def set_community_battery(self, setpoint_w: float, limit_w: float | None = None) -> None:
        """The grid-forming community battery: + discharge at ``setpoint_w``, never above ``limit_w``
        (default: its rating). Islanded, the setpoint is its droop's reference and the limit still holds."""
        rating = self.config.island.battery_rating_w
        limit = rating if limit_w is None else limit_w
        if not 0 <= limit <= rating:
            raise ValueError(f"world: community battery limit {limit} W is outside 0–{rating} W (its rating)")
        self.community_battery_limit_w = limit
        self.community_battery_setpoint_w = min(max(setpoint_w, -limit), limit)

    def set_battery_setpoint(self, connection: int, watts: float | None) -> None:
        """+ charge / − discharge at ``watts`` (within the battery's limits); ``None``: self-consumption."""
        self._check(connection)
        if self.assets.battery_wh[connection] <= 0:
            raise ValueError(f"world: connection {connection} ({self.connections[connection].name}) has no battery")
        self.battery_setpoint_w[connection] = np.nan if watts is None else float(watts)

    def set_flex_limit(self, connection: int, share: float) -> None:
        """Cap the EV charger and heat pump at ``share`` (0..1) of their power (curtailment)."""
        self._check(connection)
        self.flex_limit[connection] = min(max(share, 0.0), 1.0)

    def set_pv_limit(self, connection: int | None, share: float) -> None:
        """Limit PV output to ``share`` (0..1) of its available power, at one connection or all."""
        if connection is None:
            self.pv_limit[:] = min(max(share, 0.0), 1.0)
        else:
            self._check(connection)
            self.pv_limit[connection] = min(max(share, 0.0), 1.0)

    def set_pv_cap(self, connection: int, watts: float | None) -> None:
        """The PV inverter's active power limit in W (``None``: no limit), as SunSpec model 123 sets it."""
        self._check(connection)
        self.pv_cap_w[connection] = np.inf if watts is None else max(0.0, float(watts))

    def set_relay(self, connection: int, closed: bool) -> None:
        """The meter relay: an open relay disconnects the whole connection."""
        self._check(connection)
        self.relay_open[connection] = not closed

    def _check(self, connection: int) -> None:
        if not 0 <= connection < len(self.connections):
            raise IndexError(f"world: no connection {connection} (the network has {len(self.connections)})")

    # ---- stepping -------------------------------------------------------------------

    @property
    def snapshot(self) -> WorldSnapshot:
        return self._snapshot

    @property
    def frequency_hz(self) -> float:
        return self.interconnection.frequency_hz if self.breaker_closed else self.island.frequency_hz

    def step(self) -> WorldSnapshot:
        """Advance one tick and return the new snapshot."""
        self.clock.advance()
        self._snapshot = self._compute(first=False)
        return self._snapshot

    def run_for(self, seconds: float) -> WorldSnapshot:
        for _ in range(max(1, round(seconds / self.clock.tick_s))):
            self.step()
        return self._snapshot

    def _compute(self, first: bool) -> WorldSnapshot:
        c = self.config
        h = c.clock.tick_s
        now = self.clock.now
        local = now.astimezone(self._sky.timezone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        weekday = local.weekday()
        a = self.assets
        n = a.size
        if not first:
            self._advance_processes(h)
        # consumption
        house = household_shape(hour, weekday >= 5)
        shop = business_shape(hour, weekday)
        shape = np.where(self._is_business, shop, house)
        load = a.mean_load_w * shape * np.clip(1 + self._slow + self._fast, 0.1, None)
        # a car leaves at 07:00 and comes back in the evening (weekends: around noon) wanting its day's energy
        departures = (local - timedelta(hours=EV_DEPARTURE_H)).toordinal()
        if departures != self._ev_day:
            self._ev_day = departures
            self._ev_done_wh[:] = 0.0
        arrival = a.ev_arrival_h if weekday < 5 else a.ev_arrival_h - 5
        plugged = (hour >= arrival) | (hour < EV_DEPARTURE_H)
        if first:  # the cars plugged in before the world started have been charging since they arrived
            self._ev_done_wh = np.where(plugged, np.minimum(a.ev_need_wh, (hour - arrival) % 24 * a.ev_max_w), 0.0)
        charging = plugged & (self._ev_done_wh < a.ev_need_wh)
        ev_wanted = np.where(charging, a.ev_max_w, 0.0)
        ev = ev_wanted * self.flex_limit
        temp = outdoor_temperature_c(local.timetuple().tm_yday, hour)
        hp_wanted = a.heat_pump_w * heat_demand(temp)
        hp = hp_wanted * self.flex_limit
        consumption = load + ev + hp
        # generation
        poa = self._sky.poa_w_m2(now)
        pv = a.pv_kwp * poa * clear_sky_index(self._cloud) * PV_PERFORMANCE_RATIO * self.pv_limit
        pv = np.minimum(pv, self.pv_cap_w)
        wind = a.wind_kw * 1000 * wind_power_share(self._wind)
        # home batteries: the controller's choice, then what the state of charge allows
        surplus = pv + wind - consumption
        want = np.where(np.isnan(self.battery_setpoint_w), surplus, self.battery_setpoint_w)
        battery = np.clip(want, -a.battery_max_w, a.battery_max_w)
        room = (a.battery_wh - a.battery_soc_wh) / BATTERY_EFFICIENCY * 3600 / h
        stored = a.battery_soc_wh * BATTERY_EFFICIENCY * 3600 / h
        battery = np.clip(battery, -stored, room)
        hi = np.minimum(a.battery_max_w, room) - battery  # more charging possible
        lo = np.maximum(-a.battery_max_w, -stored) - battery  # more discharging possible (≤ 0)
        connected = ~(self.ufls.shed | self.relay_open)
        # frequency over the tick
        if first:
            self._trace = [self.frequency_hz]
        else:
            self._integrate_frequency(h, consumption, pv + wind, battery, lo, hi, connected)
        connected = ~(self.ufls.shed | self.relay_open)
        f0 = c.interconnection.f0_hz
        f = self.frequency_hz
        df_pu = f / f0 - 1
        fcr = fcr_response(f - f0, a.battery_max_w, lo, hi) if c.battery_fcr else np.zeros(n)
        battery = battery + fcr
        if not self.breaker_closed:
            consumption = consumption * (1 + c.island.load_damping_pu * df_pu)
            pv, wind = pv * lfsm_o(f), wind * lfsm_o(f)
        on = connected.astype(float)
        consumption, pv, wind, battery, ev = consumption * on, pv * on, wind * on, battery * on, ev * on
        p = consumption - pv - wind + battery
        q = consumption * math.tan(math.acos(c.community.power_factor))
        if not first:
            charge = np.clip(battery, 0, None) * BATTERY_EFFICIENCY - np.clip(-battery, 0, None) / BATTERY_EFFICIENCY
            a.battery_soc_wh = np.clip(a.battery_soc_wh + charge * h / 3600, 0.0, a.battery_wh)
            self._ev_done_wh += ev * h / 3600
            # what the EV chargers and heat pumps did not draw because of their limit (the ground truth of
            # a curtailment, e.g. demand response)
            self.flex_curtailed_wh += (ev_wanted + hp_wanted) * (1.0 - self.flex_limit) * on * h / 3600
            self.import_wh += np.clip(p, 0, None) * h / 3600
            self.export_wh += np.clip(-p, 0, None) * h / 3600
            self.pv_wh += pv * h / 3600
            self.wind_wh += wind * h / 3600
        gfb_w = self._community_battery_output(self.community_battery_setpoint_w, h) if self.breaker_closed else 0.0
        flow = self.network.solve(p, q, gfb_w, islanded=not self.breaker_closed)
        if not self.breaker_closed:
            gfb_w = flow.slack_p_w
        if not first:
            self.trafo_import_wh += max(flow.trafo_p_w, 0.0) * h / 3600
            self.trafo_export_wh += max(-flow.trafo_p_w, 0.0) * h / 3600
            e = gfb_w * h / 3600
            self.community_battery_soc_wh -= e / BATTERY_EFFICIENCY if e > 0 else e * BATTERY_EFFICIENCY
            self.community_battery_soc_wh = min(max(self.community_battery_soc_wh, 0.0),
                                                c.island.battery_capacity_wh)
        rocof = f0 * (self.interconnection.dfdt if self.breaker_closed else self.island.dfdt)
        ends = self.network.feeder_ends
        return WorldSnapshot(
            t_s=self.clock.t_s, time=now, frequency_hz=f, rocof_hz_s=rocof,
            system_frequency_hz=self.interconnection.frequency_hz, breaker_closed=self.breaker_closed,
            trafo_p_w=flow.trafo_p_w, trafo_q_var=flow.trafo_q_var, trafo_loss_w=flow.trafo_loss_w,
            line_loss_w=flow.line_loss_w, community_battery_w=gfb_w,
            community_battery_soc=self.community_battery_soc_wh / c.island.battery_capacity_wh,
            busbar_v=flow.busbar_v_pu * V_LN_NOMINAL,
            feeder_end_v=tuple(float(flow.connection_v_pu[i]) * V_LN_NOMINAL for i in ends),
            poa_w_m2=poa, cloud_cover=self._cloud, wind_m_s=self._wind, outdoor_c=temp,
            p_w=frozen(p), q_var=frozen(q), v_v=frozen(flow.connection_v_pu * V_LN_NOMINAL),
            consumption_w=frozen(consumption), pv_w=frozen(pv), wind_w=frozen(wind), battery_w=frozen(battery),
            battery_soc=frozen(np.divide(a.battery_soc_wh, a.battery_wh, out=np.zeros(n), where=a.battery_wh > 0)),
            ev_w=frozen(ev), frequency_trace_hz=frozen(np.array(self._trace)), connected=frozen(connected),
            import_wh=frozen(self.import_wh), export_wh=frozen(self.export_wh), pv_wh=frozen(self.pv_wh),
            wind_wh=frozen(self.wind_wh),
            ufls_tripped=tuple(self.ufls.tripped),
            converged=flow.iterations_ok, trafo_import_wh=self.trafo_import_wh, trafo_export_wh=self.trafo_export_wh,
        )

    def _advance_processes(self, h: float) -> None:
        c = self.config
        n = self.assets.size
        a = math.exp(-h / 900.0)
        self._slow = self._slow * a + c.load_noise * math.sqrt(1 - a * a) * self._noise_rng.standard_normal(n)
        b = math.exp(-h / 20.0)
        fast = 0.5 * c.load_noise
        self._fast = self._fast * b + fast * math.sqrt(1 - b * b) * self._noise_rng.standard_normal(n)
        self._cloud = min(1.0, max(0.0, ou_step(self._cloud, self.cloud_mean, 0.2, 1800.0, h,
                                                float(self._weather_rng.standard_normal()))))
        self._wind = max(0.0, ou_step(self._wind, c.wind_mean_m_s, 2.0, 600.0, h,
                                      float(self._weather_rng.standard_normal())))

    def _integrate_frequency(self, h: float, consumption: np.ndarray, generation: np.ndarray,
                             battery: np.ndarray, lo: np.ndarray, hi: np.ndarray, connected: np.ndarray) -> None:
        c = self.config
        f0 = c.interconnection.f0_hz
        steps = max(1, round(h / c.substep_s))
        sub = h / steps
        t0 = self.clock.t_s - h
        losses = self._snapshot.line_loss_w
        balance = Balance.of(consumption, generation, battery, connected, losses)
        limit = self.community_battery_limit_w
        p_max = min(limit, self.community_battery_soc_wh * 3600 / h)
        p_min = -limit if self.community_battery_soc_wh < c.island.battery_capacity_wh else 0.0
        max_w = self.assets.battery_max_w
        trace = self._trace
        trace.clear()
        if self.breaker_closed:  # it changes only between ticks
            trace.extend(self.interconnection.run(t0, sub, steps))
            return
        for k in range(steps):
            self.interconnection.step(t0 + (k + 1) * sub, sub)
            dev_hz = self.island.frequency_hz - f0
            fcr = float(fcr_response(dev_hz, max_w[connected], lo[connected], hi[connected]).sum()) \
                if c.battery_fcr else 0.0
            f = self.island.substep(sub, balance, fcr, self.community_battery_setpoint_w, p_min, p_max)
            trace.append(f)
            if self.ufls.run(f, sub):
                connected = ~(self.ufls.shed | self.relay_open)
                balance = Balance.of(consumption, generation, battery, connected, losses)

    def ufls_stage_of(self, connection: int) -> int:
        """The UFLS stage that sheds ``connection`` (−1: never shed)."""
        return int(self.ufls.stage_of[connection])

    def _community_battery_output(self, setpoint_w: float, h: float) -> float:
        isl = self.config.island
        top = min(self.community_battery_limit_w, self.community_battery_soc_wh * BATTERY_EFFICIENCY * 3600 / h)
        bottom = -min(self.community_battery_limit_w,
                      (isl.battery_capacity_wh - self.community_battery_soc_wh) / BATTERY_EFFICIENCY * 3600 / h)
        return min(max(setpoint_w, bottom), top)
