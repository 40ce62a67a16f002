"""The participant API end to end over real HTTP: three participants' signed orders, matching, history,
cancel, idempotent execute, the stream, and every kind of bad input refused with its field and rule and
nothing applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from console.api.app import ApiServer, create_app
from console.api.participants import ParticipantDirectory
from tests.api.conftest import CHAIN_ID, NOW, PRODUCT, Market

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


async def offer(m: Market, who: str, **fields: Any) -> httpx.Response:
    return await m.client.post("/api/v1/trades/offer", json=m.traders[who].order(**fields))


def problem(resp: httpx.Response, status: int, field: str | None, rule: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json", resp.headers
    body: dict[str, Any] = resp.json()
    assert (body["status"], body["field"], body["rule"]) == (status, field, rule), body
    return body


async def test_three_participants_trade_and_see_their_history(market: Market) -> None:
    m = market
    a = await offer(m, "alice", side="sell", quantity=1000, price=200)
    b = await offer(m, "bob", side="sell", quantity=500, price=210)
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    bob_order = b.json()["order"]["order_id"]
    avail = (await m.client.get("/api/v1/trades/available", params={"product": PRODUCT})).json()
    assert [(o["price"], o["remaining"]) for o in avail] == [(200, 1000), (210, 500)]
    c = await offer(m, "carol", side="buy", quantity=1200, price=210)
    assert c.status_code == 201, c.text
    # Carol takes all of alice's 1000 Wh at 200, then 200 of bob's 500 at 210; nothing of hers rests.
    body = c.json()
    assert [(t["price"], t["quantity"], t["side"]) for t in body["trades"]] == [(200, 1000, "buy"), (210, 200, "buy")]
    assert body["order"]["status"] == "filled" and body["order"]["filled"] == 1200
    hist = (await m.client.get("/api/v1/trades/history", headers=m.traders["bob"].auth)).json()
    assert [(t["quantity"], t["side"], t["sell_id"]) for t in hist] == [(200, "sell", bob_order)]
    # Naming himself is the same; asking for carol's history is 403 and names both.
    own = await m.client.get("/api/v1/trades/history", headers=m.traders["bob"].auth, params={"participant": "bob"})
    assert own.json() == hist
    body = problem(await m.client.get("/api/v1/trades/history", headers=m.traders["bob"].auth,
                                      params={"participant": "carol"}), 403, "query.participant", "own-data-only")
    assert body["detail"] == "participant 'bob' may read only its own data, not 'carol''s"
    assert (await m.client.get("/api/v1/trades/history", params={"participant": "carol"})).status_code == 401
    mine = (await m.client.get("/api/v1/orders", headers=m.traders["bob"].auth, params={"open": True})).json()
    assert [(o["order_id"], o["remaining"]) for o in mine] == [(bob_order, 300)]
    # Bob cancels his rest; alice may not cancel it, and the cancel is not repeated.
    other = await m.client.delete(f"/api/v1/orders/{bob_order}", headers=m.traders["alice"].auth)
    problem(other, 404, "order_id", "not-owner")
    done = await m.client.delete(f"/api/v1/orders/{bob_order}", headers=m.traders["bob"].auth)
    assert done.status_code == 200 and (done.json()["status"], done.json()["cancelled"]) == ("cancelled", 300)
    again = await m.client.delete(f"/api/v1/orders/{bob_order}", headers=m.traders["bob"].auth)
    problem(again, 409, "order_id", "order-closed")
    assert (await m.client.get("/api/v1/trades/available")).json() == []


async def test_execute_with_the_same_key_twice_trades_once(market: Market) -> None:
    m = market
    a = await offer(m, "alice", side="sell", quantity=1000, price=200)
    offer_id = a.json()["order"]["order_id"]
    body = m.traders["carol"].execute(offer_id, 400, 200)
    first = await m.client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": "key-0001"})
    second = await m.client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": "key-0001"})
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    assert [(t["quantity"], t["price"]) for t in first.json()["trades"]] == [(400, 200)]
    assert second.json()["trades"] == first.json()["trades"]
    assert second.json()["order"] == first.json()["order"]
    hist = (await m.client.get("/api/v1/trades/history", headers=m.traders["carol"].auth)).json()
    assert [t["quantity"] for t in hist] == [400]  # one trade, not two
    assert m.service.order(offer_id).remaining == 600  # type: ignore[union-attr]
    # The same key for a different quantity is a conflict, and trades nothing.
    other = m.traders["carol"].execute(offer_id, 500, 200)
    resp = await m.client.put("/api/v1/trades/execute", json=other, headers={"Idempotency-Key": "key-0001"})
    problem(resp, 409, "header.Idempotency-Key", "idempotency-key-reused")
    assert m.service.order(offer_id).remaining == 600  # type: ignore[union-attr]
    # The same signed execute under another key is a replay: refused, nothing traded.
    resp = await m.client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": "key-0002"})
    problem(resp, 409, "nonce", "nonce-reused")
    assert m.service.order(offer_id).remaining == 600  # type: ignore[union-attr]


async def test_an_execute_signs_an_order_whose_limit_crosses_the_offer(market: Market) -> None:
    m = market
    offer_id = (await offer(m, "alice", side="sell", quantity=1000, price=200)).json()["order"]["order_id"]
    carol = m.traders["carol"]
    # a buy limit of 195 below the offer's 200: it could never trade at the offer's price
    resp = await m.client.put("/api/v1/trades/execute", json=carol.execute(offer_id, 100, 195),
                              headers={"Idempotency-Key": "low-limit-1"})
    problem(resp, 422, "price", "price-not-crossing")
    # signed for a sell (the offer's own side): the order the API rebuilds is a buy, so the signature is not hers
    resp = await m.client.put("/api/v1/trades/execute", json=carol.execute(offer_id, 100, 200, side="sell"),
                              headers={"Idempotency-Key": "wrong-side-1"})
    problem(resp, 401, "signature", "signature-mismatch")
    # a limit above the offer is fine: the trade is at the offer's 200, within the signed 210
    resp = await m.client.put("/api/v1/trades/execute", json=carol.execute(offer_id, 100, 210),
                              headers={"Idempotency-Key": "high-limit-1"})
    assert resp.status_code == 200, resp.text
    assert [(t["quantity"], t["price"]) for t in resp.json()["trades"]] == [(100, 200)]
    assert m.service.order(offer_id).remaining == 900  # type: ignore[union-attr]


async def test_the_stream_sees_the_trade(market: Market) -> None:
    m = market
    ws_url = m.url.replace("http", "ws") + "/api/v1/stream"
    async with websockets.connect(ws_url) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "snapshot" and first["books"] == []
        await offer(m, "alice", side="sell", quantity=1000, price=200)
        await offer(m, "carol", side="buy", quantity=300, price=205)
        trades: list[dict[str, Any]] = []
        books: list[dict[str, Any]] = []
        while not trades:
            msg = json.loads(await ws.recv())
            trades += msg["trades"]
            books += msg["books"]
    assert [(t["price"], t["quantity"]) for t in trades] == [(200, 300)]
    assert books[-1]["asks"] == [[200, 700]] and books[-1]["volume_wh"] == 300


def _count(m: Market) -> int:
    return len(m.service.book.journal)


@pytest.mark.parametrize(("fields", "status", "field", "rule"), [
    ({"quantity": 0}, 422, "quantity", "greater_than_equal"),
    ({"quantity": -100}, 422, "quantity", "greater_than_equal"),
    ({"quantity": 150}, 422, "quantity", "invalid-quantity"),  # off-lot (lot 100)
    ({"price": -5}, 422, "price", "greater_than_equal"),
    ({"price": 0}, 422, "price", "greater_than_equal"),
    ({"price": 203}, 422, "price", "invalid-price"),  # off-tick (tick 5)
    ({"product": PRODUCT + 17}, 422, "product", "unknown-product"),
    ({"product": PRODUCT - 900 * 4}, 422, "product", "product-closed"),  # past gate closure
    ({"product": PRODUCT + 3 * 86400}, 422, "product", "product-not-open"),
    ({"tif": "gtd", "valid_until": NOW - 1}, 422, "valid_until", "expired"),
    ({"participant": "nobody"}, 422, "participant", "unknown-participant"),
    ({"condition": "frequency < 49.9"}, 422, "condition", "condition-syntax"),
    ({"side": "hold"}, 422, "side", "literal_error"),
    ({"extra": 1}, 422, "extra", "extra_forbidden"),
])
async def test_bad_orders_are_refused_with_field_and_rule(market: Market, fields: dict[str, Any], status: int,
                                                          field: str, rule: str) -> None:
    m = market
    before = m.service.book.snapshot()
    resp = await offer(m, "alice", **fields)
    problem(resp, status, field, rule)
    after = m.service.book.snapshot()
    assert after.orders == before.orders and after.products == before.products  # nothing applied


async def test_signature_problems_and_suspension(market: Market) -> None:
    m = market
    before = _count(m)
    body = m.traders["alice"].order()
    body["signature"] = "0x1234"
    problem(await m.client.post("/api/v1/trades/offer", json=body), 422, "signature", "signature-malformed")
    body = m.traders["alice"].order(signature="0x" + "00" * 65)
    problem(await m.client.post("/api/v1/trades/offer", json=body), 422, "signature", "signature-malformed")
    forged = m.traders["bob"].order()
    forged["participant"] = "alice"  # bob's signature over an order in alice's name
    problem(await m.client.post("/api/v1/trades/offer", json=forged), 401, "signature", "signature-mismatch")
    tampered = m.traders["alice"].order(price=200)
    tampered["price"] = 100  # signed at 200
    problem(await m.client.post("/api/v1/trades/offer", json=tampered), 401, "signature", "signature-mismatch")
    problem(await offer(m, "mallory"), 403, "participant", "participant-suspended")
    problem(await m.client.get("/api/v1/orders", headers=m.traders["mallory"].auth), 403,
            "header.Authorization", "participant-suspended")
    problem(await m.client.get("/api/v1/orders"), 401, "header.Authorization", "token-missing")
    problem(await m.client.get("/api/v1/orders", headers={"Authorization": "Bearer nope"}), 401,
            "header.Authorization", "token-unknown")
    assert _count(m) == before  # none reached the book
    # The same signed order twice is a replay: the second is refused.
    once = m.traders["alice"].order()
    assert (await m.client.post("/api/v1/trades/offer", json=once)).status_code == 201
    problem(await m.client.post("/api/v1/trades/offer", json=once), 409, "nonce", "duplicate-order-id")
    assert len(m.service.book.orders) == 1


async def test_oversize_body_is_refused_before_anything_runs(market: Market) -> None:
    m = market
    big = m.traders["alice"].order()
    big["signature"] = "0x" + "ab" * 2100  # ~4.2 kB > the 4096-byte limit of this app
    before = _count(m)
    problem(await m.client.post("/api/v1/trades/offer", json=big), 413, "body", "body-too-large")
    # Without a Content-Length (streamed in chunks) too.
    chunks = [json.dumps(big).encode()[i:i + 1000] for i in range(0, 4300, 1000)]

    async def gen():  # type: ignore[no-untyped-def]
        for chunk in chunks:
            yield chunk

    resp = await m.client.post("/api/v1/trades/offer", content=gen(), headers={"content-type": "application/json"})
    problem(resp, 413, "body", "body-too-large")
    assert _count(m) == before


async def test_rate_limit_answers_429_with_retry_after(market: Market, tmp_path: Path) -> None:
    m = market
    app = create_app(m.service, ParticipantDirectory.load(tmp_path / "participants.toml"), rate_per_s=0.01, burst=2,
                     chain_id=CHAIN_ID)
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            codes = [(await client.get("/api/v1/orders", headers=m.traders["bob"].auth)).status_code
                     for _ in range(2)]
            assert codes == [200, 200]
            resp = await client.get("/api/v1/orders", headers=m.traders["bob"].auth)
            problem(resp, 429, None, "rate-limited")
            assert int(resp.headers["Retry-After"]) >= 1
            # Another participant has its own bucket.
            assert (await client.get("/api/v1/orders", headers=m.traders["carol"].auth)).status_code == 200
    finally:
        await server.stop()


async def test_openapi_is_3_1_and_lists_the_seed_endpoints(market: Market) -> None:
    spec = (await market.client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/trades/offer", "/api/v1/trades/available", "/api/v1/trades/execute", "/api/v1/trades/history",
            "/api/v1/orders", "/api/v1/orders/{order_id}"} <= set(spec["paths"])


async def test_an_execute_repeated_after_a_restart_trades_nothing_more(market: Market, tmp_path: Path) -> None:
    from console.services.market import MarketService
    from console.store.market_journal import SqlMarketJournal
    from core.market import MarketRules

    m = market
    offer_id = (await offer(m, "alice", side="sell", quantity=1000, price=200)).json()["order"]["order_id"]
    body = m.traders["carol"].execute(offer_id, 300, 200)
    first = await m.client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": "restart-key-1"})
    assert first.status_code == 200, first.text
    await m.service.stop()  # the console goes down after the ack …
    service = MarketService(MarketRules(tick=5, lot=100), SqlMarketJournal(m.db), clock=m.clock)
    await service.start()  # … and comes back on the same journal
    app = create_app(service, ParticipantDirectory.load(tmp_path / "participants.toml"), chain_id=CHAIN_ID)
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            again = await client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": "restart-key-1"})
            assert again.status_code == 200, again.text
            assert again.json()["trades"] == first.json()["trades"]
            hist = (await client.get("/api/v1/trades/history", headers=m.traders["carol"].auth)).json()
        assert [(t["quantity"], t["price"]) for t in hist] == [(300, 200)]
        assert service.order(offer_id).remaining == 700  # type: ignore[union-attr]
        assert service.mismatches == ()
    finally:
        await server.stop()
        await service.stop()


async def test_once_the_product_closed_the_store_answers_for_its_orders(market: Market) -> None:
    """Alice's 1000 Wh offer, carol takes 300 of it by an execute; the product's gate closes (P - 300) and the
    book forgets both orders: the execute repeated answers as the first did, /orders still lists them, a
    cancel of the closed offer is order-closed (409) and another's is not-owner (404)."""
    import asyncio

    m = market
    offer_id = (await offer(m, "alice", side="sell", quantity=1000, price=200)).json()["order"]["order_id"]
    body = m.traders["carol"].execute(offer_id, 300, 200)
    first = await m.client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": "closed-key-1"})
    assert first.status_code == 200, first.text
    m.clock.t = PRODUCT - 300
    await m.service.tick()
    for _ in range(6000):  # (bounded at 60 s; the tick task may have decided the closure first: its commit compacts)
        if m.service.compacted_orders:
            break
        await asyncio.sleep(0.01)
    assert m.service.compacted_orders == 2 and m.service.order(offer_id) is None
    again = await m.client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": "closed-key-1"})
    assert again.status_code == 200, again.text
    assert again.json()["trades"] == first.json()["trades"]
    assert again.json()["order"] == first.json()["order"]  # the IOC order: filled 300 when it was taken
    mine = (await m.client.get("/api/v1/orders", headers=m.traders["alice"].auth)).json()
    assert [(o["order_id"], o["status"], o["filled"], o["cancelled"]) for o in mine] == \
        [(offer_id, "gate-closed", 300, 700)]
    assert (await m.client.get("/api/v1/orders", headers=m.traders["alice"].auth, params={"open": True})).json() == []
    hist = (await m.client.get("/api/v1/trades/history", headers=m.traders["carol"].auth)).json()
    assert [(t["quantity"], t["price"]) for t in hist] == [(300, 200)]
    problem(await m.client.delete(f"/api/v1/orders/{offer_id}", headers=m.traders["alice"].auth),
            409, "order_id", "order-closed")
    problem(await m.client.delete(f"/api/v1/orders/{offer_id}", headers=m.traders["bob"].auth),
            404, "order_id", "not-owner")
