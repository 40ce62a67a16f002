"""Day-ahead PV: a pvlib clear-sky prior (Ineichen, on the modules' plane) times a learned clear-sky index.

The clear-sky index of a past step is measured power / clear-sky irradiance. Learned per step of the day
(it absorbs the array's size, orientation, losses and shading at that sun position) as the median over
the recent days and ±30 minutes — the median, as cloudy steps are rare, deep outliers; the forecast = tomorrow's
clear-sky irradiance × that index. Steps where the clear sky is dark carry no index and forecast zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.forecast.errors import Array


@dataclass(frozen=True, slots=True)
class PvSite:
    """Where the modules are and how they face (defaults: the simulated community's suburb of Munich)."""

    latitude: float = 48.137
    longitude: float = 11.575
    altitude_m: float = 520.0
    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0


DARK_W_M2 = 20.0  # clear-sky plane-of-array irradiance below which a step is night for the index


def clear_sky_poa(site: PvSite, starts: Array, step_s: float) -> Array:
    """Clear-sky plane-of-array irradiance (W/m²) averaged over each step starting at ``starts`` (POSIX s),
    from five instants per step."""
    import pandas as pd  # type: ignore[import-untyped]
    import pvlib  # type: ignore[import-untyped]

    sub = (np.asarray(starts, dtype=np.float64)[:, None] + step_s * (np.arange(5) + 0.5)[None, :] / 5).ravel()
    times = pd.DatetimeIndex(pd.to_datetime(sub, unit="s", utc=True))
    loc = pvlib.location.Location(site.latitude, site.longitude, "UTC", site.altitude_m)
    sky = loc.get_clearsky(times, model="ineichen")
    sun = loc.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(site.tilt_deg, site.azimuth_deg, sun["apparent_zenith"],
                                                sun["azimuth"], sky["dni"], sky["ghi"], sky["dhi"])["poa_global"]
    v = np.nan_to_num(np.asarray(poa, dtype=np.float64), nan=0.0).clip(min=0.0)
    out: Array = v.reshape(-1, 5).mean(axis=1)
    return out


def learned_index(days: Sequence[Array], priors: Sequence[Array], recent: int = 14, pool: int = 2) -> Array:
    """Per step of the day, the median of power / clear-sky irradiance over the last ``recent`` days and the
    ``pool`` steps either side (±30 min at 15-minute steps: five times the samples, still following the
    array's orientation), where the clear sky is not dark (W per W/m²; 0 where it always is)."""
    if len(days) != len(priors) or not days:
        raise ValueError(f"need a prior per day, got {len(days)} days and {len(priors)} priors")
    p = np.vstack(list(priors)[-recent:])
    y = np.vstack(list(days)[-recent:])
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(p >= DARK_W_M2, y / p, np.nan)
    steps = k.shape[1]
    out: Array = np.zeros(steps)
    for s in range(steps):
        v = k[:, max(0, s - pool):min(steps, s + pool + 1)]
        v = v[np.isfinite(v)]
        if v.size and np.isfinite(k[:, s]).any():
            out[s] = float(np.median(v))
    return np.maximum(out, 0.0)


def day_ahead_pv(days: Sequence[Array], priors: Sequence[Array], tomorrow_prior: Array) -> Array:
    """Tomorrow's PV power per step: its clear-sky prior × the index learned from the past days."""
    k = learned_index(days, priors)
    out: Array = np.where(tomorrow_prior >= DARK_W_M2, tomorrow_prior * k, 0.0)
    return out


def daylight(prior: Array) -> np.ndarray:
    """The steps that count for a PV error: clear-sky irradiance at least :data:`DARK_W_M2`."""
    return np.asarray(prior >= DARK_W_M2)
