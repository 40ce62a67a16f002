"""The fleet: every household an API client over HTTP with its own key, trading its forecast.

Each round (``interval_s``) every household looks at the next open delivery products, offers its forecast
surplus or bids for its shortfall, and takes its turn through the order types, so that every type is used
across the fleet in every round: limit good-till-close, good-till-date, IOC, fill-or-kill, market-with-limit,
scheduled (``valid_from``), conditional, grid-balanced, an execute of a resting offer (``PUT
/trades/execute``), a modify and a cancel of one of its own resting orders. It signs its own orders in the
EIP-712 domain the API publishes (``GET /api/v1/eip712``); the console never sees a key.

What happened is counted per order type: requests by HTTP status and the orders that traded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_typed_data

from drivers.sim.traders.households import Household

log = logging.getLogger(__name__)

KINDS = ("gtc", "gtd", "ioc", "fok", "market", "scheduled", "conditional", "grid", "execute", "modify", "cancel")
ORDER_KINDS = KINDS[:8]  # the ones that are orders of their own (execute makes an IOC order too)


@dataclass
class Stats:
    """Per order type: requests by status, orders placed, and orders that traded."""

    status: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    orders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    traded: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    errors: list[str] = field(default_factory=list)  # 5xx and transport errors, first ones
    refusals: list[str] = field(default_factory=list)  # the last 4xx answers (what the API refused and why)

    def summary(self) -> dict[str, Any]:
        return {k: {"status": dict(self.status[k]), "orders": len(self.orders[k]), "traded": len(self.traded[k])}
                for k in KINDS if k in self.status}


@dataclass(frozen=True, slots=True)
class Market:
    """What the fleet reads from the API once: the signing domain and the market's rules it trades by."""

    domain: dict[str, Any]
    types: dict[str, list[dict[str, str]]]
    encodings: dict[str, dict[str, int]]


