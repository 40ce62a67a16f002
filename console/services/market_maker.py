"""The grid's market-maker: keeps the grid's tariffs quoted in the next products, signed with the grid's key.

The grid's account (``grid-maker``) is a participant like any other on chain: its orders are EIP-712 signed
(by the grid's own keystore, which the console holds because the account is the grid's, never a
participant's) and remembered by the settlement service before they reach the book, so its trades settle
on chain against metered delivery like every other trade. What to quote is decided in
:mod:`core.market.maker`; this service signs, submits, withdraws and reports.

It is also the operator's desk: an order the trading ticket enters for the grid's account goes through
:meth:`submit` and is signed the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from console.services.market import MarketService, MarketSuspended, MarketUnavailable, Outcome
from console.services.settlement_model import SignedOrders
from core.market import OrderSpec, Side
from core.market.maker import GridTariffs, Place, Withdraw, plan
from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SignedOrder:
    order_id: str  # the EIP-712 digest: the id the book and the settlement contract know the order by
    message: dict[str, Any]  # the typed-data message, as OrderSettlement.Order
    signature: str


class OrderSigner(Protocol):
    """Signs an order as the API receives it (its JSON field names) with one account's key."""

    @property
    def address(self) -> str: ...
    def sign(self, order: dict[str, Any]) -> SignedOrder: ...


class MarketMakerService:
    """Quotes ``tariffs`` for ``participant`` every ``every_s`` seconds (and the desk's orders on demand)."""

    def __init__(self, market: MarketService, tariffs: GridTariffs, signer: OrderSigner,
                 signed_orders: SignedOrders | None, *, participant: str = "grid-maker", every_s: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.market = market
        self.tariffs = tariffs
        self.signer = signer
        self.signed_orders = signed_orders
        self.participant = participant
        self.every_s = every_s
        self.clock = clock
        self.failure: str | None = None  # the last step's error, shown by the trading view
        self.placed = 0
        self.withdrawn = 0
        # A nonce names one order of the account for ever (the contract keeps a bit per nonce): milliseconds
        # since the epoch at start, then counting, never repeats across restarts of a console whose clock
        # runs forward.
        self._nonces = itertools.count(int(clock() * 1000) * 1000)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="market-maker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        announced = False
        while True:
            try:
                await self.step()
                self.failure = None
                if not announced and self.placed:
                    announced = True
                    quotes = len(self.market.orders_of(self.participant, open_only=True))
                    log.info("market-maker %s (%s): %d quotes in the book, buying at %d and selling at %d per kWh",
                             self.participant, self.signer.address, quotes, self.tariffs.feed_in, self.tariffs.retail)
            except MarketUnavailable as exc:
                self.failure = f"market unavailable: {exc}"
            except Exception as exc:  # one bad step must not end the quoting; it is shown and retried
                log.exception("market-maker step failed")
                self.failure = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(self.every_s)

    async def step(self) -> list[Outcome]:
        """Withdraw stale quotes and place missing ones now; the book's answers."""
        market = self.market
        mine = market.orders_of(self.participant, open_only=True)
        outcomes = []
        for action in plan(market.rules, self.tariffs, market.now(), mine):
            if isinstance(action, Withdraw):
                outcomes.append(await market.cancel(action.order_id, self.participant))
                self.withdrawn += 1
            elif isinstance(action, Place):
                try:
                    market.check_trading(action.product)
                except MarketSuspended:
                    continue  # an operator halted the product: the grid does not quote into it either
                outcome = await self.submit(OrderSpec("", self.participant, action.product, action.side,
                                                      action.quantity, action.price))
                outcomes.append(outcome)
                self.placed += outcome.rejected is None
        return outcomes

    async def submit(self, spec: OrderSpec, condition_text: str | None = None) -> Outcome:
        """Sign ``spec`` (a limit, IOC, FOK, GTD… order of the grid's account; its ``order_id`` is replaced by
        the signed order's digest), remember it for settlement, then give it to the book. A conditional order
        needs the condition's text too: that text is what is signed (docs/market.md)."""
        if spec.participant != self.participant:
            raise ValueError(f"the market-maker signs only for {self.participant!r}, not {spec.participant!r}")
        if spec.condition is not None and not condition_text:
            raise ValueError("a conditional order is signed with its condition's text: give condition_text")
        signed = self.signer.sign(body_of(spec, next(self._nonces), condition_text))
        spec = spec._replace(order_id=signed.order_id)
        if self.signed_orders is not None:
            await self.signed_orders.remember(signed.order_id, signed.message, signed.signature)
        outcome = await self.market.submit(spec)
        if outcome.rejected is not None and self.signed_orders is not None and self.market.order(spec.order_id) is None:
            await self.signed_orders.forget(spec.order_id)  # refused before the book: nothing to settle
        return outcome


def body_of(spec: OrderSpec, nonce: int, condition_text: str | None = None) -> dict[str, Any]:
    """The order as the participant API's JSON body (what :func:`console.api.auth.order_message` reads)."""
    return {"product": spec.product, "side": spec.side.value, "quantity": spec.quantity, "price": spec.price,
            "kind": spec.kind.value, "tif": spec.tif.value, "valid_from": spec.valid_from,
            "valid_until": spec.valid_until, "condition": condition_text or None,
            "grid": spec.grid.value, "nonce": nonce}


__all__ = ["MarketMakerService", "OrderSigner", "Side", "SignedOrder", "body_of"]
