"""Settlement memory is bounded by the OPEN matches (issue 11): a paid or failed match leaves memory once it is
stored; counts per state are kept as the states change; a finished match is still answered from the store; a
restart loads only the open ones. Real store (SQLite, and PostgreSQL when ENERGYNET_PG_URL is set)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

import console.services.settlement as settlement
from console.services.market import SettlementState
from console.services.settlement import MatchRecord, MatchState, SettlementService
from console.store.settlement_store import SqlSettlementStore

PRODUCT = 1_800_000_000
PERIOD = 900


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def _service(store: SqlSettlementStore, clock: Clock) -> SettlementService:
    # no chain and no market: only the store-facing paths run here (the anvil e2e tests run the rest)
    return SettlementService(store, chain=None, market=None, clock=clock, period_s=PERIOD)  # type: ignore[arg-type]


async def _ten_matches(service: SettlementService, clock: Clock) -> None:
    """10 journaled trades recorded (seq 0…9); 0–5 settle then are paid, 6–7 fail, 8 settles, 9 is batched."""
    await service._record([MatchRecord(i, PRODUCT - 100, PRODUCT, 200 + i, 1000, f"b{i}", f"s{i}",
                                       recorded=clock.t, updated=clock.t) for i in range(10)])
    assert service.counts() == {MatchState.MATCHED: 10}
    clock.t += 1
    await service._save([replace(service._matches[i], state=MatchState.SETTLED, trade_id=100 + i, value=200 + i,
                                 delivery_end=PRODUCT + PERIOD, tx_hash=f"0x{i:02x}", updated=clock.t)
                         for i in (0, 1, 2, 3, 4, 5, 8)])
    await service._save([replace(service._matches[i], state=MatchState.BATCHED, batch="settle-9", updated=clock.t)
                         for i in (6, 7, 9)])
    assert service.counts() == {MatchState.SETTLED: 7, MatchState.BATCHED: 3}
    clock.t += 1
    settled = {i: service.match(i) for i in range(6)}  # settled: held compactly, records the latest read back
    await service._save([replace(m, state=MatchState.PAID, delivered_wh=1000, updated=clock.t)
                         for m in settled.values() if m is not None])
    await service._save([replace(service._matches[i], state=MatchState.FAILED, error="refused on chain: too-late",
                                 updated=clock.t) for i in (6, 7)])


def test_only_open_matches_stay_in_memory_and_a_restart_loads_only_them(db_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settlement, "RECENT_FINISHED", 3)  # so that finished matches must come from the store
    store, clock = SqlSettlementStore(db_url), Clock()
    service = _service(store, clock)

    async def run() -> None:
        await _ten_matches(service, clock)
        # 6 paid, 2 failed, 1 settled, 1 batched: only the 2 open ones in memory (batched 9 as its record, settled
        # 8 waiting for its delivery end in compact form) and the 3 recent finished
        assert sorted(service._matches) == [9] and service._waiting == {8: MatchState.SETTLED}
        assert {s: sorted(d) for s, d in service._by_state.items() if d} == {MatchState.BATCHED: [9]}
        assert service._by_trade == {108: 8}  # paid trades 100…105 no longer indexed
        # under its delivery end only 8 is live (the paid ones' seqs there are stale: skipped, dropped when due)
        assert [s for s in service._due[PRODUCT + PERIOD] if service._waiting.get(s) is MatchState.SETTLED] == [8]
        assert list(service._recent) == [5, 6, 7]  # the last 3 finished (5 paid, then 6 and 7 failed)
        counts = {MatchState.PAID: 6, MatchState.FAILED: 2, MatchState.SETTLED: 1, MatchState.BATCHED: 1}
        assert service.counts() == counts
        assert store.counts() == counts  # the running counters agree with the SQL count
        assert [m.seq for m in service.matches()] == [5, 6, 7, 8, 9]

        # a paid match that left memory is still answered, from the store, with what it was stored with
        paid = service.match(2)
        assert paid is not None and (paid.state, paid.trade_id, paid.value, paid.delivered_wh, paid.tx_hash) == (
            MatchState.PAID, 102, 202, 1000, "0x02")
        assert list(service._recent) == [6, 7, 2]  # read back: it is now one of the 3 recent ones
        view = service.state_of(store.match(0))  # the trade tape's view of paid match 0 (read back too)
        assert (view.state, view.tx, view.detail) == (SettlementState.PAID, "0x00", "")
        assert len(service._recent) == 3 and sorted(service._matches) == [9] and list(service._waiting) == [8]
        assert service.match(10) is None  # not recorded (after the last seq): not even asked of the store

        # an operator retries failed match 6 (read back from the store): open again, counted again
        assert await service.retry([6, 0]) == [6]  # 0 is paid: not retried
        assert sorted(service._matches) == [6, 9] and list(service._waiting) == [8]
        assert service.counts() == {MatchState.PAID: 6, MatchState.FAILED: 1, MatchState.MATCHED: 1,
                                    MatchState.SETTLED: 1, MatchState.BATCHED: 1}

        # restart on the same store: only the 3 open matches are loaded (settled 8 in compact form, no record);
        # the counts come from SQL
        again = _service(SqlSettlementStore(db_url), clock)
        await again._load()
        assert sorted(again._matches) == [6, 9] and not again._recent and not again._waiting_recent
        assert again._waiting == {8: MatchState.SETTLED}
        assert again.counts() == service.counts()
        assert again._last_seq == 9 and again._by_trade == {108: 8}
        assert {t: list(s) for t, s in again._due.items()} == {PRODUCT + PERIOD: [8]}
        m7 = again.match(7)
        assert m7 is not None and (m7.state, m7.error) == (MatchState.FAILED, "refused on chain: too-late")
        # a chain event read again after the restart re-saves paid match 0, which is in neither memory map: its
        # earlier state is read back, so the counts do not count it twice
        p0 = store.match(0)
        assert p0 is not None and 0 not in again._recent
        await again._save([replace(p0, tx_hash="0xff")])
        assert again.counts()[MatchState.PAID] == 6 and again.counts() == store.counts()
        again.store.close()

    asyncio.run(run())
    store.close()


def test_memory_held_does_not_grow_with_finished_matches(db_url: str) -> None:
    """200 matches recorded and paid in rounds of 20: memory holds at most RECENT_FINISHED finished records and
    none of the open indexes grow; the counts still say 200 paid."""
    store, clock = SqlSettlementStore(db_url), Clock()
    service = _service(store, clock)

    async def run() -> None:
        for r in range(10):
            fresh = [MatchRecord(i, PRODUCT - 100, PRODUCT, 200, 1000, f"b{i}", f"s{i}") for i in
                     range(20 * r, 20 * r + 20)]
            await service._record(fresh)
            await service._save([replace(m, state=MatchState.SETTLED, trade_id=m.seq, delivery_end=PRODUCT + PERIOD)
                                 for m in fresh])
            await service._save([replace(m, state=MatchState.PAID, trade_id=m.seq, delivery_end=PRODUCT + PERIOD)
                                 for m in fresh])
            assert not service._matches and not service._by_trade and not any(service._by_state.values())
            assert not service._waiting and not service._waiting_recent
        assert service.counts() == {MatchState.PAID: 200} == store.counts()
        assert len(service._recent) == min(200, settlement.RECENT_FINISHED)
        # each match filed under its delivery end when it settled; paid before its delivery end (not so on chain,
        # but possible here) its seq there is stale: skipped when due, and the prune drops them once they are most
        assert sum(len(s) for s in service._due.values()) == 200
        service._prune()
        assert service._due == {}

    asyncio.run(run())
    store.close()