class Trader:
    """One household's client: signs and sends its orders, remembers which of them are its resting ones."""

    def __init__(self, household: Household, client: httpx.AsyncClient, market: Market, stats: Stats) -> None:
        self.h, self.client, self.market, self.stats = household, client, market, stats
        self.kind_of: dict[str, str] = {}  # own order id -> order type
        self.signed: dict[str, dict[str, Any]] = {}  # own order id -> the body as signed
        self.auth = {"Authorization": f"Bearer {household.api_token}"}

    # -- signing ---------------------------------------------------------------------------------------------

    def _sign(self, primary: str, message: dict[str, Any]) -> str:
        types = {"EIP712Domain": self.market.types["EIP712Domain"], primary: self.market.types[primary]}
        data = {"types": types, "primaryType": primary, "domain": self.market.domain, "message": message}
        signed = Account.sign_message(encode_typed_data(full_message=data), self.h.key)
        return "0x" + bytes(signed.signature).hex()

    def order_body(self, **order: Any) -> dict[str, Any]:
        """A signed ``POST /trades/offer`` body (fields as docs/market.md; defaults limit, GTC)."""
        enc = self.market.encodings
        body: dict[str, Any] = {"participant": self.h.id, "kind": "limit", "tif": "gtc", "grid": "none",
                                "nonce": secrets.randbits(63), **order}
        price = body.get("price")
        message = {
            "participant": self.h.address, "product": body["product"], "side": enc["side"][body["side"]],
            "quantity": body["quantity"], "price": price or 0, "hasPrice": price is not None,
            "kind": enc["kind"][body["kind"]], "tif": enc["tif"][body["tif"]],
            "validFrom": body.get("valid_from") or 0, "validUntil": body.get("valid_until") or 0,
            "condition": body.get("condition") or "", "grid": enc["grid"][body["grid"]], "nonce": body["nonce"],
        }  # fmt: skip
        body["signature"] = self._sign("Order", message)
        return body

    # -- requests --------------------------------------------------------------------------------------------

    def _count(self, kind: str, resp: httpx.Response) -> None:
        self.stats.status[kind][resp.status_code] += 1
        if resp.status_code >= 500 and len(self.stats.errors) < 20:
            self.stats.errors.append(f"{kind}: {resp.status_code} {resp.text[:200]}")
        elif resp.status_code >= 400:
            self.stats.refusals = [*self.stats.refusals[-19:], f"{kind}: {resp.status_code} {resp.text[:160]}"]

    def _outcome(self, kind: str, resp: httpx.Response, body: dict[str, Any] | None = None) -> None:
        if resp.status_code not in (200, 201):
            return
        out = resp.json()
        oid = out["order"]["order_id"]
        if kind in ORDER_KINDS or kind == "execute":
            self.kind_of[oid] = kind
            self.stats.orders[kind].add(oid)
            if body is not None:
                self.signed[oid] = body
        for t in out["trades"]:
            for own in (t["buy_id"], t["sell_id"]):
                if own in self.kind_of:
                    self.stats.traded[self.kind_of[own]].add(own)

    async def offer(self, what: str, **order: Any) -> None:
        """Sign and submit one order; ``what`` is the order type it is counted under."""
        body = self.order_body(**order)
        resp = await self.client.post("/api/v1/trades/offer", json=body)
        self._count(what, resp)
        self._outcome(what, resp, body)

    async def execute(self, side: str, quantity: int) -> None:
        """Take (part of) the best resting offer of the other side that is not one's own."""
        resp = await self.client.get("/api/v1/trades/available")
        self._count("available", resp)
        if resp.status_code != 200:
            return
        wanted = "sell" if side == "buy" else "buy"
        offers = [o for o in resp.json() if o["side"] == wanted and o["order_id"] not in self.kind_of]
        if not offers:
            return
        best = offers[0]  # the API lists best first per product and side
        qty = min(quantity, best["remaining"])
        key = secrets.token_hex(12)
        # The taker signs an Order like any other (the offer's product, the other side, its price as the limit,
        # immediate-or-cancel), so the trade settles on chain against two signed orders.
        order = self.order_body(product=best["product"], side=side, quantity=qty, price=best["price"], tif="ioc")
        body = {"participant": self.h.id, "offer_id": best["order_id"], "quantity": qty, "price": best["price"],
                "nonce": order["nonce"], "signature": order["signature"]}
        resp = await self.client.put("/api/v1/trades/execute", json=body, headers={"Idempotency-Key": key})
        self._count("execute", resp)
        self._outcome("execute", resp)

    async def _resting(self) -> list[dict[str, Any]]:
        resp = await self.client.get("/api/v1/orders", params={"open": "true"}, headers=self.auth)
        self._count("orders", resp)
        if resp.status_code != 200:
            return []
        return [o for o in resp.json() if o["status"] == "resting" and o["order_id"] in self.signed]

    async def modify(self) -> None:
        """Reduce one resting order by a lot (keeps priority), or move its price away from the market within
        what it signed (loses priority)."""
        resting = await self._resting()
        if not resting:
            return
        o = resting[-1]
        if o["remaining"] > 100:
            change: dict[str, int] = {"quantity": o["remaining"] - 100}
        else:
            change = {"price": o["price"] + (5 if o["side"] == "sell" else -5)}
            if change["price"] < 0:
                return
        resp = await self.client.patch(f"/api/v1/orders/{o['order_id']}", json=change, headers=self.auth)
        self._count("modify", resp)
        self._outcome("modify", resp)

    async def cancel(self, target: dict[str, Any]) -> None:
        """Cancel one own resting order: the one least likely to trade first (the lowest buy, the highest sell:
        others take the best prices). With none resting, rest ``target`` (a deep order) and cancel that. An
        order that traded or closed between the listing and the cancel (409/404) is not a failed cancel: the
        next one is tried, so every cancel turn ends with one order cancelled whatever the other households
        did meanwhile."""
        resting = sorted(await self._resting(), key=lambda o: o["price"] if o["side"] == "buy" else -o["price"])
        if not resting:
            body = self.order_body(**target)
            resp = await self.client.post("/api/v1/trades/offer", json=body)
            self._count("cancel-target", resp)
            if resp.status_code != 201 or resp.json()["order"]["status"] != "resting":
                return
            resting = [resp.json()["order"]]
            self.kind_of[resting[0]["order_id"]] = "cancel-target"  # own: never executed against by oneself
        for o in resting:
            resp = await self.client.delete(f"/api/v1/orders/{o['order_id']}", headers=self.auth)
            if resp.status_code not in (404, 409):  # 200, or a failure worth counting (429, 5xx)
                break
        self._count("cancel", resp)

    async def collect_trades(self) -> None:
        """Count the own orders that traded since (resting, scheduled and conditional orders trade later)."""
        resp = await self.client.get("/api/v1/trades/history", params={"limit": 1000}, headers=self.auth)
        self._count("history", resp)
        if resp.status_code != 200:
            return
        for t in resp.json():
            for own in (t["buy_id"], t["sell_id"]):
                if own in self.kind_of:
                    self.stats.traded[self.kind_of[own]].add(own)


