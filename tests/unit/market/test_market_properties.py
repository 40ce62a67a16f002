"""Properties of the book over random sequences of requests (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.market import (
    Accepted,
    Activated,
    ActivationReason,
    Book,
    Cancelled,
    Event,
    Expired,
    GateClosed,
    GridCondition,
    GridView,
    MarketRules,
    Modified,
    OrderKind,
    OrderSpec,
    PriceCondition,
    PriceMetric,
    Rested,
    SelfTradePolicy,
    Side,
    Suspended,
    TimeInForce,
    Traded,
    replay,
)
from tests.unit.market.helpers import NOW, P
from tests.unit.market.strategies import PEOPLE, plain_scripts, scripts

pytestmark = pytest.mark.unit

RULES = {
    policy: MarketRules(tick=5, lot=100, market_protection=10, self_trade=policy) for policy in SelfTradePolicy
}


@dataclass
class Run:
    book: Book
    calls: list[list[Event]] = field(default_factory=list)
    ticks: list[tuple[int, GridView]] = field(default_factory=list)  # (ts, grid) of every tick


def run(ops: list[tuple[object, ...]], policy: SelfTradePolicy, check_each: bool = True,
        book_class: type[Book] = Book) -> Run:
    book = book_class(RULES[policy])
    result = Run(book)
    now = NOW
    owner: dict[str, str] = {}
    for op in ops:
        if op[0] == "submit":
            spec, dt, grid = op[1], op[2], op[3]
            assert isinstance(spec, OrderSpec) and isinstance(dt, int)
            now += dt
            owner[spec.order_id] = spec.participant
            events = book.submit(spec, now, grid)  # type: ignore[arg-type]
        elif op[0] in ("cancel", "modify"):
            order_id = f"o{op[1]}"
            who = owner.get(order_id, str(op[2])) if op[1] != 0 else str(op[2])  # mostly the owner, sometimes not
            now += op[3]  # type: ignore[operator]
            if op[0] == "cancel":
                events = book.cancel(order_id, who, now)
            else:
                events = book.modify(order_id, who, now, price=op[4], quantity=op[5])  # type: ignore[arg-type]
        else:
            now += op[1]  # type: ignore[operator]
            grid = op[2]
            assert isinstance(grid, GridView)
            events = book.tick(now, grid)
            result.ticks.append((now, grid))
        result.calls.append(events)
        if check_each:
            assert_not_crossed(book)
    return result


def assert_not_crossed(book: Book) -> None:
    for product in book.products:
        bid, ask = book.best_bid(product), book.best_ask(product)
        assert bid is None or ask is None or bid < ask, f"crossed book in {product}: bid {bid} >= ask {ask}"


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scripts(), st.sampled_from(SelfTradePolicy))
def test_never_crossed_quantity_conserved_and_replay_identical(
    ops: list[tuple[object, ...]], policy: SelfTradePolicy
) -> None:
    result = run(ops, policy)
    book = result.book
    traded = {s: 0 for s in Side}
    for order in book.orders.values():
        assert order.submitted == order.filled + order.cancelled + order.remaining
        assert order.remaining >= 0 and order.filled >= 0 and order.cancelled >= 0
        assert order.status.is_open == (order.remaining > 0)
        traded[order.spec.side] += order.filled
    trade_volume = sum(e.quantity for e in book.journal if isinstance(e, Traded))
    assert traded[Side.BUY] == traded[Side.SELL] == trade_volume
    assert replay(book.rules, book.journal).snapshot() == book.snapshot()
    assert [e for call in result.calls for e in call] == book.journal


@SETTINGS
@given(scripts(), st.sampled_from(SelfTradePolicy))
def test_same_requests_same_journal(ops: list[tuple[object, ...]], policy: SelfTradePolicy) -> None:
    assert run(ops, policy, check_each=False).book.journal == run(ops, policy, check_each=False).book.journal


@SETTINGS
@given(scripts(), st.sampled_from(SelfTradePolicy))
def test_order_type_rules_hold_in_every_trade(ops: list[tuple[object, ...]], policy: SelfTradePolicy) -> None:
    result = run(ops, policy, check_each=False)
    book = result.book
    specs = {e.order.order_id: e.order for e in book.journal if isinstance(e, Accepted)}
    price_now: dict[str, int | None] = {}  # each order's limit as the journal goes
    for e in book.journal:
        if isinstance(e, Accepted):
            price_now[e.order.order_id] = e.order.price
        if isinstance(e, Modified):
            price_now[e.order_id] = e.price
        if isinstance(e, Rested):  # IOC, FOK and market orders never rest
            spec = specs[e.order_id]
            assert spec.kind is OrderKind.LIMIT and spec.tif in (TimeInForce.GTC, TimeInForce.GTD)
        if isinstance(e, Traded):
            for order_id in (e.buy_id, e.sell_id):  # expired and not-yet-valid orders never match
                spec = specs[order_id]
                assert spec.valid_from is None or spec.valid_from <= e.ts
                assert spec.valid_until is None or e.ts < spec.valid_until
                assert e.ts < book.rules.gate_closure(spec.product)
            buy, sell = book.orders[e.buy_id], book.orders[e.sell_id]
            assert buy.participant != sell.participant  # self-trade prevention
            resting = e.sell_id if e.aggressor is Side.BUY else e.buy_id
            assert e.price == price_now[resting]  # trade at the resting order's price
    for order in book.orders.values():
        if order.spec.tif is TimeInForce.FOK:
            assert order.filled in (0, order.submitted)  # all or nothing


@SETTINGS
@given(scripts(), st.sampled_from(SelfTradePolicy))
def test_grid_conditional_activates_exactly_when_its_condition_first_holds(
    ops: list[tuple[object, ...]], policy: SelfTradePolicy
) -> None:
    result = run(ops, policy, check_each=False)
    tick_calls = {i for i, op in enumerate(ops) if op[0] == "tick"}
    accepted: dict[str, tuple[int, OrderSpec]] = {}  # order id -> (call index, spec)
    ended: dict[str, tuple[int, Event]] = {}  # order id -> (call index, first activation or closing event)
    for i, call in enumerate(result.calls):
        for e in call:
            if isinstance(e, Accepted):
                accepted[e.order.order_id] = (i, e.order)
            elif isinstance(e, Activated | Cancelled | Expired | GateClosed) and e.order_id not in ended:
                ended[e.order_id] = (i, e)
    grids = dict(zip(sorted(tick_calls), result.ticks, strict=True))
    for order_id, (i_acc, spec) in accepted.items():
        cond = spec.condition
        if not isinstance(cond, GridCondition):
            continue
        i_end, end = ended.get(order_id, (len(ops), None))
        for i in range(i_acc + 1, i_end):  # every tick while it waited: the condition did not hold
            if i in grids:
                ts, grid = grids[i]
                if spec.valid_from is None or spec.valid_from <= ts:
                    assert not cond.holds(grid), f"{order_id}: {cond} held at tick {i} ({grid}) but no activation"
        if isinstance(end, Activated):
            assert end.reason is ActivationReason.CONDITION and cond.holds(grids[i_end][1])


@dataclass
class Naive:
    """A list-based reference book for plain limit orders (price-time priority, cancel-incoming)."""

    resting: list[list[object]] = field(default_factory=list)  # [side, price, seq, id, who, remaining]
    seq: int = 0

    def submit(self, spec: OrderSpec) -> list[tuple[str, str, int, int]]:
        out = []
        remaining = spec.quantity
        buying = spec.side is Side.BUY
        while remaining:
            assert spec.price is not None
            opp = [
                r
                for r in self.resting
                if r[0] is not spec.side and (r[1] <= spec.price if buying else r[1] >= spec.price)  # type: ignore[operator]
            ]
            if not opp:
                break
            best = min(opp, key=lambda r: (r[1] if buying else -r[1], r[2]))  # type: ignore[operator]
            if best[4] == spec.participant:
                return out  # self-trade: incoming cancelled
            q = min(remaining, best[5])  # type: ignore[type-var]
            out.append((spec.order_id, best[3], q, best[1]) if buying else (best[3], spec.order_id, q, best[1]))
            remaining -= q  # type: ignore[operator]
            best[5] -= q  # type: ignore[operator]
            if not best[5]:
                self.resting.remove(best)
        if remaining:
            self.seq += 1
            self.resting.append([spec.side, spec.price, self.seq, spec.order_id, spec.participant, remaining])
        return out  # type: ignore[return-value]


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(Side), st.integers(18, 22), st.integers(1, 6), st.sampled_from(PEOPLE)),
        min_size=1,
        max_size=80,
    )
)
def test_price_time_priority_matches_a_naive_reference(orders: list[tuple[Side, int, int, str]]) -> None:
    book = Book(RULES[SelfTradePolicy.CANCEL_INCOMING])
    naive = Naive()
    for n, (side, price, lots, who) in enumerate(orders):
        spec = OrderSpec(f"o{n}", who, P, side, lots * 100, price * 5)
        got = [(e.buy_id, e.sell_id, e.quantity, e.price) for e in book.submit(spec, NOW) if isinstance(e, Traded)]
        assert got == naive.submit(spec)


# -- the fast paths decide what the general path decides -----------------------------------------------------


class GeneralOnly(Book):
    """The book with its fast paths (plain limit orders, cancels of resting orders) turned off."""

    _fast = False


@SETTINGS
@given(plain_scripts(), st.sampled_from(SelfTradePolicy))
def test_fast_paths_decide_exactly_as_the_general_path(ops: list[tuple[object, ...]], policy: SelfTradePolicy) -> None:
    fast = run(ops, policy)
    general = run(ops, policy, book_class=GeneralOnly)
    assert fast.calls == general.calls
    assert fast.book.snapshot() == general.book.snapshot()
    assert replay(fast.book.rules, fast.book.journal).snapshot() == fast.book.snapshot()
    for order in fast.book.orders.values():
        assert order.submitted == order.filled + order.cancelled + order.remaining


# -- a price-conditional order activates exactly when its condition first holds ------------------------------


def _market_price(book: Book, product: int, cond: PriceCondition) -> int | None:
    if cond.metric is PriceMetric.LAST_PRICE:
        return book.last_price(product)
    return book.best_bid(product) if cond.metric is PriceMetric.BEST_BID else book.best_ask(product)


_CHANGES_PRICES = (Activated, Traded, Rested, Cancelled, Expired, GateClosed, Suspended, Modified)


@SETTINGS
@given(scripts(), st.sampled_from(SelfTradePolicy))
def test_price_conditional_activates_exactly_when_its_condition_first_holds(
    ops: list[tuple[object, ...]], policy: SelfTradePolicy
) -> None:
    result = run(ops, policy, check_each=False)
    rules = result.book.rules
    journal = result.book.journal
    specs = {e.order.order_id: e.order for e in journal if isinstance(e, Accepted)}
    # At the moment of its activation (the journal up to that event) the condition holds.
    for k, e in enumerate(journal):
        if isinstance(e, Activated) and e.reason is ActivationReason.CONDITION:
            spec = specs[e.order_id]
            if isinstance(spec.condition, PriceCondition):
                before = replay(rules, journal[:k])
                assert spec.condition.holds_for(_market_price(before, spec.product, spec.condition))
    # In every tick that changed nothing (the prices were those after it throughout), no waiting
    # price-conditional order whose valid_from had come found its condition holding.
    end = 0
    for i, call in enumerate(result.calls):
        end += len(call)
        if ops[i][0] != "tick" or any(isinstance(e, _CHANGES_PRICES) for e in call):
            continue
        book = replay(rules, journal[:end])
        for order_id in book.waiting:
            spec = specs[order_id]
            order = book.orders[order_id]
            cond = spec.condition
            if order.status.value == "pending" and isinstance(cond, PriceCondition) and book.now is not None \
                    and (spec.valid_from is None or spec.valid_from <= book.now):
                assert not cond.holds_for(_market_price(book, spec.product, cond)), (
                    f"{order_id}: {cond} held in tick {i} but it did not activate")
