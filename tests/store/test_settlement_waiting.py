"""A match waiting for its delivery to end (settled) or for its dispute window to end (delivered) is held only in
compact form (issue 11, "flat memory"): its record is read back from the store when it is due, when a chain event
names it, or when asked for; counts and the answers of match()/state_of() stay right, and a restart loads only
the compact form. Real store (SQLite, and PostgreSQL when ENERGYNET_PG_URL is set); the chain is a stand-in
that keeps the commands submitted, serves the events given and answers the chain time and a proposal's end."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

import console.services.settlement as settlement
from console.services.market import SettlementState
from console.services.settlement import MatchRecord, MatchState, SettlementService, SignedOrder
from console.store.settlement_store import SqlSettlementStore
from core.chain import ChainCommand, ChainEvent, ChainValue, TxRecord

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # sells
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # buys
PRODUCT = 1_800_000_000
PERIOD = 900
WINDOW = 3600  # the dispute window the stand-in chain reports for a proposal


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


class Chain:
    """The settlement service's chain port: commands kept, events served after a cursor, chain time set."""

    def __init__(self) -> None:
        self.commands: list[ChainCommand] = []
        self.events: list[ChainEvent] = []
        self.now = PRODUCT
        self.proposed_at: dict[int, int] = {}  # trade id -> chain time of its SettlementProposed

    def submit(self, cmd: ChainCommand) -> bool:
        self.commands.append(cmd)
        return True

    def record(self, key: str) -> TxRecord | None:
        return None

    def events_after(self, block: int, log_index: int, limit: int = 1000) -> list[ChainEvent]:
        return [e for e in self.events if (e.block, e.log_index) > (block, log_index)][:limit]

    async def chain_time(self) -> int | None:
        return self.now

    async def read(self, contract: str, function: str, *args: object) -> Any:
        assert (contract, function) == ("Settlement", "proposals")
        trade_id = args[0]
        assert isinstance(trade_id, int)
        return (1000, self.proposed_at[trade_id] + WINDOW)

    def emit(self, name: str, **args: ChainValue) -> None:
        if name == "SettlementProposed":
            tid = args["tradeId"]
            assert isinstance(tid, int)
            self.proposed_at[tid] = self.now
        self.events.append(ChainEvent(len(self.events) + 1, 0, f"0x{len(self.events) + 1:064x}", "Settlement", name,
                                      tuple(args.items())))

    def calls(self) -> list[tuple[str, tuple[object, ...]]]:
        out = [(c.function, c.args) for c in self.commands]
        self.commands.clear()
        return out


def _service(store: SqlSettlementStore, chain: Chain, clock: Clock) -> SettlementService:
    return SettlementService(store, chain, market=None, clock=clock, period_s=PERIOD)  # type: ignore[arg-type]


def _message(who: str, nonce: int) -> dict[str, Any]:
    return {"participant": who, "product": PRODUCT, "side": 1, "quantity": 1000, "price": 200, "hasPrice": True,
            "kind": 0, "tif": 0, "validFrom": 0, "validUntil": 0, "condition": "", "grid": 0, "nonce": nonce}


