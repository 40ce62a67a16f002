"""Compact journal records: how the matching path writes its decisions, turned into events when read.

Building an event NamedTuple costs several times a plain tuple (a tuple subclass is allocated through
the generic path, by ``tuple.__new__(cls, ...)`` or by the class's own ``__new__``), and the matching
path decides about two events per request. So the fast paths of :class:`core.market.book.Book` append
*records* to the book's pending list, and :attr:`BookState.journal` turns them into the events they
stand for the first time anyone reads the journal (:func:`materialise`): the journal, and every event
a caller is handed, is exactly what it would have been had the events been built at once.

The pending list is flat: a record is a kind (an int) followed by its fields, ints and strings only,
appended item by item, so a record is no object of its own for the allocator or the garbage collector
(which walks every container that survives, again in each older generation). What a record leaves out
is read back from the order when it is materialised (an order's spec never changes; nor does the
status of a closed order). No record carries its time: a ``(TIME, ts)`` record gives the time of every
record after it, and the book writes one only when its time has changed since the last (one per
request at most, none in a stream of requests at the same second). The kinds, with their fields:

======================================  ======================================================================
``(TIME, ts)``                          no event: ``ts`` is the time of the records that follow
``order_id`` (a str where a kind is     ``Accepted(ts, spec, True)``, ``Rested(ts, order_id)``: a plain GTC
expected, no kind of its own)           order that did not cross (the commonest record: one item)
``(ENDED_IOC, order_id)``               ``Accepted(ts, spec, True)``, ``Cancelled(ts, order_id, IOC_REMAINDER,
                                        quantity)``: an IOC order that did not cross
``(ENDED_FOK, order_id)``               the same with ``FOK_NOT_FILLABLE``
``(ACCEPTED, order_id)``                ``Accepted(ts, spec, True)``
``(TRADED_BUY, product, price,          ``Traded(ts, product, price, quantity, buy_id, sell_id, Side.BUY,
quantity, buy_id, sell_id,              buy_remaining, sell_remaining)``; ``TRADED_SELL``: the aggressor sold
buy_remaining, sell_remaining)``
``(RESTED, order_id)``                  ``Rested(ts, order_id)``
``(CANCELLED, order_id, reason,         ``Cancelled(ts, order_id, CANCEL_REASONS[reason], quantity)``
quantity)``
``(CLOSED_ORDER, action, order_id)``    ``Rejected(ts, ACTIONS[action], order_id, ORDER_CLOSED, "order '…' is
                                        <its status>")`` (the text is formatted only when read)
======================================  ======================================================================

Anything in the pending list where a kind is expected that is neither an int nor a str is an event
already (the general path and replay append events as they are; an event carries its own time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from core.market.events import (
    Accepted,
    Action,
    Cancelled,
    CancelReason,
    Event,
    Rejected,
    RejectReason,
    Rested,
    Traded,
)
from core.market.orders import Side

if TYPE_CHECKING:
    from core.market.state import Order

RESTED_NEW: Final = 0
TRADED_BUY: Final = 1
TRADED_SELL: Final = 2
ENDED_IOC: Final = 3
ENDED_FOK: Final = 4
CANCELLED: Final = 5
ACCEPTED: Final = 6
RESTED: Final = 7
CLOSED_ORDER: Final = 8
TIME: Final = 9

CANCEL_REASONS: Final = tuple(CancelReason)
CANCEL_CODE: Final = {reason: code for code, reason in enumerate(CANCEL_REASONS)}
ACTIONS: Final = tuple(Action)
ACTION_CODE: Final = {action: code for code, action in enumerate(ACTIONS)}

_new = tuple.__new__
_BUY = Side.BUY
_SELL = Side.SELL
_IOC_REMAINDER = CancelReason.IOC_REMAINDER
_FOK_NOT_FILLABLE = CancelReason.FOK_NOT_FILLABLE
_ORDER_CLOSED = RejectReason.ORDER_CLOSED


def materialise(pending: list[Any], events: list[Event], orders: Mapping[str, Order]) -> None:
    """Append the events ``pending`` stands for to ``events``, in order, and empty ``pending``
    (``orders``: the book's orders, which every record's order is one of)."""
    append = events.append
    it = iter(pending)
    field = it.__next__
    ts = None  # every writer starts its records with a TIME record (see Book._time)
    for kind in it:
        tk = type(kind)
        if tk is str:  # RESTED_NEW
            append(_new(Accepted, (ts, orders[kind].spec, True)))
            append(_new(Rested, (ts, kind)))
        elif tk is not int:  # an event already
            append(kind)
        elif kind == TIME:
            ts = field()
        elif kind in (TRADED_BUY, TRADED_SELL):
            product, price, quantity, buy_id, sell_id, buy_remaining, sell_remaining = (
                field(), field(), field(), field(), field(), field(), field())
            append(_new(Traded, (ts, product, price, quantity, buy_id, sell_id,
                                 _BUY if kind == TRADED_BUY else _SELL, buy_remaining, sell_remaining)))
        elif kind in (ENDED_IOC, ENDED_FOK):
            oid = field()
            spec = orders[oid].spec
            append(_new(Accepted, (ts, spec, True)))
            append(_new(Cancelled, (ts, oid, _IOC_REMAINDER if kind == ENDED_IOC else _FOK_NOT_FILLABLE,
                                    spec.quantity)))
        elif kind == CANCELLED:
            oid, reason, quantity = field(), field(), field()
            append(_new(Cancelled, (ts, oid, CANCEL_REASONS[reason], quantity)))
        elif kind == ACCEPTED:
            append(_new(Accepted, (ts, orders[field()].spec, True)))
        elif kind == RESTED:
            append(_new(Rested, (ts, field())))
        elif kind == CLOSED_ORDER:
            action, oid = field(), field()
            detail = f"order {oid!r} is {orders[oid].status.value}"
            append(_new(Rejected, (ts, ACTIONS[action], oid, _ORDER_CLOSED, detail)))
        else:  # pragma: no cover - the book writes only the kinds above
            raise ValueError(f"unknown journal record kind {kind!r}")
    pending.clear()
