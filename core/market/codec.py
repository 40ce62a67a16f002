"""Market events as JSON-ready values and back, exactly (a store keeps them; a stream publishes them).

``encode(event)`` gives ``(kind, payload)``: the event type's name and a dict of plain JSON values
(ints, strings, None, lists, dicts); ``decode(kind, payload)`` rebuilds an equal event. Enums travel
by their value, conditions by a tagged dict, the grid view by its fields.
"""

from __future__ import annotations

from typing import Any

from core.market.conditions import Condition, GridCondition, GridMetric, GridView, Op, PriceCondition, PriceMetric
from core.market.events import (
    Accepted,
    Action,
    Activated,
    ActivationReason,
    Cancelled,
    CancelReason,
    Event,
    Expired,
    GateClosed,
    GridObserved,
    Modified,
    ProductClosed,
    Rejected,
    RejectReason,
    Rested,
    Suspended,
    Traded,
)
from core.market.orders import GridGate, OrderKind, OrderSpec, OrderStatus, OrderView, Side, TimeInForce

_KINDS: dict[str, type] = {cls.__name__: cls for cls in (
    Accepted, Rejected, Activated, Suspended, Traded, Rested, Cancelled, Modified, Expired, GateClosed,
    ProductClosed, GridObserved,
)}


class CodecError(ValueError):
    """A stored event cannot be read back (unknown kind, missing or mistyped field)."""


def kind_of(event: Event) -> str:
    return type(event).__name__


def encode(event: Event) -> tuple[str, dict[str, Any]]:
    """The event's kind and its JSON-ready payload."""
    if isinstance(event, Accepted):
        return "Accepted", {"ts": event.ts, "order": encode_spec(event.order), "active": event.active}
    if isinstance(event, GridObserved):
        return "GridObserved", {"ts": event.ts, "grid": encode_grid(event.grid)}
    payload = {name: _plain(value) for name, value in zip(event._fields, event, strict=True)}
    return kind_of(event), payload


def decode(kind: str, payload: dict[str, Any]) -> Event:
    """The event ``encode`` gave ``(kind, payload)`` for; raises :class:`CodecError`."""
    try:
        if kind == "Accepted":
            return Accepted(payload["ts"], decode_spec(payload["order"]), bool(payload["active"]))
        if kind == "GridObserved":
            return GridObserved(payload["ts"], decode_grid(payload["grid"]))
        cls = _KINDS[kind]
    except KeyError as exc:
        raise CodecError(f"market event {kind!r}: missing {exc}") from exc
    p = dict(payload)
    try:
        if cls is Rejected:
            p["action"], p["reason"] = Action(p["action"]), RejectReason(p["reason"])
        elif cls is Activated:
            p["reason"] = ActivationReason(p["reason"])
        elif cls is Traded:
            p["aggressor"] = Side(p["aggressor"])
        elif cls is Cancelled:
            p["reason"] = CancelReason(p["reason"])
        event: Event = cls(**p)
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"market event {kind!r}: {exc}") from exc
    return event


def encode_spec(s: OrderSpec) -> dict[str, Any]:
    return {
        "order_id": s.order_id, "participant": s.participant, "product": s.product, "side": s.side.value,
        "quantity": s.quantity, "price": s.price, "kind": s.kind.value, "tif": s.tif.value,
        "valid_from": s.valid_from, "valid_until": s.valid_until,
        "condition": None if s.condition is None else encode_condition(s.condition), "grid": s.grid.value,
    }  # fmt: skip


def decode_spec(d: dict[str, Any]) -> OrderSpec:
    cond = d.get("condition")
    return OrderSpec(
        d["order_id"], d["participant"], d["product"], Side(d["side"]), d["quantity"], d["price"],
        OrderKind(d["kind"]), TimeInForce(d["tif"]), d["valid_from"], d["valid_until"],
        None if cond is None else decode_condition(cond), GridGate(d["grid"]),
    )  # fmt: skip


def encode_condition(c: Condition) -> dict[str, Any]:
    if isinstance(c, GridCondition):
        return {"on": "grid", "metric": c.metric.value, "op": c.op.value, "threshold": c.threshold,
                "feeder": c.feeder}
    return {"on": "price", "metric": c.metric.value, "op": c.op.value, "threshold": c.threshold}


def decode_condition(d: dict[str, Any]) -> Condition:
    if d["on"] == "grid":
        return GridCondition(GridMetric(d["metric"]), Op(d["op"]), d["threshold"], d.get("feeder", ""))
    return PriceCondition(PriceMetric(d["metric"]), Op(d["op"]), d["threshold"])


def encode_grid(g: GridView) -> dict[str, Any]:
    return {"frequency_mhz": g.frequency_mhz, "imbalance_w": g.imbalance_w,
            "voltages_upu": [[name, v] for name, v in g.voltages_upu]}


def decode_grid(d: dict[str, Any]) -> GridView:
    return GridView(d["frequency_mhz"], d["imbalance_w"], tuple((str(n), int(v)) for n, v in d["voltages_upu"]))


def encode_view(v: OrderView) -> dict[str, Any]:
    return {
        "order_id": v.order_id, "participant": v.participant, "product": v.product, "side": v.side.value,
        "price": v.price, "status": v.status.value, "submitted": v.submitted, "filled": v.filled,
        "cancelled": v.cancelled, "remaining": v.remaining,
    }  # fmt: skip


def decode_view(d: dict[str, Any]) -> OrderView:
    return OrderView(d["order_id"], d["participant"], d["product"], Side(d["side"]), d["price"],
                     OrderStatus(d["status"]), d["submitted"], d["filled"], d["cancelled"], d["remaining"])


def _plain(value: object) -> object:
    if isinstance(value, (Side, Action, RejectReason, ActivationReason, CancelReason)):
        return value.value
    return value
