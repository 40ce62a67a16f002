"""The trading tab end to end: a real participant API (uvicorn on a free port, httpx clients, signed
orders), the market on a SQLite journal, the tab refreshed by its 20 Hz frame timer on a qasync loop.

An order entered in the ticket is in the ladder and in ``GET /api/v1/trades/available`` within 200 ms; a
participant's signed order that fills it moves it to the tape with its settlement state; a suspended
market refuses the ticket and the API (503, with the reason) alike.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.support.isolated import only_isolated, run_isolated

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_trading_view_in_a_process_of_its_own() -> None:
    """A qasync loop with a shown window: in a pytest process of its own (tests/support/isolated.py)."""
    run_isolated(__file__, "test_ticket_ladder_api_tape_and_suspension")


@only_isolated
def test_ticket_ladder_api_tape_and_suspension(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import httpx
    import qasync
    from PySide6.QtCore import QTimer

    from console.api.app import ApiServer, create_app
    from console.api.participants import ParticipantDirectory
    from console.services.market import MarketService
    from console.store.market_journal import SqlMarketJournal
    from console.ui.trading_view import MAKER, TradingView
    from core.access import Role, User
    from core.market import MarketRules, OrderSpec, PricingConfig, Side
    from tests.api.conftest import CHAIN_ID, _trader, write_participants

    traders = {n: _trader(n) for n in ("carol",)}
    participants = tmp_path / "participants.toml"
    write_participants(participants, traders, suspended=set())
    market = MarketService(MarketRules(tick=5, lot=100), SqlMarketJournal(f"sqlite:///{tmp_path / 'm.db'}"),
                           pricing=PricingConfig(base=250))
    app = create_app(market, ParticipantDirectory.load(participants), rate_per_s=1000, burst=1000,
                     chain_id=CHAIN_ID)
    server = ApiServer(app, "127.0.0.1", 0)
    view = TradingView(market, User("olga", Role.OPERATOR))
    view.resize(1500, 850)
    timer = QTimer()
    timer.timeout.connect(view.refresh)  # the main window's frame: 20 Hz

    async def until(pred, timeout_s: float = 2.0) -> float:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        while not pred():
            if time.perf_counter() - start > timeout_s:
                raise AssertionError(f"not within {timeout_s} s")
            await asyncio.sleep(0.005)
        return time.perf_counter() - start

    async def scenario() -> None:
        await market.start()
        await server.start()
        view.show()
        timer.start(50)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
                await until(lambda: view.frames_drawn > 0)
                product = market.upcoming(3)[1].product
                view.select_product(product)
                await until(lambda: view.ticket.product.currentData() == product)
                ticket = view.ticket
                assert ticket.account.currentText() == MAKER
                ticket.buy.click()
                ticket.quantity.setText("1.5")
                ticket.price.setText("245")
                assert ticket.send.isEnabled(), ticket.problem_label.text()

                # 1. ticket → book → ladder and API within 200 ms (the client connected, as a participant's is)
                assert (await client.get("/api/v1/trades/available", params={"product": product})).json() == []
                started = time.perf_counter()
                ticket.send.click()
                await until(lambda: (245, "bid") in view.ladder.rows, 1.0)
                in_ladder = time.perf_counter() - started
                body = (await client.get("/api/v1/trades/available", params={"product": product})).json()
                in_api = time.perf_counter() - started
                assert [(o["side"], o["price"], o["remaining"]) for o in body] == [("buy", 245, 1500)]
                assert in_ladder < 0.2 and in_api < 0.2, (in_ladder, in_api)
                row = view.ladder.rows.index((245, "bid"))
                assert view.ladder.table.text(row, 1) == "1.5" and view.ladder.table.text(row, 0) == "1.5"
                oid = body[0]["order_id"]
                assert view.order_ids == [oid]

                # 2. carol's signed sell fills 1.0 kWh of it: the tape shows the trade, settlement "matched"
                carol = traders["carol"]
                r = await client.post("/api/v1/trades/offer",
                                      json=carol.order(product=product, side="sell", quantity=1000, price=245))
                assert r.status_code == 201, r.text
                assert [t["quantity"] for t in r.json()["trades"]] == [1000]
                await until(lambda: view.tape.rowCount() == 1)
                assert [view.tape.text(0, c) for c in (2, 3, 5, 6, 7)] == ["245", "1.0", MAKER, "carol", "matched"]
                await until(lambda: view.orders.text(0, 4) == "0.5")  # 0.5 kWh still open, 1.0 filled
                assert view.orders.text(0, 5) == "1.0"
                assert view.ladder.table.text(view.ladder.rows.index((245, "bid")), 1) == "0.5"

                # 3. the operator suspends the product: the ticket and the API refuse, with the reason
                view.ask_suspension = lambda _p: (product, "feeder 3 protection test")
                view.confirm = lambda _title, _text, _act: True
                task = view.suspend_clicked()
                assert task is not None
                await task
                await until(lambda: not ticket.send.isEnabled())
                assert ticket.send.text() == "Trading suspended"
                assert "feeder 3 protection test" in ticket.problem_label.text()
                r = await client.post("/api/v1/trades/offer",
                                      json=carol.order(product=product, side="sell", quantity=500, price=245))
                assert r.status_code == 503, r.text
                problem = r.json()
                assert "feeder 3 protection test" in problem["detail"] and "market-suspended" in r.text
                assert market.trades_in(product)[-1].quantity == 1000  # nothing more traded
                # the ticket's own path refuses as well (an order sent before the screen noticed)
                refused = view.send_order(OrderSpec("", MAKER, product, Side.BUY, 500, 245))
                await refused
                assert "refused" in ticket.result.text() and "feeder 3 protection test" in ticket.result.text()
                assert len(market.available(product)) == 1
        finally:
            timer.stop()
            await server.stop()
            await market.stop()
            view.close()

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(scenario())
