"""The market's alarms against a real MarketService on SQLite: a trade far from the reference price is a
price spike (band from [market] price_spike_band), an operator's suspension is "trading suspended" until
resumed, a failed journal write stops the market."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import text

from console.services.alarm_sources import MARKET_PRICE_SPIKE, MARKET_STOPPED, MARKET_SUSPENDED, AlarmSources
from console.services.market import MarketService, MarketUnavailable
from console.store.market_journal import SqlMarketJournal
from core.access import Role, User
from core.market import MarketRules, OrderSpec, PricingConfig, Side
from tests.store.test_market_service import NOW, PRODUCT, Clock

pytestmark = pytest.mark.store


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, float]] = []

    def set_condition(self, alarm: str, active: bool, value: float = math.nan) -> object:
        self.calls.append((alarm, active, value))
        return []


async def trade(svc: MarketService, n: int, price: int) -> None:
    await svc.submit(OrderSpec(f"s{n}", "alice", PRODUCT, Side.SELL, 100, price))
    out = await svc.submit(OrderSpec(f"b{n}", "bob", PRODUCT, Side.BUY, 100, price))
    assert [t.price for t in out.trades] == [price]


async def test_price_spike_beyond_the_band_a_suspension_and_a_stopped_market(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    clock = Clock(NOW)
    # base 200 and no grid, time-of-use or peak factor: the reference price is 200; band 0.5 → 100 to 300
    svc = MarketService(MarketRules(), SqlMarketJournal(url), pricing=PricingConfig(base=200), clock=clock)
    sink = Sink()
    src = AlarmSources(sink, [MARKET_STOPPED, MARKET_SUSPENDED, MARKET_PRICE_SPIKE], [], clock=clock,
                       market=svc, price_band=0.5)
    await svc.start()
    try:
        await svc.tick()
        assert svc.snapshot().reference is not None and svc.snapshot().reference.price == 200  # type: ignore[union-attr]
        src.poll(clock())
        assert [(a, b) for a, b, _ in sink.calls] == [(MARKET_STOPPED, False), (MARKET_SUSPENDED, False),
                                                      (MARKET_PRICE_SPIKE, False)]
        sink.calls.clear()
        await trade(svc, 1, 300)  # 100 above: on the band's edge, not beyond it
        src.poll(clock())
        assert sink.calls == []
        await trade(svc, 2, 301)  # 101 above: a spike, reported with the trade's price
        src.poll(clock())
        assert sink.calls == [(MARKET_PRICE_SPIKE, True, 301.0)]
        await trade(svc, 3, 120)  # back within the band
        src.poll(clock())
        assert sink.calls[-1][:2] == (MARKET_PRICE_SPIKE, False)
        sink.calls.clear()

        ann = User("ann", Role.OPERATOR)
        await svc.suspend("meter data missing for feeder 3", PRODUCT, by=ann)  # one product
        src.poll(clock())
        await svc.suspend("chain maintenance", by=ann)  # and the whole market: still the one alarm, value 2
        src.poll(clock())
        await svc.resume(PRODUCT, by=ann)
        src.poll(clock())
        assert sink.calls == [(MARKET_SUSPENDED, True, 1.0)]  # active while any suspension is in force
        await svc.resume(by=ann)
        src.poll(clock())
        assert sink.calls[-1][:2] == (MARKET_SUSPENDED, False)
        sink.calls.clear()

        other = SqlMarketJournal(url)
        with other.engine.begin() as conn:
            conn.execute(text("DROP TABLE market_fills"))  # the next trade cannot be stored
        other.close()
        with pytest.raises(MarketUnavailable):
            await trade(svc, 4, 200)
        src.poll(clock())
        assert [(a, b) for a, b, _ in sink.calls] == [(MARKET_STOPPED, True)]
    finally:
        await svc.stop()


def test_a_band_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="price_spike_band must be above 0"):
        AlarmSources(Sink(), [], [], price_band=0)
