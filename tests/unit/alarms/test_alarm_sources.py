"""The console's own alarms: statuses, findings and polled health → set_condition calls, and the built-in
definitions a config entry overrides."""

from __future__ import annotations

import math

import pytest

from console.services.alarm_sources import (
    CHAIN_DOWN,
    CHAIN_TX_FAILED,
    HISTORIAN_SPOOLING,
    TAMPER_HOLD_S,
    AlarmSources,
    builtin_definitions,
    merge_definitions,
)
from core.alarms import AlarmDef, ExternalCondition, LimitCondition, LimitKind, Priority
from core.chain import ChainStatus, TxRecord, TxState
from core.history import HistorianStats
from core.sources import ConnectionState, SourceStatus
from core.tamper import TamperEvent, TamperKind


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def set_condition(self, alarm: str, active: bool, value: float = math.nan) -> object:
        self.calls.append((alarm, active))
        return []


def status(source: str, state: ConnectionState, reads_ok: int = 0) -> SourceStatus:
    return SourceStatus(source, "x", state, 0.0, reads_ok=reads_ok)


def chain(up: bool, *failed: str) -> ChainStatus:
    recs = tuple(TxRecord(k, "d", TxState.FAILED, 1, None, None, None, "reverted", 0.0) for k in failed)
    return ChainStatus(up, "http://x", 1, 1, "0x0", 0, 0, 18, (), recs, ())


def test_builtins_cover_what_is_configured_and_a_config_entry_replaces_one() -> None:
    defs = builtin_definitions(["grid-sim"], ["house-01"], chain=True, historian=True)
    assert [d.id for d in defs] == ["source.grid-sim.lost", "modbus.house-01.silent", "modbus.house-01.tamper",
                                    "chain.down", "chain.tx_failed", "historian.spooling"]
    assert all(isinstance(d.condition, ExternalCondition) for d in defs)
    assert builtin_definitions([], [], chain=False, historian=False) == []
    mine = AlarmDef("chain.down", "chain", ExternalCondition(), Priority.LOW, "Chain away", on_delay_s=30.0)
    merged = merge_definitions([mine], defs)
    assert [d for d in merged if d.id == "chain.down"] == [mine]
    assert len(merged) == len(defs)
    wrong = AlarmDef("chain.down", "x", LimitCondition(LimitKind.HIGH, 1.0), Priority.LOW, "m")
    with pytest.raises(ValueError, match=r"'chain\.down' is a built-in alarm; to change it write type = \"external\""):
        merge_definitions([wrong], defs)


def test_a_source_lost_and_back_and_a_device_silent_until_it_reads_again() -> None:
    sink = Sink()
    src = AlarmSources(sink, ["source.g.lost", "modbus.m.silent"], ["m"])
    src.on_status(status("g", ConnectionState.CONNECTING))  # the first attempt after the start: no news
    src.on_status(status("g", ConnectionState.CONNECTED))
    src.on_status(status("g", ConnectionState.CONNECTING))  # a reconnect after this start: absent
    src.on_status(status("g", ConnectionState.CONNECTED))
    src.on_status(status("g", ConnectionState.DISCONNECTED))
    src.on_status(status("g", ConnectionState.DISCONNECTED))  # no news: not reported twice
    src.on_status(status("m", ConnectionState.CONNECTED, reads_ok=10))
    src.on_status(status("m", ConnectionState.DISCONNECTED, reads_ok=10))
    src.on_status(status("m", ConnectionState.CONNECTED, reads_ok=10))  # reconnected, no read answered yet
    src.on_status(status("m", ConnectionState.DISCONNECTED, reads_ok=10))
    src.on_status(status("m", ConnectionState.CONNECTED, reads_ok=11))  # a read answered: back
    src.on_status(status("other", ConnectionState.DISCONNECTED))  # no alarm defined for it: ignored
    assert sink.calls == [("source.g.lost", False), ("source.g.lost", True), ("source.g.lost", False),
                          ("source.g.lost", True), ("modbus.m.silent", False), ("modbus.m.silent", True),
                          ("modbus.m.silent", False)]


