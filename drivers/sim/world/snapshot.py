"""What the world looks like at one instant: one immutable value shared by every face."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy, so a snapshot handed to another thread cannot change under it."""
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, slots=True)
class WorldSnapshot:
    """All in SI units; per-connection arrays are indexed by connection (+ = drawn from the network)."""

    t_s: float
    time: datetime
    frequency_hz: float  # what every meter in the community sees
    rocof_hz_s: float
    system_frequency_hz: float  # the interconnection's (differs from frequency_hz only when islanded)
    breaker_closed: bool
    trafo_p_w: float  # import at the transformer's 10 kV side (− = export)
    trafo_q_var: float
    trafo_loss_w: float
    line_loss_w: float
    community_battery_w: float  # + discharge
    community_battery_soc: float  # 0..1
    busbar_v: float  # LV busbar, phase-to-neutral
    feeder_end_v: tuple[float, ...]  # per feeder, the farthest connection's voltage
    poa_w_m2: float  # clear-sky irradiance on the modules
    cloud_cover: float
    wind_m_s: float
    outdoor_c: float
    p_w: np.ndarray  # net power at each meter
    q_var: np.ndarray
    v_v: np.ndarray  # each meter's phase-to-neutral voltage
    consumption_w: np.ndarray  # household / business load incl. EV and heat pump
    pv_w: np.ndarray
    wind_w: np.ndarray
    battery_w: np.ndarray  # + charging
    battery_soc: np.ndarray  # 0..1, 0 where there is no battery
    ev_w: np.ndarray
    frequency_trace_hz: np.ndarray  # the frequency at each 10 ms sub-step of the tick that ended at t_s
    connected: np.ndarray  # False where a relay (UFLS or the operator's) has disconnected it
    import_wh: np.ndarray  # each meter's energy counters since the world started
    export_wh: np.ndarray
    pv_wh: np.ndarray  # each PV inverter's energy since the world started
    wind_wh: np.ndarray  # each wind turbine's energy since the world started
    ufls_tripped: tuple[bool, ...]
    converged: bool
    # the transformer's energy counters since the world started (10 kV side, as trafo_p_w): what the
    # community drew from the upstream grid, and what it fed back
    trafo_import_wh: float = 0.0
    trafo_export_wh: float = 0.0

    @property
    def demand_w(self) -> float:
        return float(self.consumption_w.sum())

    @property
    def load_w(self) -> float:
        """The community's load as the substation publishes it (``Demand``): consumption plus what the home
        batteries and the community battery charge, so supply − load is the network's losses."""
        return self.demand_w + float(np.clip(self.battery_w, 0.0, None).sum()) + max(0.0, -self.community_battery_w)

    @property
    def pv_total_w(self) -> float:
        return float(self.pv_w.sum())

    @property
    def supply_w(self) -> float:
        """What feeds the community: local generation and battery discharge plus the net import over the
        transformer (negative when exporting) and the community battery; equals demand + charging + losses."""
        return float(self.pv_w.sum() + self.wind_w.sum() + np.clip(-self.battery_w, 0.0, None).sum()) \
            + self.trafo_p_w + self.community_battery_w


def grid_supply_reading(s: WorldSnapshot) -> tuple[int, int]:
    """The grid's supply meter at the community's point of connection (the MV/LV transformer; on chain
    keccak("grid-supply"), registered by `energynet chain up` for the grid-maker's account, which is also its
    reading device), as a MeterReading reading: ``(import_wh, export_wh)`` since the world started,
    whole Wh. The grid is the participant, so its *export* is what the community imported over the
    transformer (what the grid delivered on the trades it sold) and its *import* what the community fed back."""
    return int(s.trafo_export_wh), int(s.trafo_import_wh)
