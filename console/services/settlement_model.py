"""What signed-order settlement deals in: signed orders, matches and their states, mismatches, and the ports
the settlement service needs (its store, the chain gateway, the market). No I/O here."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.chain import ChainCommand, ChainEvent, TxRecord

CONTRACT = "OrderSettlement"
# OrderSettlement.Failure, by its uint8 value.
FAILURES = ("none", "replayed", "not-buy-sell", "product-mismatch", "self-trade", "zero-quantity",
            "price-not-crossed", "bad-buy-signature", "bad-sell-signature", "buy-not-valid", "sell-not-valid",
            "gate-closed", "too-late", "matched-in-future", "buy-cancelled", "sell-cancelled", "buy-overfill",
            "sell-overfill", "escrow-failed")


class SettlementUnavailable(RuntimeError):
    """The signed order could not be stored (its database failed): the order must not go to the book."""


class NonceReused(ValueError):
    """A participant signed a second, different order with a nonce it used before: on chain the nonce marks
    one order, so the second could never settle; refused before it reaches the book."""


class MatchState(enum.Enum):
    MATCHED = "matched"      # journaled by the market, not yet in a batch
    BATCHED = "batched"      # in a settleBatch command (queued, signed or sent)
    SETTLED = "settled"      # OrderSettled: escrowed in Settlement as trade `trade_id`
    PROPOSED = "proposing"   # proposeSettlement sent after delivery end
    DELIVERED = "delivered"  # SettlementProposed: metered delivery found, in the dispute window
    DISPUTED = "disputed"    # SettlementDisputed: a grid operator decides (resolveDispute), then it is paid
    FINALIZING = "finalizing"  # finalize sent
    PAID = "paid"            # SettlementFinalized: owed amounts credited, withdrawable
    FAILED = "failed"        # `error` says why; never retried without an operator

    @property
    def open(self) -> bool:
        return self not in (MatchState.PAID, MatchState.FAILED)


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """An order as its participant signed it: the EIP-712 message (API field names) and signature."""

    order_id: str
    participant: str  # the signer's address
    message: dict[str, Any]
    signature: str


@dataclass(frozen=True, slots=True)
class MatchRecord:
    seq: int
    ts: int
    product: int
    price: int
    quantity: int
    buy_id: str
    sell_id: str
    state: MatchState = MatchState.MATCHED
    batch: str | None = None
    trade_id: int | None = None
    value: int | None = None
    delivery_end: int | None = None
    delivered_wh: int | None = None
    tx_hash: str | None = None
    error: str | None = None
    recorded: float = 0.0  # wall time the match was recorded (for match -> confirmed latency)
    updated: float = 0.0


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The journal and the chain disagree; for an alarm and a person, never fixed silently."""

    kind: str
    seq: int | None
    detail: str


class SettlementStore(Protocol):
    """Where orders, matches and the event cursor are kept (blocking; the service calls it in a thread)."""

    def remember(self, orders: Sequence[SignedOrder]) -> None: ...
    def forget(self, order_id: str) -> None: ...
    def signed(self, order_ids: Sequence[str]) -> dict[str, SignedOrder]: ...
    def order_with_nonce(self, participant: str, nonce: str) -> str | None: ...
    def record(self, matches: Sequence[MatchRecord]) -> int: ...
    def save(self, matches: Sequence[MatchRecord]) -> None: ...
    def matches(self, open_only: bool = False, states: Sequence[MatchState] | None = None) -> list[MatchRecord]: ...
    def matches_of(self, seqs: Sequence[int]) -> list[MatchRecord]: ...
    def keys_in(self, states: Sequence[MatchState]) -> list[tuple[int, MatchState, int | None, int | None]]: ...
    def match(self, seq: int) -> MatchRecord | None: ...
    def counts(self) -> dict[MatchState, int]: ...
    def last_seq(self, settled_only: bool = False) -> int | None: ...
    def unjournaled(self) -> list[int]: ...
    def journal_fills_after(self, seq: int) -> list[MatchRecord]: ...
    def cursor(self) -> tuple[int, int] | None: ...
    def set_cursor(self, block: int, log_index: int) -> None: ...
    def close(self) -> None: ...


class SettlementChain(Protocol):
    """What the service needs of the chain gateway."""

    def submit(self, cmd: ChainCommand) -> bool: ...
    def record(self, key: str) -> TxRecord | None: ...
    def events_after(self, block: int, log_index: int, limit: int = 1000) -> list[ChainEvent]: ...
    async def chain_time(self) -> int | None: ...
    async def read(self, contract: str, function: str, *args: object) -> Any: ...


class SignedOrders(Protocol):
    """What the participant API calls with every verified order before it goes to the book."""

    async def remember(self, order_id: str, message: dict[str, Any], signature: str) -> None: ...
    async def forget(self, order_id: str) -> None: ...


class MarketReader(Protocol):
    """What the service needs of the market: its updates and its orders' state."""

    def subscribe(self, maxsize: int = 256) -> Any: ...
    def order(self, order_id: str) -> Any: ...


def order_tuple(message: dict[str, Any]) -> list[Any]:
    """The signed message as OrderSettlement.Order (ABI field order)."""
    m = message
    return [m["participant"], m["product"], m["side"], m["quantity"], m["price"], m["hasPrice"], m["kind"], m["tif"],
            m["validFrom"], m["validUntil"], m["condition"], m["grid"], m["nonce"]]


def trade_value(quantity_wh: int, price_per_kwh: int) -> int:
    """What the buyer pays into escrow for a trade: ceil(Wh × price / 1000), as the contract computes it."""
    return -(-quantity_wh * price_per_kwh // 1000)
