"""Sunshine for the community: pvlib's clear-sky irradiance on the modules, dimmed by clouds.

Per simulated day one table of plane-of-array irradiance (W/m², 1-minute steps)
is computed with pvlib (Ineichen clear sky with the Linke turbidity climatology,
Perez-free isotropic transposition onto a 30° south-facing roof) and then only
interpolated, so a tick costs microseconds. Clouds are one Ornstein–Uhlenbeck
cloud-cover index for the whole community (a suburb is smaller than a cloud),
turned into a clear-sky index with Kasten–Czeplak: k = 1 − 0.75·c^3.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np


@dataclass(frozen=True, slots=True)
class Site:
    """Where the community is (defaults: a suburb of Munich)."""

    latitude: float = 48.137
    longitude: float = 11.575
    altitude_m: float = 520.0
    timezone: str = "Europe/Berlin"
    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0


def daytime_start(now: datetime, site: Site | None = None, hour: int = 11) -> datetime:
    """Where a demo's clock starts so that the sun shines: ``now`` when it is 10:00–14:00 at the site (the
    sun is up then all year at these latitudes), else ``hour``:00 site time of today's local date."""
    tz = ZoneInfo((site or Site()).timezone)
    local = now.astimezone(tz)
    if 10 <= local.hour < 14:
        return local.replace(microsecond=0)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


class ClearSky:
    """Plane-of-array clear-sky irradiance at any instant, one pvlib table per local day."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._tz = ZoneInfo(site.timezone)
        import pvlib  # type: ignore[import-untyped]  # here, not at the top: Site is read before pvlib is needed

        self._location = pvlib.location.Location(site.latitude, site.longitude, site.timezone, site.altitude_m)
        self._day: date | None = None
        self._start = 0.0  # POSIX seconds of the table's first sample
        self._poa = np.zeros(0)

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    def poa_w_m2(self, when: datetime) -> float:
        """Clear-sky irradiance on the modules at ``when`` (aware datetime)."""
        local = when.astimezone(self._tz)
        if local.date() != self._day:
            self._compute(local.date())
        minutes = (when.timestamp() - self._start) / 60.0
        i = min(max(int(minutes), 0), len(self._poa) - 2)
        frac = min(max(minutes - i, 0.0), 1.0)
        return float(self._poa[i] * (1 - frac) + self._poa[i + 1] * frac)

    def _compute(self, day: date) -> None:
        import pandas as pd  # type: ignore[import-untyped]
        import pvlib

        start = datetime(day.year, day.month, day.day, tzinfo=self._tz)
        times = pd.date_range(start, start + timedelta(days=1), freq="1min")
        sky = self._location.get_clearsky(times, model="ineichen")
        sun = self._location.get_solarposition(times)
        poa = pvlib.irradiance.get_total_irradiance(
            self.site.tilt_deg, self.site.azimuth_deg, sun["apparent_zenith"], sun["azimuth"],
            sky["dni"], sky["ghi"], sky["dhi"],
        )["poa_global"]
        self._poa = np.nan_to_num(poa.to_numpy(dtype=float), nan=0.0).clip(min=0.0)
        self._start = start.timestamp()
        self._day = day


def clear_sky_index(cloud_cover: float) -> float:
    """Kasten–Czeplak: share of clear-sky irradiance that reaches the ground under cover 0..1."""
    c = min(max(cloud_cover, 0.0), 1.0)
    return float(1.0 - 0.75 * c**3.4)
