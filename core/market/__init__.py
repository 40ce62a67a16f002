"""The market core: pure, deterministic, event-sourced (see ``docs/market.md``).

A :class:`Book` holds every delivery product's order book. A ``MarketService``
calls ``submit`` / ``cancel`` / ``modify`` / ``tick`` and stores the events
they return; :func:`replay` rebuilds the identical book from them.
"""

from core.market.book import Book, ClockError, helps_grid, replay
from core.market.conditions import (
    Condition,
    ConditionSyntaxError,
    GridCondition,
    GridMetric,
    GridView,
    Op,
    PriceCondition,
    PriceMetric,
    parse_condition,
)
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
from core.market.pricing import PriceComponents, PricingConfig, PricingConfigError, TouBand, reference_price
from core.market.products import PERIOD_S, MarketRules, MarketRulesError, SelfTradePolicy
from core.market.state import BookSnapshot, CompactedError, JournalWindow

__all__ = [
    "PERIOD_S",
    "Accepted",
    "Action",
    "Activated",
    "ActivationReason",
    "Book",
    "BookSnapshot",
    "CancelReason",
    "Cancelled",
    "ClockError",
    "CompactedError",
    "Condition",
    "ConditionSyntaxError",
    "Event",
    "Expired",
    "GateClosed",
    "GridCondition",
    "GridGate",
    "GridMetric",
    "GridObserved",
    "GridView",
    "JournalWindow",
    "MarketRules",
    "MarketRulesError",
    "Modified",
    "Op",
    "OrderKind",
    "OrderSpec",
    "OrderStatus",
    "OrderView",
    "PriceComponents",
    "PriceCondition",
    "PriceMetric",
    "PricingConfig",
    "PricingConfigError",
    "ProductClosed",
    "RejectReason",
    "Rejected",
    "Rested",
    "SelfTradePolicy",
    "Side",
    "Suspended",
    "TimeInForce",
    "TouBand",
    "Traded",
    "helps_grid",
    "parse_condition",
    "reference_price",
    "replay",
]
