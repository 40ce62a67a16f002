"""The physical network: pandapower's Kerber "Vorstadtnetz" behind its 630 kVA MV/LV transformer.

``create_kerber_vorstadtnetz_kabel_1`` is a real German suburban LV benchmark:
a 10/0.4 kV 630 kVA Dyn5 transformer, ten NAYY 4x150 feeders, 146 house
connections (294 buses). Every connection point of the world is one of its
loads; the world writes each connection's net power into that load and a
Newton–Raphson load flow gives bus voltages, line and transformer losses and
the transformer flow.

Two copies of the net share the same buses and loads: one interconnected (the
slack is the 10 kV grid behind the transformer), one islanded (transformer
out, the slack is the grid-forming community battery on the LV busbar). Each
keeps pandapower's ``recycle`` cache (admittance matrix built once, only bus
P/Q change between steps), which cuts a load flow from ~45 ms to ~12 ms here.
pandapower runs with ``numba=False``: numba is not installed (it would add
~100 MB and a JIT warm-up of seconds for a net that already solves in ~12 ms).
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import os
import pickle
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandapower as pp  # type: ignore[import-untyped]
import pandapower.networks as pn  # type: ignore[import-untyped]
from platformdirs import user_cache_dir

log = logging.getLogger(__name__)

LV_BUSBAR = 1  # "main_busbar": the transformer's LV side and the community battery's bus
V_LN_NOMINAL = 400.0 / math.sqrt(3)  # a meter's phase-to-neutral nominal voltage

_RECYCLE = {"trafo": False, "gen": False, "bus_pq": True}


@dataclass(frozen=True, slots=True)
class Connection:
    """One house connection of the benchmark net."""

    index: int  # position in the world's arrays
    load: int  # pandapower load index
    bus: int
    feeder: int  # 1..10
    name: str  # bus name, e.g. "loadbus_3_12"


@dataclass(frozen=True, slots=True)
class FlowResult:
    """What one load flow says (SI units; P, Q positive into the community)."""

    trafo_p_w: float  # at the 10 kV side: import of the community (0 when islanded)
    trafo_q_var: float
    trafo_loss_w: float
    line_loss_w: float
    slack_p_w: float  # what the slack supplies: trafo_p_w interconnected, the battery islanded
    connection_v_pu: np.ndarray  # per connection
    busbar_v_pu: float
    iterations_ok: bool


FEEDERS = 10  # the Kerber Vorstadtnetz's; drivers.sim.world.preview publishes this many before the net is built


def _cache_file() -> Path:
    folder = Path(user_cache_dir("energynet", "EnergyNet")) / "world"
    return folder / f"kerber_vorstadtnetz_kabel_1-pp{pp.__version__}.pickle"


@functools.cache
def _benchmark_net() -> pp.pandapowerNet:
    """Built once per process; each world works on its own deep copy.

    pandapower builds the net row by row through pandas (1.5 s of CPU here, 8 s on a loaded machine), so the
    built net is kept in the user's cache folder (pickle, keyed by pandapower's version: ~30 ms to load) and
    built again only when that file is missing or unreadable. The file is ours, written by this function."""
    cache = _cache_file()
    try:
        with cache.open("rb") as f:
            net = pickle.load(f)  # our own cache file (see above), never one from elsewhere
        if isinstance(net, pp.pandapowerNet) and len(net.load) == 146:
            return net
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        pass
    net = pn.create_kerber_vorstadtnetz_kabel_1()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(net))
        os.replace(tmp, cache)
    except OSError as exc:
        log.info("world: the network cache %s could not be written (%s); it is built on each start", cache, exc)
    return net


class Network:
    """The benchmark net in both states and its load flow."""

    def __init__(self) -> None:
        self.grid = copy.deepcopy(_benchmark_net())
        self.grid.load["const_z_p_percent"] = 0.0  # constant-power loads: the world says what they draw
        self.community_battery_load = pp.create_load(self.grid, LV_BUSBAR, p_mw=0.0, name="community battery")
        self.island = copy.deepcopy(self.grid)
        self.island.trafo.loc[:, "in_service"] = False
        self.island.ext_grid.loc[:, "in_service"] = False
        self.island.bus.loc[0, "in_service"] = False
        pp.create_ext_grid(self.island, LV_BUSBAR, vm_pu=1.0, name="grid-forming community battery")
        loads = self.grid.load.drop(index=self.community_battery_load)
        names = self.grid.bus.name
        self.connections = tuple(
            Connection(i, int(load), int(bus), int(str(names[bus]).split("_")[1]), str(names[bus]))
            for i, (load, bus) in enumerate(zip(loads.index, loads.bus, strict=True))
        )
        self._load_index = loads.index.to_numpy()
        self._buses = loads.bus.to_numpy()
        self.feeder_ends = self._feeder_ends()
        assert len(self.feeder_ends) == FEEDERS, f"the benchmark net has {len(self.feeder_ends)} feeders"
        self._last: dict[bool, FlowResult] = {}

    def _feeder_ends(self) -> tuple[int, ...]:
        """Per feeder the connection electrically farthest from the busbar (the largest path resistance)."""
        line = self.grid.line
        r = line.r_ohm_per_km * line.length_km
        parent: dict[int, tuple[int, float]] = {int(t): (int(f), float(x)) for f, t, x in
                                                zip(line.from_bus, line.to_bus, r, strict=True)}
        ends: dict[int, tuple[float, int]] = {}
        for c in self.connections:
            bus, total = c.bus, 0.0
            while bus in parent:
                bus, x = parent[bus]
                total += x
            if c.feeder not in ends or total > ends[c.feeder][0]:
                ends[c.feeder] = (total, c.index)
        return tuple(ends[f][1] for f in sorted(ends))

    def path_to_busbar(self, bus: int) -> list[tuple[int, int]]:
        """The lines (from_bus, to_bus) from ``bus`` up to the busbar, nearest first."""
        line = self.grid.line
        parent = {int(t): int(f) for f, t in zip(line.from_bus, line.to_bus, strict=True)}
        path = []
        while bus in parent:
            path.append((parent[bus], bus))
            bus = parent[bus]
        return path

    def solve(self, p_w: np.ndarray, q_var: np.ndarray, battery_w: float, islanded: bool) -> FlowResult:
        """Run one load flow for the connections' net powers (W, var; + consumption)
        and the community battery's output ``battery_w`` (+ discharge; ignored islanded: it is the slack)."""
        net = self.island if islanded else self.grid
        net.load.loc[self._load_index, "p_mw"] = p_w * 1e-6
        net.load.loc[self._load_index, "q_mvar"] = q_var * 1e-6
        net.load.loc[self.community_battery_load, "p_mw"] = 0.0 if islanded else -battery_w * 1e-6
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runpp(net, numba=False, init="results" if net.get("converged") else "auto",
                         recycle=_RECYCLE, check_connectivity=False)
        except pp.LoadflowNotConverged:
            # an injection the network cannot carry: keep the last solution, flagged, rather than stop the world
            log.warning("world: load flow did not converge (%s, %.0f kW net); the last solution stands",
                        "islanded" if islanded else "interconnected", p_w.sum() / 1e3)
            last = self._last.get(islanded)
            if last is None:
                raise
            return replace(last, iterations_ok=False)
        v = net.res_bus.vm_pu.to_numpy()
        line_loss = float(net.res_line.pl_mw.sum()) * 1e6
        if islanded:
            trafo_p = trafo_q = trafo_loss = 0.0
            slack = float(net.res_ext_grid.p_mw.iloc[-1]) * 1e6
        else:
            trafo_p = float(net.res_trafo.p_hv_mw.iloc[0]) * 1e6
            trafo_q = float(net.res_trafo.q_hv_mvar.iloc[0]) * 1e6
            trafo_loss = float(net.res_trafo.pl_mw.iloc[0]) * 1e6
            slack = trafo_p
        result = FlowResult(trafo_p, trafo_q, trafo_loss, line_loss, slack,
                            v[self._buses].copy(), float(v[LV_BUSBAR]), True)
        self._last[islanded] = result
        return result