def test_start_up_connecting_raises_nothing_a_failed_first_attempt_does_and_a_restored_alarm_waits() -> None:
    sink = Sink()
    src = AlarmSources(sink, ["modbus.a.silent", "modbus.b.silent", "modbus.c.silent"], ["a", "b", "c"])
    for d in "abc":
        src.on_status(status(d, ConnectionState.CONNECTING))  # 3 drivers starting: no alarm, no clear
    assert sink.calls == []
    src.on_status(status("a", ConnectionState.CONNECTED, reads_ok=1))  # a answers: its alarm (if any) clears
    src.on_status(status("b", ConnectionState.DISCONNECTED))  # b's first attempt failed: silent
    src.on_status(status("b", ConnectionState.CONNECTING))  # b's retry: still silent, not news
    assert sink.calls == [("modbus.a.silent", False), ("modbus.b.silent", True)]


def test_tamper_held_then_cleared_chain_down_and_a_new_failure_and_the_historian_spooling() -> None:
    sink = Sink()
    now = [1000.0]
    chain_now = [chain(True, "old")]
    hist = [HistorianStats(0, 0, 0, 0, False, True)]
    src = AlarmSources(sink, ["modbus.m.tamper", CHAIN_DOWN, CHAIN_TX_FAILED, HISTORIAN_SPOOLING], ["m"],
                       lambda: chain_now[0], lambda: hist[0], clock=lambda: now[0])
    src.poll(now[0])  # the failure listed at start is old news
    assert sink.calls == [(CHAIN_DOWN, False), (HISTORIAN_SPOOLING, False)]
    sink.calls.clear()
    src.on_event(TamperEvent("m", "energy", TamperKind.COUNTER_RESET, now[0], 1.0, 5.0, "went back"))
    chain_now[0] = chain(False, "old", "new")
    hist[0] = HistorianStats(5, 0, 5, 0, True, False)
    src.poll(now[0] + 1)
    src.poll(now[0] + TAMPER_HOLD_S - 0.5)
    src.poll(now[0] + TAMPER_HOLD_S)  # the hold has run out
    assert sink.calls == [("modbus.m.tamper", True), (CHAIN_DOWN, True), (CHAIN_TX_FAILED, True),
                          (HISTORIAN_SPOOLING, True), ("modbus.m.tamper", False)]


def test_settlement_reports_raise_failed_and_disputed_until_each_batch_is_settled_or_resolved() -> None:
    from console.services.alarm_sources import (
        SETTLEMENT_DISPUTED,
        SETTLEMENT_FAILED,
        SettlementOutcome,
        SettlementReport,
    )
    from core.alarms import AlarmEngine, IsaState

    class Settlement:  # the hook's shape: whatever settles trades offers subscribe(listener)
        def __init__(self) -> None:
            self.listeners: list[object] = []

        def subscribe(self, listener: object) -> None:
            self.listeners.append(listener)

        def report(self, key: str, outcome: SettlementOutcome, reason: str = "") -> None:
            for listener in self.listeners:
                listener(SettlementReport(key, outcome, reason))  # type: ignore[operator]

    defs = builtin_definitions([], [], chain=False, historian=False, settlement=True)
    assert [(d.id, d.priority, d.latching) for d in defs] == [(SETTLEMENT_FAILED, Priority.HIGH, True),
                                                             (SETTLEMENT_DISPUTED, Priority.MEDIUM, True)]
    engine = AlarmEngine(defs)
    t = [0.0]

    class EngineSink:
        def set_condition(self, alarm: str, active: bool, value: float = math.nan) -> object:
            t[0] += 1
            return engine.set_external(alarm, active, t[0], value)

    settle = Settlement()
    src = AlarmSources(EngineSink(), [d.id for d in defs], [])
    src.watch_settlement(settle)
    settle.report("batch-1", SettlementOutcome.FAILED, "reverted: InsufficientEscrow")
    settle.report("batch-2", SettlementOutcome.FAILED, "nonce too low")
    assert engine.state(SETTLEMENT_FAILED).active
    settle.report("batch-1", SettlementOutcome.SETTLED)  # batch 2 still failed
    assert engine.state(SETTLEMENT_FAILED).active
    settle.report("batch-3", SettlementOutcome.DISPUTED, "household-1-1 contests 4.2 kWh")
    assert engine.state(SETTLEMENT_DISPUTED).isa is IsaState.UNACK_ACTIVE
    settle.report("batch-2", SettlementOutcome.SETTLED)
    settle.report("batch-3", SettlementOutcome.RESOLVED)
    # condition gone, but both latch until an operator resets them
    assert not engine.state(SETTLEMENT_FAILED).active and engine.state(SETTLEMENT_FAILED).latched
    assert not engine.state(SETTLEMENT_DISPUTED).active and engine.state(SETTLEMENT_DISPUTED).latched


