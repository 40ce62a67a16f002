"""MarketService without HTTP: the grid as the market sees it, the reference price on ticks, and a journal
that fails (on a real SQLite file) stops the market instead of acknowledging what is not stored."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import text

from console.services.market import MarketService, MarketUnavailable, grid_view
from console.store.market_journal import SqlMarketJournal
from core.bands import Band
from core.grid import GridSnapshot, Reading
from core.market import GridView, MarketRules, OrderSpec, PricingConfig, Side, parse_condition
from core.points import PointDef, PointKind, Quality

pytestmark = pytest.mark.store

PRODUCT = 1_800_000_000
NOW = PRODUCT - 3600


def reading(pid: str, kind: PointKind, value: float, nominal: float = math.nan, bus: str | None = None,
            quality: Quality = Quality.GOOD) -> Reading:
    return Reading(PointDef(id=pid, name=pid, unit="", kind=kind, nominal=nominal, bus=bus), value, quality, 0.0,
                   Band.NORMAL)


def snapshot(freq: float = 49.95, demand: float = 42_000.0, supply: float = 30_000.0) -> GridSnapshot:
    return GridSnapshot(
        ts=0.0, frequency=reading("f", PointKind.FREQUENCY, freq), rocof_hz_s=0.0, rocof_quality=Quality.GOOD,
        voltages=(reading("v3", PointKind.VOLTAGE, 248.4, nominal=230.0, bus="feeder_3"),
                  reading("v4", PointKind.VOLTAGE, 230.0, nominal=230.0, quality=Quality.BAD)),
        demand=reading("d", PointKind.DEMAND, demand), supply=reading("s", PointKind.SUPPLY, supply),
        active_event=None, last_event=None)


def test_the_grid_view_is_in_integer_market_units() -> None:
    view = grid_view(snapshot())
    # 49.95 Hz = 49 950 mHz; supply − demand = 30 kW − 42 kW = −12 000 W; 248.4 V / 230 V = 1.08 pu.
    # The bad-quality voltage is left out.
    assert view == GridView.of(49_950, -12_000, {"feeder_3": 1_080_000})
    assert grid_view(None) is None


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_ticks_activate_conditions_and_publish_the_reference_price(tmp_path: Path) -> None:
    grid = {"snap": snapshot(freq=50.0)}
    clock = Clock(NOW)
    # base 200; grid factor 1 + 0.5 × (42 − 30) / 42 = 1.142857… → 228.57 → 229 (half up, tick 1).
    pricing = PricingConfig(base=200, sensitivity_ppm=500_000, grid_factor_min_ppm=500_000,
                            grid_factor_max_ppm=2_000_000)
    svc = MarketService(MarketRules(), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.sqlite'}"), lambda: grid["snap"],
                        pricing=pricing, clock=clock)
    await svc.start()
    try:
        sub = svc.subscribe()
        await svc.submit(OrderSpec("s1", "alice", PRODUCT, Side.SELL, 500, 200))
        out = await svc.submit(OrderSpec("b1", "bob", PRODUCT, Side.BUY, 500, 200,
                                         condition=parse_condition("frequency < 49.9 Hz")))
        assert out.order is not None and out.order.status.value == "pending"
        clock.t += 1
        grid["snap"] = snapshot(freq=49.85)
        tick = await svc.tick()
        assert [(t.buyer, t.seller, t.quantity) for t in tick.trades] == [("bob", "alice", 500)]
        snap = svc.snapshot()
        assert snap.reference is not None and snap.reference.price == 229
        assert snap.grid == GridView.of(49_850, -12_000, {"feeder_3": 1_080_000})
        assert snap.products[0].gate_closure_in_s == 3600 - 300 - 1
        seen = []
        while not sub.queue.empty():
            update = sub.queue.get_nowait()
            assert update is not None
            seen += [t.quantity for t in update.trades]
        assert seen == [500]
    finally:
        await svc.stop()


async def test_a_failed_journal_write_stops_the_market_and_acknowledges_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    svc = MarketService(MarketRules(), SqlMarketJournal(url), clock=Clock(NOW))
    await svc.start()
    try:
        await svc.submit(OrderSpec("s1", "alice", PRODUCT, Side.SELL, 500, 200))
        other = SqlMarketJournal(url)
        with other.engine.begin() as conn:
            conn.execute(text("DROP TABLE market_fills"))  # the next write with a trade cannot be stored
        other.close()
        with pytest.raises(MarketUnavailable, match="journal write failed"):
            await svc.submit(OrderSpec("b1", "bob", PRODUCT, Side.BUY, 500, 200))
        with pytest.raises(MarketUnavailable, match="stopped taking orders"):
            await svc.submit(OrderSpec("b2", "bob", PRODUCT, Side.BUY, 100, 150))
        assert svc.snapshot().failure is not None
    finally:
        await svc.stop()
    # What is stored is only what was acknowledged: alice's order, still resting.
    again = MarketService(MarketRules(), SqlMarketJournal(url), clock=Clock(NOW))
    await again.start()
    try:
        assert [(v.order_id, v.status.value) for v in again.orders_of("alice")] == [("s1", "resting")]
        assert again.orders_of("bob") == []
    finally:
        await again.stop()
