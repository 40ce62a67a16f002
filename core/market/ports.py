"""What the market service needs from the outside: a journal that keeps its events, and a settlement
that takes its trades (the console's adapters implement these; core only names them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from core.market.events import Event, Traded
from core.market.orders import OrderView


class JournalEntry(NamedTuple):
    """One journaled event: its position in the journal (0, 1, 2, … without gaps) and the event."""

    seq: int
    event: Event


class JournalBatch(NamedTuple):
    """The events of one decision (a submit, cancel, modify or tick) and what they derived: the state of
    every order they touched and the trades among them, so a store can keep query tables in the same
    transaction as the events."""

    entries: tuple[JournalEntry, ...]
    orders: tuple[OrderView, ...]
    fills: tuple[tuple[int, Traded, str, str], ...]  # (seq, trade, buyer, seller)


class MarketJournal(Protocol):
    """The market's write-ahead journal (blocking calls: the service runs them in a worker thread)."""

    def load(self) -> list[JournalEntry]:
        """Every stored event in journal order."""
        ...

    def append(self, batches: Sequence[JournalBatch]) -> None:
        """Store the batches atomically, in order (all or nothing); a sequence number stored before is an
        error (:class:`JournalConflict`), never an overwrite."""

    def stored_orders(self) -> list[OrderView]:
        """The derived order rows as stored (compared with the replayed book at start)."""
        ...

    def load_after(self, seq: int, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` stored events after position ``seq``, in journal order (a page of the replay)."""
        ...

    def stored_orders_in(self, order_ids: Sequence[str]) -> list[OrderView]:
        """The stored rows of these orders (ids without a row left out)."""
        ...

    def count_orders(self) -> int:
        """How many order rows are stored."""
        ...

    def orders_never_accepted(self) -> list[OrderView]:
        """Stored rows of orders no stored ``Accepted`` event names."""
        ...

    def stored_order(self, order_id: str) -> OrderView | None:
        """One order's stored row (None: never accepted)."""
        ...

    def stored_orders_of(self, participant: str) -> list[OrderView]:
        """The participant's stored rows, in acceptance order."""
        ...

    def fills_of_order(self, order_id: str, participant: str) -> list[tuple[Any, ...]]:
        """The stored trades of ``participant``'s order ``order_id``, oldest first, each as :meth:`fills_of`'s."""
        ...

    def fills_of(self, participant: str, limit: int = 100) -> list[tuple[Any, ...]]:
        """The participant's last ``limit`` stored trades (as buyer or seller), newest first, each as
        (seq, ts, product, price, quantity, buyer, seller, buy_id, sell_id, aggressor)."""
        ...

    def close(self) -> None:
        """Release the connection pool."""


class JournalConflict(RuntimeError):
    """An append would overwrite or skip journal positions: two writers, or a journal that lost events."""


class SettlementPort(Protocol):
    """Where matched trades go to be settled (on chain: the signed-order settlement contract)."""

    async def submit_batch(self, trades: Sequence[Traded]) -> None:
        """Take a batch of trades for settlement; raising leaves them queued for the next attempt."""
