"""A real participant API: MarketService on a real SQLite journal, uvicorn on a free port, httpx clients.
The clock is the only thing mocked."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from console.api.app import ApiServer, create_app
from console.api.auth import order_message, sign
from console.api.participants import ParticipantDirectory, token_hash
from console.services.market import MarketService
from console.store.market_journal import SqlMarketJournal
from core.market import MarketRules
from tests.api.production_data import production_service

PRODUCT = 1_800_000_000  # a delivery period start
NOW = PRODUCT - 3600  # an hour before delivery: open, gate closure in 3300 s
CHAIN_ID = 31337


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Trader:
    id: str
    key: str
    address: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def order(self, **fields: Any) -> dict[str, Any]:
        """A signed order body (defaults: a limit GTC order on PRODUCT)."""
        body: dict[str, Any] = {"participant": self.id, "product": PRODUCT, "side": "sell", "quantity": 1000,
                                "price": 200, "nonce": secrets.randbits(63)}
        body.update(fields)
        signed = {k: v for k, v in body.items() if k != "signature"}
        try:
            signature = sign("Order", order_message(self.address, signed), CHAIN_ID, self.key)
        except Exception:  # a value typed data cannot hold: the schema refuses it first
            signature = "0x" + "11" * 65
        body.setdefault("signature", signature)
        return body

    def execute(self, offer_id: str, quantity: int, price: int, *, side: str = "buy", product: int = PRODUCT,
                nonce: int | None = None) -> dict[str, Any]:
        """A signed execute body: an IOC limit Order of the offer's product, the other ``side``."""
        nonce = secrets.randbits(63) if nonce is None else nonce
        msg = order_message(self.address, {"product": product, "side": side, "quantity": quantity, "price": price,
                                           "kind": "limit", "tif": "ioc", "nonce": nonce})
        return {"participant": self.id, "offer_id": offer_id, "quantity": quantity, "price": price, "nonce": nonce,
                "signature": sign("Order", msg, CHAIN_ID, self.key)}


def _trader(name: str) -> Trader:
    key = "0x" + secrets.token_hex(32)
    return Trader(name, key, Account.from_key(key).address, secrets.token_urlsafe(32))


@dataclass
class Market:
    url: str
    service: MarketService
    clock: Clock
    traders: dict[str, Trader]
    client: httpx.AsyncClient
    db: str


def write_participants(path: Path, traders: dict[str, Trader], suspended: set[str]) -> None:
    path.write_text("".join(
        f'[[participants]]\nid = "{t.id}"\naddress = "{t.address}"\ntoken_sha256 = "{token_hash(t.token)}"\n'
        f"suspended = {'true' if t.id in suspended else 'false'}\n\n" for t in traders.values()))


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[Market]:
    traders = {n: _trader(n) for n in ("alice", "bob", "carol", "mallory")}
    path = tmp_path / "participants.toml"
    write_participants(path, traders, suspended={"mallory"})
    db = f"sqlite:///{tmp_path / 'market.sqlite'}"
    clock = Clock(NOW)
    service = MarketService(MarketRules(tick=5, lot=100), SqlMarketJournal(db), clock=clock)
    await service.start()
    app = create_app(service, ParticipantDirectory.load(path), rate_per_s=1000, burst=1000, max_body_bytes=4096,
                     chain_id=CHAIN_ID)
    app.state.production = production_service(tmp_path, NOW, days=2)  # the production and grid endpoints' data
    server = ApiServer(app, "127.0.0.1", 0)
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        try:
            yield Market(server.url, service, clock, traders, client, db)
        finally:
            await server.stop()
            await service.stop()
