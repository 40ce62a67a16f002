"""A small historian for the production endpoints: alice owns a meter and a PV inverter, bob a meter; the
grid has a frequency and one bus. Written through the store's insert, read through the real reader."""

from __future__ import annotations

import math
from pathlib import Path

import pvlib  # type: ignore[import-untyped]  # noqa: F401  imported here, not inside the first forecast request
import statsmodels.tsa.holtwinters  # type: ignore[import-untyped]  # noqa: F401

from console.services.forecast import ForecastService
from console.services.report_production import ProductionService
from console.services.reports import ReportSite, VoltageBus
from console.store.database import make_engine, upgrade
from console.store.report_queries import SqlSampleReader
from console.store.samples import SampleStore
from core.participants import Asset, AssetKind, Participant
from core.roles import Role

DAY = 86400.0


def site() -> ReportSite:
    return ReportSite(
        "API test site", "grid.frequency", (VoltageBus("Bus 1", "bus1.voltage", 230.0),),
        (Participant("alice", (Asset("alice-meter", AssetKind.METER), Asset("alice-pv", AssetKind.PV))),
         Participant("bob", (Asset("bob-meter", AssetKind.METER),))),
        (((("alice-meter", Role.POWER)), ("alice-meter.P",)), ((("alice-pv", Role.POWER)), ("alice-pv.W",)),
         ((("bob-meter", Role.POWER)), ("bob-meter.P",))),
        max_gap_s=120.0)


def write(db: Path, t0: float, days: int) -> None:
    """From ``t0`` (a UTC midnight), one sample a minute: alice's PV 2 kW from 06:00 to 18:00 (else 0), her
    meter 500 W import at night and 1.5 kW export by day (so she uses 500 W throughout), bob's meter 1 kW
    import; the frequency 50.0 Hz except 49.7 Hz from 10:00 to 10:06 on each day; the bus at 232.3 V."""
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = SampleStore(engine)
    rows = []
    for m in range(int(days * 1440)):
        t = t0 + 60 * m
        minute = m % 1440
        day = 360 <= minute < 1080
        us = round(t * 1e6)
        rows += [("alice-pv.W", us, 2000.0 if day else 0.0, 0), ("alice-meter.P", us, -1500.0 if day else 500.0, 0),
                 ("bob-meter.P", us, 1000.0, 0), ("grid.frequency", us, 49.7 if 600 <= minute < 606 else 50.0, 0),
                 ("bus1.voltage", us, 232.3, 0)]
    store.insert(rows)
    engine.dispose()


def production_service(tmp: Path, now: float, days: int = 3) -> ProductionService:
    """The service on ``days`` days of data ending at the UTC midnight before ``now``, plus ``now``'s day."""
    start = math.floor(now / DAY) * DAY - days * DAY
    db = tmp / "production.sqlite"
    write(db, start, days + 1)
    reader = SqlSampleReader(f"sqlite:///{db}")
    s = site()
    return ProductionService(reader, s, ForecastService(reader, s, history_days=2, eval_days=1, clock=lambda: now),
                             clock=lambda: now)
