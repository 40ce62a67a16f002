"""Hypothesis strategies for the market's property tests: orders and request scripts, built in one place.

A script is a list of requests: ("submit", spec, dt, grid), ("cancel", n, who, dt),
("modify", n, who, dt, price, quantity), ("tick", dt, grid); dt is the seconds since the previous request.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from core.market import (
    GridCondition,
    GridGate,
    GridMetric,
    GridView,
    Op,
    OrderKind,
    OrderSpec,
    PriceCondition,
    PriceMetric,
    Side,
    TimeInForce,
)
from tests.unit.market.helpers import NOW, P

PRODUCTS = (P, P + 900)
PEOPLE = ("p0", "p1", "p2", "p3")

prices = st.integers(18, 22).map(lambda p: 5 * p)
conditions = st.one_of(
    st.none(),
    st.builds(GridCondition, st.just(GridMetric.FREQUENCY), st.sampled_from(Op), st.integers(49_800, 50_200)),
    st.builds(GridCondition, st.just(GridMetric.IMBALANCE), st.sampled_from(Op), st.integers(-3, 3)),
    st.builds(PriceCondition, st.sampled_from(PriceMetric), st.sampled_from(Op), prices),
)
grids = st.builds(
    GridView, st.one_of(st.none(), st.integers(49_800, 50_200)), st.one_of(st.none(), st.integers(-3, 3))
)

SAME_GRID = GridView(50_000, 2)
OTHER_GRID = GridView(49_950, -2)


@st.composite
def order_specs(draw: st.DrawFn, n: int) -> OrderSpec:
    """Any order: every kind, time in force, validity window, condition and grid gate."""
    kind = draw(st.sampled_from([OrderKind.LIMIT] * 4 + [OrderKind.MARKET_WITH_LIMIT]))
    if kind is OrderKind.LIMIT:
        tif = draw(st.sampled_from(TimeInForce))
        price: int | None = draw(st.integers(18, 22)) * 5
    else:
        tif = draw(st.sampled_from([TimeInForce.IOC, TimeInForce.FOK]))
        price = draw(st.one_of(st.none(), prices))
    valid_from = draw(st.one_of(st.none(), st.integers(NOW, NOW + 40)))
    valid_until = draw(st.one_of(st.none(), st.integers(NOW + 1, NOW + 60)))
    if tif is TimeInForce.GTD and valid_until is None:
        valid_until = NOW + 30
    return OrderSpec(
        order_id=f"o{n}",
        participant=draw(st.sampled_from(PEOPLE)),
        product=draw(st.sampled_from(PRODUCTS)),
        side=draw(st.sampled_from(Side)),
        quantity=draw(st.integers(1, 8)) * 100,
        price=price,
        kind=kind,
        tif=tif,
        valid_from=valid_from,
        valid_until=valid_until,
        condition=draw(st.one_of(st.none(), st.none(), conditions)),
        grid=draw(st.sampled_from([GridGate.NONE] * 4 + [GridGate.ADMIT_IF_HELPS, GridGate.MATCH_IF_HELPS])),
    )


@st.composite
def plain_orders(draw: st.DrawFn, n: int) -> tuple[OrderSpec, GridView | None]:
    """What the book's fast paths take: a plain GTC / IOC / FOK limit order (sometimes off the tick or
    negative), with the grid unchanged (the service passes it with every order) or changed now and then."""
    spec = OrderSpec(f"o{n}", draw(st.sampled_from(PEOPLE)), draw(st.sampled_from(PRODUCTS)),
                     draw(st.sampled_from(Side)), draw(st.integers(1, 8)) * 100,
                     draw(st.one_of(prices, prices, prices, st.integers(-5, 200))),
                     tif=draw(st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])))
    return spec, draw(st.sampled_from([None, None, None, SAME_GRID, SAME_GRID, OTHER_GRID]))


ANY_MIX = ("submit",) * 5 + ("cancel", "modify", "tick", "tick")
PLAIN_MIX = ("plain",) * 6 + ("cancel",) * 2 + ("submit", "modify", "tick")


@st.composite
def scripts(draw: st.DrawFn, mix: Sequence[str] = ANY_MIX, max_requests: int = 40,
            dts: Sequence[int] = (0, 0, 0, 1, 3, 10)) -> list[tuple[object, ...]]:
    """A script of up to ``max_requests`` requests, each drawn from ``mix`` ("plain" is a
    :func:`plain_orders` submit), ``dts`` seconds apart."""
    ops: list[tuple[object, ...]] = []
    for n in range(draw(st.integers(1, max_requests))):
        what = draw(st.sampled_from(mix))
        dt = draw(st.sampled_from(dts))
        if what == "plain":
            spec, grid = draw(plain_orders(n))
            ops.append(("submit", spec, dt, grid))
        elif what == "submit":
            ops.append(("submit", draw(order_specs(n)), dt, draw(st.one_of(st.none(), grids))))
        elif what == "cancel":
            ops.append(("cancel", draw(st.integers(0, n)), draw(st.sampled_from(PEOPLE)), dt))
        elif what == "modify":
            price = draw(st.one_of(st.none(), prices))
            qty = draw(st.one_of(st.none(), st.integers(1, 8).map(lambda q: q * 100)))
            ops.append(("modify", draw(st.integers(0, n)), draw(st.sampled_from(PEOPLE)), dt, price, qty))
        else:
            ops.append(("tick", dt, draw(grids)))
    return ops


def plain_scripts() -> st.SearchStrategy[list[tuple[object, ...]]]:
    """Mostly what the fast paths take (plain limit orders, cancels), with some of everything else mixed in,
    in up to two products, with gaps long enough to reach gate closure."""
    return scripts(PLAIN_MIX, 60, (0, 0, 0, 0, 1, 5, 400, 1000))