class Fleet:
    """All households trading through one API (one process; one HTTP connection per household)."""

    def __init__(self, households: list[Household], api_url: str, net_wh: Callable[[Household, int], int], *,
                 clock: Callable[[], float] = time.time, interval_s: float = 2.0, reference_price: int = 250,
                 lot: int = 100, tick: int = 1, gate_closure_s: int = 300, period_s: int = 900, products: int = 2,
                 max_lots: int = 20, seed: int = 1) -> None:
        self.households, self.api_url, self.net_wh = households, api_url, net_wh
        self.clock, self.interval_s, self.ref = clock, interval_s, reference_price
        self.lot, self.tick, self.gate_closure_s, self.period_s = lot, tick, gate_closure_s, period_s
        self.products, self.max_lots = products, max_lots
        self.rnd = random.Random(seed)
        self.stats = Stats()
        self.rounds = 0
        self.traders: list[Trader] = []

    def open_products(self) -> list[int]:
        """The next ``products`` delivery periods still before their gate closure (with a minute to spare)."""
        now = int(self.clock())
        first = (now + self.gate_closure_s + 60) // self.period_s * self.period_s + self.period_s
        return [first + i * self.period_s for i in range(self.products)]

    def _price(self, offset: int) -> int:
        p = max(self.tick, self.ref + offset)
        return p - p % self.tick

    async def _domain(self, client: httpx.AsyncClient, wait_s: float) -> dict[str, Any]:
        """The published signing domain; retried for up to ``wait_s`` while the API is not up yet."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                pub: dict[str, Any] = (await client.get("/api/v1/eip712")).raise_for_status().json()
                return pub
            except httpx.HTTPError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.5)

    async def run(self, seconds: float | None = None, stop: asyncio.Event | None = None,
                  wait_s: float = 0.0) -> Stats:
        """Trade until ``seconds`` have passed or ``stop`` is set; returns the counts. ``wait_s``: how long
        to wait for the API to answer first."""
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [httpx.AsyncClient(base_url=self.api_url, timeout=10, limits=limits) for _ in self.households]
        try:
            pub = await self._domain(clients[0], wait_s)
            market = Market(pub["domain"], pub["types"], pub["encodings"])
            self.traders = [Trader(h, c, market, self.stats) for h, c in zip(self.households, clients, strict=True)]
            end = None if seconds is None else time.monotonic() + seconds
            while (end is None or time.monotonic() < end) and not (stop is not None and stop.is_set()):
                started = time.monotonic()
                await asyncio.gather(*(self._turn(i, t) for i, t in enumerate(self.traders)))
                self.rounds += 1
                pause = max(0.0, self.interval_s - (time.monotonic() - started))
                if stop is None:
                    await asyncio.sleep(pause)
                else:  # a stop ends the pause at once (the demo stops the fleet before the API it trades with)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
            if stop is None or not stop.is_set():
                await asyncio.sleep(min(self.interval_s, 1.5))  # let scheduled and conditional orders activate
            await asyncio.gather(*(t.collect_trades() for t in self.traders))
        finally:
            for c in clients:
                await c.aclose()
        return self.stats

    async def _turn(self, i: int, t: Trader) -> None:
        kind = KINDS[(i + self.rounds) % len(KINDS)]
        try:
            for product in self.open_products()[:1] if kind in ("modify", "cancel") else self.open_products():
                net = self.net_wh(t.h, product)
                side = "sell" if net > 0 else "buy"
                lots = max(1, min(self.max_lots, abs(net) // self.lot))
                await self._one(t, kind, side, product, lots * self.lot)
        except httpx.HTTPError as exc:
            if len(self.stats.errors) < 20:
                self.stats.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            log.warning("%s: %s request failed: %s", t.h.id, kind, exc)

    async def _one(self, t: Trader, kind: str, side: str, product: int, qty: int) -> None:
        sign = 1 if side == "buy" else -1  # an aggressive price is above the reference for a buy
        # A passive price rests off the reference: most a little, some deep in the book (those rest long
        # enough to be modified or cancelled later).
        depth = self.rnd.randint(5, 20) if self.rnd.random() < 0.6 else self.rnd.randint(30, 45)
        passive = self._price(-sign * depth)
        aggressive = self._price(sign * 15)
        now = int(self.clock())
        base = {"product": product, "side": side}
        if kind == "gtc":
            await t.offer(kind, **base, quantity=qty, price=passive)
        elif kind == "gtd":
            await t.offer(kind, **base, quantity=qty, price=passive, tif="gtd", valid_until=now + 120)
        elif kind == "ioc":
            await t.offer(kind, **base, quantity=qty, price=aggressive, tif="ioc")
        elif kind == "fok":
            await t.offer(kind, **base, quantity=self.lot, price=aggressive, tif="fok")
        elif kind == "market":
            # No own limit: the book's protection band around the best opposite price, so a household whose
            # neighbours offer nothing buys its shortfall from the grid (the maker's retail ask) or sells its
            # surplus to it (the feed-in bid).
            await t.offer(kind, **base, quantity=qty, kind="market-with-limit", tif="ioc")
        elif kind == "scheduled":
            await t.offer(kind, **base, quantity=qty, price=aggressive, valid_from=now + 1, valid_until=now + 120,
                          tif="gtd")
        elif kind == "conditional":
            await t.offer(kind, **base, quantity=qty, price=aggressive, condition="last_price >= 1")
        elif kind == "grid":
            await t.offer(kind, **base, quantity=qty, price=aggressive, grid="match-if-helps")
        elif kind == "execute":
            await t.execute(side, qty)
        elif kind == "modify":
            await t.modify()
        else:
            # Far from the reference (a buy at the lowest tick, a sell 100 above): no incoming order crosses it.
            deep = self.tick if side == "buy" else self._price(100)
            await t.cancel({**base, "quantity": self.lot, "price": deep})
