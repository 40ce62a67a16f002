"""Order events: the journal the book is a function of.

Every decision of the book is one of these values, appended to its journal in
order; :func:`core.market.book.replay` applies them to rebuild the same book.
A :class:`Traded` event is the fill of both orders (``*_remaining == 0`` means
that order is filled, otherwise partially filled).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from core.market.conditions import GridView
from core.market.orders import OrderSpec, Side


class RejectReason(enum.Enum):
    DUPLICATE_ORDER_ID = "duplicate-order-id"
    INVALID_PARTICIPANT = "invalid-participant"
    UNKNOWN_PRODUCT = "unknown-product"  # delivery start not aligned to the period
    PRODUCT_NOT_OPEN = "product-not-open"  # before the trading horizon
    PRODUCT_CLOSED = "product-closed"  # at or after gate closure
    INVALID_QUANTITY = "invalid-quantity"  # not a positive multiple of the lot, or too large
    INVALID_PRICE = "invalid-price"  # missing, zero or negative, off-tick or too large
    INVALID_TIME_IN_FORCE = "invalid-time-in-force"
    INVALID_VALIDITY = "invalid-validity"  # valid_from / valid_until inconsistent
    EXPIRED = "expired"  # valid_until already passed
    GRID_STATE_UNKNOWN = "grid-state-unknown"  # grid-gated order while the imbalance is unknown
    GRID_NOT_HELPED = "grid-not-helped"  # admit-if-helps order that would not reduce the imbalance
    UNKNOWN_ORDER = "unknown-order"
    NOT_OWNER = "not-owner"
    ORDER_CLOSED = "order-closed"  # cancel/modify of a filled, cancelled, expired or gate-closed order
    NOT_MODIFIABLE = "not-modifiable"  # nothing to change, or an immediate order


class Action(enum.Enum):
    SUBMIT = "submit"
    CANCEL = "cancel"
    MODIFY = "modify"


class CancelReason(enum.Enum):
    BY_PARTICIPANT = "by-participant"
    IOC_REMAINDER = "ioc-remainder"  # immediate order: what did not fill at once
    FOK_NOT_FILLABLE = "fok-not-fillable"  # fill-or-kill: the book could not fill all of it
    NO_LIQUIDITY = "no-liquidity"  # market-with-limit without a limit and an empty opposite side
    SELF_TRADE = "self-trade"  # self-trade prevention


class ActivationReason(enum.Enum):
    SCHEDULED = "scheduled"  # valid_from reached (no condition)
    CONDITION = "condition"  # its condition held for the first time (and valid_from, if any, reached)
    GRID_HELPS = "grid-helps"  # a grid-gated order reduces the imbalance again


class Accepted(NamedTuple):
    ts: int
    order: OrderSpec
    active: bool  # True: it works (matches) at once; False: it waits (pending)


class Rejected(NamedTuple):
    ts: int
    action: Action
    order_id: str
    reason: RejectReason
    detail: str


class Activated(NamedTuple):
    ts: int
    order_id: str
    reason: ActivationReason


class Suspended(NamedTuple):
    ts: int
    order_id: str


class Traded(NamedTuple):
    """One trade at the resting order's price."""

    ts: int
    product: int
    price: int
    quantity: int
    buy_id: str
    sell_id: str
    aggressor: Side
    buy_remaining: int
    sell_remaining: int


class Rested(NamedTuple):
    """The order's remainder joins the back of its price level (its time priority)."""

    ts: int
    order_id: str


class Cancelled(NamedTuple):
    ts: int
    order_id: str
    reason: CancelReason
    quantity: int


class Modified(NamedTuple):
    """New limit price and new open quantity; ``keeps_priority`` is False when the
    price changed or the quantity went up (the order then works again as if new)."""

    ts: int
    order_id: str
    price: int | None
    quantity: int
    keeps_priority: bool


class Expired(NamedTuple):
    ts: int
    order_id: str
    quantity: int


class GateClosed(NamedTuple):
    ts: int
    order_id: str
    quantity: int


class ProductClosed(NamedTuple):
    ts: int
    product: int


class GridObserved(NamedTuple):
    ts: int
    grid: GridView


Event = (
    Accepted
    | Rejected
    | Activated
    | Suspended
    | Traded
    | Rested
    | Cancelled
    | Modified
    | Expired
    | GateClosed
    | ProductClosed
    | GridObserved
)