async def _three_settled(service: SettlementService, store: SqlSettlementStore, clock: Clock) -> None:
    """Matches 0, 1, 2 (b<i> buys 1000 Wh at 200 from s<i>) settle as trades 100, 101, 102; 0 and 1 are
    delivered in product PRODUCT (delivery end PRODUCT + 900), 2 in the next (PRODUCT + 1800)."""
    store.remember([SignedOrder(f"{side}{i}", who, _message(who, 10 * i + n), "0x" + "11" * 65)
                    for i in range(3) for n, (side, who) in enumerate((("b", BOB), ("s", ALICE)))])
    await service._record([MatchRecord(i, PRODUCT - 100, PRODUCT + PERIOD * (i // 2), 200, 1000, f"b{i}", f"s{i}",
                                       recorded=clock.t, updated=clock.t) for i in range(3)])
    clock.t += 1
    await service._save([replace(service._matches[i], state=MatchState.SETTLED, trade_id=100 + i, value=200,
                                 delivery_end=PRODUCT + PERIOD * (1 + i // 2), tx_hash=f"0x{i:02x}", updated=clock.t)
                         for i in range(3)])


def _terms(i: int, delivery_end: int) -> tuple[object, ...]:
    return (100 + i, ALICE, BOB, 1000, 200, delivery_end)


def test_waiting_matches_are_held_compactly_and_still_proposed_delivered_and_paid(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settlement, "RECENT_WAITING", 1)  # so that a waiting match's record must come from the store
    store, chain, clock = SqlSettlementStore(db_url), Chain(), Clock()
    service = _service(store, chain, clock)

    async def run() -> None:
        await _three_settled(service, store, clock)
        # all three wait for their delivery to end: no record held but the latest (2), in compact form only
        assert service._matches == {} and list(service._waiting_recent) == [2]
        assert service._waiting == {0: MatchState.SETTLED, 1: MatchState.SETTLED, 2: MatchState.SETTLED}
        assert service._by_trade == {100: 0, 101: 1, 102: 2}
        assert {t: list(s) for t, s in service._due.items()} == {PRODUCT + 900: [0, 1], PRODUCT + 1800: [2]}
        assert service.counts() == {MatchState.SETTLED: 3} == store.counts()
        # asked for, a record comes back from the store (and is the one held then)
        m0 = service.match(0)
        assert m0 is not None and (m0.state, m0.trade_id, m0.tx_hash, m0.delivery_end) == (
            MatchState.SETTLED, 100, "0x00", PRODUCT + 900)
        assert list(service._waiting_recent) == [0]
        view = service.state_of(store.match(1))
        assert (view.state, view.tx, view.detail) == (SettlementState.SETTLED, "0x01", "")
        assert [m.seq for m in service.matches()] == [0, 1, 2]

        # a chain event names 2 (its record not held): TradeOpened moves its delivery end a period later
        chain.emit("TradeOpened", tradeId=102, deliveryEnd=PRODUCT + 2700)
        await service._follow_events()
        assert service._waiting[2] is MatchState.SETTLED and store.match(2).delivery_end == PRODUCT + 2700  # type: ignore[union-attr]

        # a second before delivery end nothing is due; at it 0 and 1 are proposed, 2 (moved on) is not
        chain.now = PRODUCT + 899
        await service._after_delivery()
        assert chain.calls() == []
        chain.now = PRODUCT + 900
        await service._after_delivery()
        assert chain.calls() == [("proposeSettlement", _terms(0, PRODUCT + 900)),
                                 ("proposeSettlement", _terms(1, PRODUCT + 900))]
        assert sorted(service._matches) == [0, 1] and service._waiting == {2: MatchState.SETTLED}
        assert service.counts() == {MatchState.PROPOSED: 2, MatchState.SETTLED: 1} == store.counts()
        chain.now = PRODUCT + 1800  # 2's old delivery end: a stale filing, skipped
        await service._after_delivery()
        assert chain.calls() == []

        # the proposals land: both delivered, waiting (compact) for their dispute window to end
        chain.emit("SettlementProposed", tradeId=100, deliveredWh=900)
        chain.emit("SettlementProposed", tradeId=101, deliveredWh=1000)
        await service._follow_events()
        assert service._matches == {}
        assert service._waiting == {0: MatchState.DELIVERED, 1: MatchState.DELIVERED, 2: MatchState.SETTLED}
        assert service._unread_final == {0: 100, 1: 101}
        assert service.counts() == {MatchState.DELIVERED: 2, MatchState.SETTLED: 1} == store.counts()
        m1 = service.match(1)
        assert m1 is not None and (m1.state, m1.delivered_wh) == (MatchState.DELIVERED, 1000)
        assert service.state_of(store.match(0)).state is SettlementState.DELIVERED
        assert list(service._waiting_recent) == [0]  # the tape's read of 0 keeps 0, not 1

        # restart: only the compact form is loaded; the dispute window ends are read again from the chain
        again = _service(SqlSettlementStore(db_url), chain, clock)
        await again._load()
        again._cursor = service._cursor
        assert again._matches == {} and not again._waiting_recent and not again._recent
        assert again._waiting == service._waiting and again._by_trade == {100: 0, 101: 1, 102: 2}
        assert again._unread_final == {0: 100, 1: 101}
        assert {t: list(s) for t, s in again._due.items()} == {PRODUCT + 2700: [2]}
        assert again.counts() == service.counts()

        # the dispute window (proposed at PRODUCT + 1800) ends at PRODUCT + 5400: finalised then, not before
        chain.now = PRODUCT + 5399
        await again._after_delivery()
        assert chain.calls() == [("proposeSettlement", _terms(2, PRODUCT + 2700))]  # 2's delivery ended before
        assert again._unread_final == {} and {t: list(s) for t, s in again._final.items()} == {PRODUCT + 5400: [0, 1]}
        chain.now = PRODUCT + 5400
        await again._after_delivery()
        assert chain.calls() == [("finalize", _terms(0, PRODUCT + 900)), ("finalize", _terms(1, PRODUCT + 900))]
        assert again.counts() == {MatchState.FINALIZING: 2, MatchState.PROPOSED: 1} == store.counts()

        # 0 is finalised (paid); 1 is disputed instead
        chain.emit("SettlementFinalized", tradeId=100, deliveredWh=900)
        chain.emit("SettlementDisputed", tradeId=101, by=BOB, reason="meter")
        await again._follow_events()
        p0, d1 = again.match(0), again.match(1)
        assert p0 is not None and (p0.state, p0.delivered_wh) == (MatchState.PAID, 900)
        assert d1 is not None and d1.state is MatchState.DISPUTED
        assert again.state_of(store.match(0)).state is SettlementState.PAID
        assert again.counts() == {MatchState.PAID: 1, MatchState.DISPUTED: 1, MatchState.PROPOSED: 1} \
            == store.counts()
        assert again._by_trade == {101: 1, 102: 2} and again._waiting == {}
        again.store.close()

    asyncio.run(run())
    store.close()


def test_a_delivered_match_whose_record_left_memory_is_finalised_and_paid(db_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Delivered matches not among the latest are finalised from their stored records once the window ends, and
    their SettlementFinalized events (naming trades whose records are not held) move them to paid."""
    monkeypatch.setattr(settlement, "RECENT_WAITING", 0)
    store, chain, clock = SqlSettlementStore(db_url), Chain(), Clock()
    service = _service(store, chain, clock)

    async def run() -> None:
        await _three_settled(service, store, clock)
        assert service._waiting_recent == {} and service._matches == {}
        chain.now = PRODUCT + 1800  # every delivery has ended
        await service._after_delivery()
        assert [c[1][0] for c in chain.calls()] == [100, 101, 102]
        for i in range(3):
            chain.emit("SettlementProposed", tradeId=100 + i, deliveredWh=1000 - i)
        await service._follow_events()
        assert service._waiting == {i: MatchState.DELIVERED for i in range(3)} and service._matches == {}
        chain.now = PRODUCT + 1800 + WINDOW
        await service._after_delivery()
        assert [(f, a[0]) for f, a in chain.calls()] == [("finalize", 100), ("finalize", 101), ("finalize", 102)]
        chain.emit("SettlementFinalized", tradeId=101, deliveredWh=999)
        await service._follow_events()
        m1 = service.match(1)
        assert m1 is not None and (m1.state, m1.delivered_wh) == (MatchState.PAID, 999)
        assert service.counts() == {MatchState.PAID: 1, MatchState.FINALIZING: 2} == store.counts()

    asyncio.run(run())
    store.close()


def test_the_latest_settled_records_stay_for_the_tape_when_a_period_is_delivered(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The records kept are those of the latest matches to settle (the tape's rows): the proposals of a whole
    delivery period landing at once do not push them out."""
    monkeypatch.setattr(settlement, "RECENT_WAITING", 1)
    store, chain, clock = SqlSettlementStore(db_url), Chain(), Clock()
    service = _service(store, chain, clock)

    async def run() -> None:
        await _three_settled(service, store, clock)
        assert list(service._waiting_recent) == [2]  # settled last
        chain.now = PRODUCT + 900
        await service._after_delivery()
        assert [a[0] for _, a in chain.calls()] == [100, 101]
        chain.emit("SettlementProposed", tradeId=100, deliveredWh=1000)
        chain.emit("SettlementProposed", tradeId=101, deliveredWh=1000)
        await service._follow_events()
        assert service._waiting == {0: MatchState.DELIVERED, 1: MatchState.DELIVERED, 2: MatchState.SETTLED}
        assert list(service._waiting_recent) == [2]  # still the tape's latest: its row needs no store read
        view = service.state_of(store.match(2))
        assert (view.state, view.tx) == (SettlementState.SETTLED, "0x02")

    asyncio.run(run())
    store.close()


class SlowChain(Chain):
    """Each read takes a moment, as a loaded node's does; counts the reads and how many were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = self.in_flight = self.most_in_flight = 0

    async def read(self, contract: str, function: str, *args: object) -> Any:
        self.reads += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return await super().read(contract, function, *args)
        finally:
            self.in_flight -= 1


def test_a_period_of_proposals_is_finalised_in_steps_of_concurrent_reads(db_url: str) -> None:
    """250 proposals landing together (a delivery period's trades) do not hold one step for 250 reads one after
    another: each step reads at most FINAL_READS_PER_STEP (100) dispute window ends, at once, and finalises those
    due; three steps finalise all 250."""
    store, chain, clock = SqlSettlementStore(db_url), SlowChain(), Clock()
    service = _service(store, chain, clock)
    n = 250

    async def run() -> None:
        store.remember([SignedOrder(f"{side}{i}", who, _message(who, 10 * i + k), "0x" + "11" * 65)
                        for i in range(n) for k, (side, who) in enumerate((("b", BOB), ("s", ALICE)))])
        await service._record([MatchRecord(i, PRODUCT - 100, PRODUCT, 200, 1000, f"b{i}", f"s{i}",
                                           recorded=clock.t, updated=clock.t) for i in range(n)])
        await service._save([replace(service._matches[i], state=MatchState.SETTLED, trade_id=100 + i, value=200,
                                     delivery_end=PRODUCT + PERIOD, tx_hash=f"0x{i:04x}") for i in range(n)])
        chain.now = PRODUCT + PERIOD - 1  # before the delivery end: nothing is proposed by the service
        for i in range(n):
            chain.emit("SettlementProposed", tradeId=100 + i, deliveredWh=1000)
        await service._follow_events()
        assert len(service._unread_final) == n and service.counts() == {MatchState.DELIVERED: n}
        chain.now += WINDOW  # every dispute window has ended
        finalised = []
        for reads, calls in ((100, 100), (200, 100), (250, 50)):
            await service._after_delivery()
            got = chain.calls()
            assert chain.reads == reads and [f for f, _ in got] == ["finalize"] * calls
            finalised += [args[0] for _, args in got]
        assert chain.most_in_flight == 100
        assert finalised == [100 + i for i in range(n)] and not service._unread_final
        assert service.counts() == {MatchState.FINALIZING: n} == store.counts()

    asyncio.run(run())
    store.close()
