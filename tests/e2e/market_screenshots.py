"""Screenshots of the trading tab (F4) and the grid view's market panel (F1) during a running market: a real
grid simulator over OPC-UA, the market on a SQLite journal, orders from several accounts, some trades.

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.e2e.market_screenshots OUT_DIR
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import sys
import time
from importlib import resources
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

from console.bootstrap import build
from console.config import default_config_path, load
from console.ui.main_window import MainWindow
from core.access import Role, User
from core.market import OrderKind, OrderSpec, PricingConfig, Side, TimeInForce, TouBand
from drivers.sim.grid.server import GridSimServer
from tests.conftest import free_port
from tests.support.demo_fleet import device_specs, midday_fleet

ACCOUNTS = ("house-01", "house-02", "house-03", "house-04", "school", "grid-maker")


async def place_book(app: object, seed: int = 7) -> None:
    """A believable book: makers quote around 250 on the next four products, then a few takers trade."""
    market = app.market  # type: ignore[attr-defined]
    rng = random.Random(seed)
    upcoming = [p.product for p in market.upcoming(4)]
    n = 0
    for k, product in enumerate(upcoming):
        mid = 250 + 6 * k
        for who in ACCOUNTS:
            for _ in range(3):
                n += 1
                side = Side.BUY if rng.random() < 0.5 else Side.SELL
                off = rng.randint(1, 14)
                px = mid - off if side is Side.BUY else mid + off
                qty = rng.randint(2, 40) * 100
                await market.submit(OrderSpec(f"shot-{n}", who, product, side, qty, px))
    # then 40 s of trading on the first product: takers hit the book, makers quote again behind them
    mid = 250
    for i in range(20):
        who = rng.choice(ACCOUNTS[:5])
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        await market.submit(OrderSpec(f"take-{i}", who, upcoming[0], side, rng.randint(3, 25) * 100, None,
                                      OrderKind.MARKET_WITH_LIMIT, TimeInForce.IOC))
        mid += rng.choice((-2, -1, 0, 1, 2))
        maker = rng.choice(ACCOUNTS)
        await market.submit(OrderSpec(f"re-{i}", maker, upcoming[0], Side.SELL if side is Side.BUY else Side.BUY,
                                      rng.randint(5, 30) * 100, mid + (3 if side is Side.BUY else -3)))
        await asyncio.sleep(2.0)


async def fresh(app: object, timeout_s: float = 30.0) -> None:
    """Until the grid's frequency has been fresh for a second (a loaded machine drops the sim's session)."""
    acq = app.acquisition  # type: ignore[attr-defined]
    end = time.monotonic() + timeout_s
    good_since = None
    while time.monotonic() < end:
        f = acq.snapshot().frequency
        if f is not None and f.quality.usable:
            good_since = good_since or time.monotonic()
            if time.monotonic() - good_since > 1.0:
                return
        else:
            good_since = None
        await asyncio.sleep(0.05)


async def shoot(out: Path, qapp: QApplication) -> None:
    sim = GridSimServer(port=free_port(), rate_hz=20)
    await sim.start()
    # six households with meters, PV and batteries (Modbus), owners house-01 … 06
    fleet, layout = await midday_fleet(6)
    devices = device_specs(fleet, layout, timeout_s=0.5)
    settings = load(default_config_path())
    sources = tuple(dataclasses.replace(s, endpoint=sim.endpoint) for s in settings.sources)
    settings = dataclasses.replace(
        settings, sources=sources, modbus=devices,
        historian=dataclasses.replace(settings.historian, enabled=True, url=f"sqlite:///{out / 'shots.db'}",
                                      spool=str(out / "spool")),
        market=dataclasses.replace(settings.market, enabled=True, tick=1, lot=100))
    app = build(settings)
    assert app.market is not None
    # A pricing with a time-of-use band and a grid-balance factor, so the components mean something.
    app.market.pricing = PricingConfig(base=250, tou=(TouBand(0, 1440, 1_100_000),), sensitivity_ppm=400_000,
                                       grid_factor_min_ppm=700_000, grid_factor_max_ppm=1_500_000)
    win = MainWindow(settings, app.acquisition, app.monitor, app.historian, app.commands, None, None, app.alarms,
                     app.market)
    win.resize(1600, 900)
    win.show()
    await app.start()
    try:
        await asyncio.sleep(3)
        await place_book(app)
        await asyncio.sleep(4)
        win.tabs.setCurrentIndex(0)
        await asyncio.sleep(2.5)
        await fresh(app)
        win.grab().save(str(out / "market_f1.png"))
        assert win.trading_view is not None
        win.tabs.setCurrentWidget(win.trading_view)
        win.trading_view.ticket.quantity.setText("2.5")
        win.trading_view.ticket.price.setText("247")
        await asyncio.sleep(1.5)
        await fresh(app)
        win.grab().save(str(out / "market_f4.png"))
        assert win.participants_view is not None
        win.tabs.setCurrentWidget(win.participants_view)
        await asyncio.sleep(0.6)
        win.participants_view.refresh()
        win.participants_view.select("house-02")
        await asyncio.sleep(0.6)
        win.grab().save(str(out / "market_participants.png"))
        win.tabs.setCurrentWidget(win.trading_view)
        await app.market.suspend("feeder 2 protection test", win.trading_view.product,
                                 by=User("operator", Role.OPERATOR))
        await asyncio.sleep(1.5)
        win.grab().save(str(out / "market_f4_suspended.png"))
    finally:
        win.timer.stop()
        await app.stop()
        await fleet.stop()
        await sim.stop()
        win.close()


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/market_shots")
    out.mkdir(parents=True, exist_ok=True)
    qapp = QApplication.instance() or QApplication(sys.argv)
    qapp.setStyleSheet(resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8"))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    started = time.monotonic()
    with loop:
        loop.run_until_complete(shoot(out, qapp))
    print(f"screenshots in {out} ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
