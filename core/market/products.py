"""Delivery products and the rules of the market (tick, lot, trading window).

A product is one 15-minute delivery period, named by its start in integer
epoch seconds (UTC). Trading in a product opens ``open_horizon_s`` before
delivery starts and closes at gate closure, ``gate_closure_s`` before it.
Everything is an integer: time in seconds, energy in Wh, price in
settlement-token base units per kWh (see ``docs/market.md``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PERIOD_S = 900


class SelfTradePolicy(enum.Enum):
    """What happens when an incoming order would trade with its own participant's resting order."""

    CANCEL_INCOMING = "cancel-incoming"  # "cancel newest": the incoming remainder is cancelled
    CANCEL_RESTING = "cancel-resting"  # "cancel oldest": the resting order is cancelled, matching goes on


class MarketRulesError(ValueError):
    """The market rules themselves are inconsistent (a configuration error)."""


@dataclass(frozen=True, slots=True)
class MarketRules:
    """The rules every order is checked against.

    ``tick`` is the price step (base units per kWh), ``lot`` the quantity step
    (Wh); a price must be a multiple of ``tick`` and a quantity a positive
    multiple of ``lot``. ``market_protection`` is how far (in price units) a
    market-with-limit order without its own limit may go beyond the best
    opposite price at arrival.
    """

    tick: int = 1
    lot: int = 100
    max_price: int = 10**12
    max_quantity: int = 10**12
    period_s: int = PERIOD_S
    open_horizon_s: int = 24 * 3600
    gate_closure_s: int = 300
    market_protection: int = 100
    self_trade: SelfTradePolicy = SelfTradePolicy.CANCEL_INCOMING

    def __post_init__(self) -> None:
        for name in ("tick", "lot", "max_price", "max_quantity", "period_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise MarketRulesError(f"market rule {name!r} must be a positive integer, got {value!r}")
        if not 0 <= self.gate_closure_s < self.open_horizon_s:
            raise MarketRulesError(
                f"gate_closure_s ({self.gate_closure_s}) must be >= 0 and below open_horizon_s ({self.open_horizon_s})"
            )
        if self.max_price >= 2**62:
            raise MarketRulesError(f"max_price must be below 2**62 (the book's empty-side key), got {self.max_price}")
        if self.market_protection < 0:
            raise MarketRulesError(f"market_protection must be >= 0, got {self.market_protection}")

    def is_product(self, delivery_start: int) -> bool:
        """True if ``delivery_start`` names a delivery period (aligned to ``period_s``)."""
        return delivery_start % self.period_s == 0

    def opens_at(self, delivery_start: int) -> int:
        """When trading in the product opens (epoch s)."""
        return delivery_start - self.open_horizon_s

    def gate_closure(self, delivery_start: int) -> int:
        """When trading in the product closes (epoch s); orders still open then are gate-closed."""
        return delivery_start - self.gate_closure_s

    def product_at(self, ts: int) -> int:
        """The delivery period that contains ``ts``."""
        return ts - ts % self.period_s
