"""Whether a buyer's escrow on chain covers a new buy order, before the book sees it.

A buy that matches is paid by ``Settlement.escrowAndOpen`` pulling ``ceil(quantity × price / 1000)`` token
base units from the buyer (``safeTransferFrom``): what a buyer can pay is the smaller of its token balance and
its allowance to ``Settlement``. A match the buyer cannot pay fails at settlement (``EscrowFailed``), long
after the seller thought it had sold, so the API refuses such an order up front. The open buy orders already
in the book hold part of that amount: a new buy must fit in what is left.

Balances are read through a :class:`FundsReader` (``contracts.funds.TokenFunds``: async web3, never sync web3
on the loop) and cached for ``ttl_s`` so a burst of orders
costs one pair of calls per participant; a chain that does not answer makes the funds *unknown*, never zero.
Not counted: matches made but not yet settled (their value is still in the balance until the batch lands), so
in the seconds between a match and its settlement the check is generous by that amount.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from core.market import OrderView, Side


class FundsReader(Protocol):
    async def funds(self, address: str) -> tuple[int, int]:
        """(token balance, allowance to Settlement) of ``address``; raises when the chain does not answer."""
        ...

    async def close(self) -> None: ...


def order_value(quantity_wh: int, price: int) -> int:
    """What a buy of ``quantity_wh`` at ``price`` (base units per kWh) escrows: as OrderSettlement rounds it."""
    return -(-quantity_wh * price // 1000)


class FundsUnknown(Exception):
    """The chain did not answer: the buyer's escrow is not known (the order is neither accepted nor refused)."""


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A buy that does not fit: what it needs, what open buys already hold, what the chain says is there."""

    needed: int
    reserved: int
    available: int
    balance: int
    allowance: int


class EscrowService:
    """Buyers' balance and allowance on chain (cached) against what their open buy orders reserve."""

    def __init__(self, reader: FundsReader, *, max_price: int, ttl_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reader = reader
        # A buy without a limit (market-with-limit, no own price) may trade up to the book's highest price.
        self.max_price, self.ttl_s, self.clock = max_price, ttl_s, clock
        self._cache: dict[str, tuple[float, int, int]] = {}  # address → (read at, balance, allowance)

    async def funds(self, address: str) -> tuple[int, int]:
        """(balance, allowance to Settlement) of ``address``, at most ``ttl_s`` old; FundsUnknown if no answer."""
        key = address.lower()
        hit = self._cache.get(key)
        now = self.clock()
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1], hit[2]
        try:
            balance, allowance = await self.reader.funds(address)
        except Exception as exc:  # connection refused, timeout, a node error: all mean "not known now"
            raise FundsUnknown(f"the chain did not say what {address} holds ({type(exc).__name__}: {exc}); "
                               "retry when the chain is back") from exc
        self._cache[key] = (now, int(balance), int(allowance))
        return int(balance), int(allowance)

    def forget(self, address: str) -> None:
        """Read ``address`` afresh next time (after something changed its funds)."""
        self._cache.pop(address.lower(), None)

    def reserved(self, open_orders: Iterable[OrderView]) -> int:
        """What the open buy orders among ``open_orders`` would escrow if their open quantity traded."""
        return sum(order_value(v.remaining, v.price if v.price is not None else self.max_price)
                   for v in open_orders if v.side is Side.BUY and v.status.is_open)

    async def shortfall(self, address: str, quantity_wh: int, price: int | None,
                        open_orders: Iterable[OrderView]) -> Shortfall | None:
        """None when a buy of ``quantity_wh`` at ``price`` fits in the buyer's escrow, else the figures."""
        balance, allowance = await self.funds(address)
        needed = order_value(quantity_wh, price if price is not None else self.max_price)
        reserved = self.reserved(open_orders)
        available = min(balance, allowance)
        if reserved + needed <= available:
            return None
        return Shortfall(needed, reserved, available, balance, allowance)

    async def close(self) -> None:
        await self.reader.close()
