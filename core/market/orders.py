"""Orders as participants submit them, and as the book reports them back.

An :class:`OrderSpec` is the request (immutable, journaled as it came); an
:class:`OrderView` is the order's state in the book at one instant. Both are
NamedTuples: one is built per order on the matching path.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from core.market.conditions import Condition


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"


class OrderKind(enum.Enum):
    """How the order's limit price is set."""

    LIMIT = "limit"  # the participant's price is the limit
    MARKET_WITH_LIMIT = "market-with-limit"  # any price up to a protection limit; always immediate


class TimeInForce(enum.Enum):
    """How long an active order may work."""

    GTC = "gtc"  # rests until filled, cancelled or gate closure ("good till close")
    GTD = "gtd"  # like GTC, but expires at ``valid_until`` if that comes first
    IOC = "ioc"  # immediate or cancel: matches on activation, the remainder is cancelled, never rests
    FOK = "fok"  # fill or kill: on activation it fills completely or not at all, never rests


class GridGate(enum.Enum):
    """Grid-balanced orders (see ``docs/market.md``: a buy helps while the community has a
    surplus, a sell while it has a deficit)."""

    NONE = "none"
    ADMIT_IF_HELPS = "admit-if-helps"  # rejected at submission unless it reduces the imbalance then
    MATCH_IF_HELPS = "match-if-helps"  # in the book only while it reduces the imbalance (suspended otherwise)


class OrderStatus(enum.Enum):
    PENDING = "pending"  # accepted, waiting for valid_from and/or its condition
    SUSPENDED = "suspended"  # grid-gated: out of the book while it would not reduce the imbalance
    WORKING = "working"  # transient, while it matches inside one call; never seen between calls
    RESTING = "resting"  # in the book, at its price level
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    GATE_CLOSED = "gate-closed"

    @property
    def is_open(self) -> bool:
        return self in _OPEN


_OPEN = frozenset({OrderStatus.PENDING, OrderStatus.SUSPENDED, OrderStatus.WORKING, OrderStatus.RESTING})


class OrderSpec(NamedTuple):
    """An order as submitted.

    ``product`` is the delivery start (epoch s, a multiple of the period);
    ``quantity`` is in Wh; ``price`` in settlement-token base units per kWh
    (``None`` only for a market-with-limit order without its own limit).
    ``valid_from``: not active before this instant (epoch s); ``valid_until``:
    not valid at or after it (required for GTD, allowed for every order to
    bound how long it may wait). ``order_id`` is chosen by the caller (e.g. the
    signed order's hash) and must be unique in the book.
    """

    order_id: str
    participant: str
    product: int
    side: Side
    quantity: int
    price: int | None
    kind: OrderKind = OrderKind.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    valid_from: int | None = None
    valid_until: int | None = None
    condition: Condition | None = None
    grid: GridGate = GridGate.NONE


class OrderView(NamedTuple):
    """An order's state: ``submitted == filled + cancelled + remaining`` always holds.

    ``submitted`` counts the original quantity plus every increase by modify;
    ``cancelled`` counts every quantity taken away without a trade (cancel,
    reduction by modify, IOC remainder, self-trade prevention, expiry, gate closure).
    """

    order_id: str
    participant: str
    product: int
    side: Side
    price: int | None
    status: OrderStatus
    submitted: int
    filled: int
    cancelled: int
    remaining: int