def test_a_chattering_device_stays_silent_until_it_has_answered_10_s() -> None:
    from console.services.alarm_sources import builtin_definitions
    from core.alarms import AlarmEngine, EventKind

    silent = [d for d in builtin_definitions([], ["m"], chain=False, historian=False) if d.id == "modbus.m.silent"]
    eng = AlarmEngine(silent)
    eng.set_external("modbus.m.silent", True, 100.0)  # first attempt failed at t = 100
    assert [e.kind for e in eng.tick(105.0)] == [EventKind.ACTIVATED]  # 5 s on-delay
    eng.set_external("modbus.m.silent", False, 106.0)  # a read answered ...
    eng.set_external("modbus.m.silent", True, 109.0)  # ... and the next timed out 3 s later
    assert eng.tick(120.0) == []  # still the same occurrence: no clear, no second activation
    eng.set_external("modbus.m.silent", False, 121.0)
    assert eng.tick(130.9) == []  # answering for 9.9 s
    assert [(e.ts, e.kind) for e in eng.tick(131.0)] == [(131.0, EventKind.CLEARED)]


def test_a_cause_rule_of_a_source_not_configured_is_left_out_and_a_typo_still_refused() -> None:
    """The shipped grid-sim.data.stale names source.grid-sim.lost; a composition without OPC-UA sources (or a
    config whose [[sources]] entry was taken out) has no such alarm: the rule is dropped, the console starts.
    A cause naming anything else that is not defined (here a typo, "lsot") is still refused by the engine."""
    from core.alarms import AlarmConfigError, AlarmEngine, QualityCondition, SuppressWhenAlarm, SuppressWhenCause

    stale = AlarmDef("grid-sim.data.stale", "grid.frequency", QualityCondition(5.0), Priority.HIGH, "stale",
                     suppress_when=(SuppressWhenCause("source.grid-sim.lost"), SuppressWhenAlarm("breaker.open")))
    breaker = AlarmDef("breaker.open", "breaker.main", ExternalCondition(), Priority.HIGH, "open")
    merged = merge_definitions([stale, breaker], builtin_definitions([], [], False, False))
    assert merged[0].suppress_when == (SuppressWhenAlarm("breaker.open"),)
    AlarmEngine(merged)  # builds
    with_source = merge_definitions([stale, breaker], builtin_definitions(["grid-sim"], [], False, False))
    assert with_source[0].suppress_when == stale.suppress_when  # configured: kept as written
    typo = AlarmDef("grid-sim.data.stale", "grid.frequency", QualityCondition(5.0), Priority.HIGH, "stale",
                    suppress_when=(SuppressWhenCause("source.grid-sim.lsot"),))
    with pytest.raises(AlarmConfigError, match="lsot"):
        AlarmEngine(merge_definitions([typo], builtin_definitions(["grid-sim"], [], False, False)))
