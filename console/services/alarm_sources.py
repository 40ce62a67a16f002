"""Alarm sources beyond points: the console's own health as ``external`` alarms.

A data source lost, a Modbus device silent, a meter's tamper finding, the
chain down, a transaction failed, a settlement failed or disputed, a price
spike, the market suspended, the historian spooling. Each has a built-in
definition (id, priority, message, response) that an ``[[alarms]]`` entry with
the same id and ``type = "external"`` replaces (to change its priority,
on-delay, text or to suppress it by design). The conditions reach the engine
through :meth:`AlarmService.set_condition` only:

- source / device status: pushed by the acquisition service (``subscribe_status``);
- tamper findings: pushed (``subscribe_events``), held active for ``hold_s`` and latched,
  so a one-off finding stays listed until an operator resets it;
- chain, market and historian: polled on the alarm service's tick through their public
  ``status()`` / ``snapshot()`` / ``stats()`` (their internals may change; these calls are the contract);
- settlements: pushed through :class:`SettlementReport` (the event hook below), from whatever settles
  trades: ``settlement_service.subscribe(sources.on_settlement)`` in the composition root.

The settlement hook
-------------------
A settlement service reports each batch's (or trade's) fate as a :class:`SettlementReport`:
``FAILED`` (the transaction reverted, the batch could not be sent: the trades are not settled),
``DISPUTED`` (a participant or the meter check contests it), ``SETTLED`` and ``RESOLVED`` (the dispute
closed). ``settlement.failed`` is active while any batch's newest report is ``FAILED``;
``settlement.disputed`` while any batch's newest report is ``DISPUTED``. Both latch: once clear, they
stay listed until an operator resets them, so a failure overnight is seen in the morning.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from core.alarms import AlarmDef, ExternalCondition, Priority, SuppressWhenCause
from core.chain import ChainStatus, TxState
from core.history import HistorianStats
from core.sources import ConnectionState, SourceStatus
from core.tamper import TamperEvent

if TYPE_CHECKING:
    from console.services.market import MarketSnapshot, Suspension

log = logging.getLogger(__name__)

TAMPER_HOLD_S = 60.0  # a finding keeps its alarm active this long (then it is latched until reset)
TX_FAILED_HOLD_S = 60.0
_ABSENT = (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING)
SILENT_OFF_DELAY_S = 10.0  # a silent Modbus device's alarm clears after it has answered this long


def source_lost_id(source: str) -> str:
    return f"source.{source}.lost"


def device_silent_id(device: str) -> str:
    return f"modbus.{device}.silent"


def tamper_id(device: str) -> str:
    return f"modbus.{device}.tamper"


CHAIN_DOWN = "chain.down"
CHAIN_TX_FAILED = "chain.tx_failed"
HISTORIAN_SPOOLING = "historian.spooling"
MARKET_STOPPED = "market.stopped"
MARKET_SUSPENDED = "market.suspended"
MARKET_PRICE_SPIKE = "market.price_spike"
SETTLEMENT_FAILED = "settlement.failed"
SETTLEMENT_DISPUTED = "settlement.disputed"
DEFAULT_PRICE_BAND = 0.5  # a trade more than 50 % off the reference price is a spike


class SettlementOutcome(enum.Enum):
    """What became of one settlement batch (or trade)."""

    SETTLED = "settled"
    FAILED = "failed"
    DISPUTED = "disputed"
    RESOLVED = "resolved"  # a dispute closed


@dataclass(frozen=True, slots=True)
class SettlementReport:
    """The settlement event hook's one message: batch (or trade) ``key`` now has ``outcome``.

    ``reason`` says why (a revert reason, who disputes); it goes to the log with the alarm.
    """

    key: str
    outcome: SettlementOutcome
    reason: str = ""


SettlementListener = Callable[[SettlementReport], None]


class MarketHealth(Protocol):
    """What the market alarms read of the market service (``MarketService`` has both)."""

    def snapshot(self) -> MarketSnapshot: ...

    def suspensions(self) -> Sequence[Suspension]: ...


class SettlementEvents(Protocol):
    """What a settlement service offers the alarms: ``subscribe(listener)``, called once per report."""

    def subscribe(self, listener: SettlementListener) -> object: ...


def _external(ident: str, point: str, priority: Priority, message: str, consequence: str, response: str,
              on_delay_s: float = 0.0, latching: bool = False, off_delay_s: float = 0.0) -> AlarmDef:
    return AlarmDef(ident, point, ExternalCondition(), priority, message, consequence, response,
                    on_delay_s=on_delay_s, off_delay_s=off_delay_s, latching=latching)


def builtin_definitions(opcua_sources: Iterable[str], modbus_devices: Iterable[str], chain: bool,
                        historian: bool, market: bool = False, settlement: bool = False) -> list[AlarmDef]:
    """The console's own alarms for what is configured."""
    defs = [_external(source_lost_id(s), s, Priority.HIGH, f"Data source {s} lost",
                      "Its points show no live values; alarms on them cannot see the grid",
                      f"Check the network and the OPC-UA server of {s}; the console reconnects by itself",
                      on_delay_s=5.0)
            for s in opcua_sources]
    for d in modbus_devices:
        defs.append(_external(device_silent_id(d), d, Priority.MEDIUM, f"Modbus device {d} silent",
                              "Its meter readings and setpoints are unavailable",
                              f"Check the device {d} and its link; readings resume when it answers", on_delay_s=5.0,
                              # A device that answers a read, then times out again, cycles: it is back once it
                              # has answered for 10 s (an off-delay, ISA-18.2's remedy for chattering alarms).
                              off_delay_s=SILENT_OFF_DELAY_S))
        defs.append(_external(tamper_id(d), d, Priority.MEDIUM, f"Meter {d}: tamper check failed",
                              "Its energy readings may be wrong; settlements on them may be disputed",
                              "Inspect the meter (journal has the finding); reset once checked", latching=True))
    if chain:
        defs.append(_external(CHAIN_DOWN, "chain", Priority.HIGH, "Blockchain node unreachable",
                              "Trades, settlements and demand-response requests queue and are not confirmed",
                              "Check the RPC node; queued transactions are sent when it is back", on_delay_s=5.0))
        defs.append(_external(CHAIN_TX_FAILED, "chain", Priority.MEDIUM, "Chain transaction failed",
                              "The command it carried did not take effect on chain",
                              "Read the reason in the chain panel and send the command again if needed",
                              latching=True))
    if market:
        defs.append(_external(MARKET_STOPPED, "market", Priority.HIGH, "Market stopped: its journal failed",
                              "No orders are taken; participants' apps get 'market unavailable'",
                              "Read the reason in the log (the journal database); restart the console once "
                              "it is fixed: the book is rebuilt from the journal"))
        defs.append(_external(MARKET_SUSPENDED, "market", Priority.MEDIUM, "Trading suspended by an operator",
                              "Participants cannot place or change orders in the suspended products",
                              "Read who suspended it and why on the trading tab; resume once the cause is "
                              "cleared"))
        defs.append(_external(MARKET_PRICE_SPIKE, "market", Priority.MEDIUM, "Price spike: a trade far from the "
                              "reference price", "Participants pay or earn far off the tariff; a thin book or "
                              "a mistaken order", "Check the product's book and the trade on the tape; "
                              "contact the participant if it was a mistake"))
    if settlement:
        defs.append(_external(SETTLEMENT_FAILED, "settlement", Priority.HIGH, "Settlement failed",
                              "Matched trades are not paid; balances on chain are behind the market",
                              "Read the reason on the chain tab; the batch is retried or must be resubmitted",
                              latching=True))
        defs.append(_external(SETTLEMENT_DISPUTED, "settlement", Priority.MEDIUM, "Settlement disputed",
                              "Payment of the disputed trades is held until the dispute is resolved",
                              "Check the meters' readings of the disputed trades; resolve or escalate",
                              latching=True))
    if historian:
        defs.append(_external(HISTORIAN_SPOOLING, "historian", Priority.LOW, "Historian spooling to disk",
                              "The database is not written; history is kept in the spool file",
                              "Check the historian database; the spool is replayed when it is back",
                              on_delay_s=10.0))
    return defs


def merge_definitions(configured: Sequence[AlarmDef], builtin: Sequence[AlarmDef]) -> list[AlarmDef]:
    """Configured alarms, then the built-in ones the config does not redefine (same id).

    A configured ``{ cause = "source.<name>.lost" }`` rule whose source is not configured (taken out of
    [[sources]], or a composition without OPC-UA sources) has no cause that could hold: the rule is left
    out, with a warning, rather than the console refusing to start. Any other undefined cause is still
    refused by the engine (a typo must not silently disarm a suppression)."""
    own = {d.id for d in configured}
    builtin_ids = {b.id for b in builtin}
    for d in configured:
        if d.id in builtin_ids and not isinstance(d.condition, ExternalCondition):
            raise ValueError(f"alarms: {d.id!r} is a built-in alarm; to change it write type = \"external\"")
    defined = own | builtin_ids
    kept = [_without_unconfigured_sources(d, defined) for d in configured]
    return [*kept, *(b for b in builtin if b.id not in own)]


def _without_unconfigured_sources(d: AlarmDef, defined: set[str]) -> AlarmDef:
    moot = [r for r in d.suppress_when if isinstance(r, SuppressWhenCause) and r.alarm not in defined
            and r.alarm.startswith("source.") and r.alarm.endswith(".lost")]
    if not moot:
        return d
    for r in moot:
        log.warning("alarm %r: suppress_when cause %r left out: no OPC-UA source %r is configured", d.id,
                    r.alarm, r.alarm.removeprefix("source.").removesuffix(".lost"))
    return replace(d, suppress_when=tuple(r for r in d.suppress_when if r not in moot))


class ConditionSink(Protocol):
    def set_condition(self, alarm: str, active: bool, value: float = math.nan) -> object: ...


class AlarmSources:
    """Turns statuses, findings and polled health into ``set_condition`` calls (only for defined alarms)."""

    def __init__(self, sink: ConditionSink, defined: Iterable[str], modbus_devices: Iterable[str],
                 chain_status: Callable[[], ChainStatus] | None = None,
                 historian_stats: Callable[[], HistorianStats] | None = None,
                 clock: Callable[[], float] = time.time,
                 market: MarketHealth | None = None,
                 price_band: float = DEFAULT_PRICE_BAND) -> None:
        if not price_band > 0:
            raise ValueError(f"[market] price_spike_band must be above 0 (a fraction, e.g. 0.5), got {price_band}")
        self._sink = sink
        self._defined = set(defined)
        self._modbus = set(modbus_devices)
        self._chain_status = chain_status
        self._historian_stats = historian_stats
        self._market = market
        self.price_band = price_band
        self._clock = clock
        self._settlements: dict[str, SettlementOutcome] = {}  # key → newest outcome, only failed or disputed
        self._conditions: dict[str, bool] = {}
        self._held_until: dict[str, float] = {}
        self._reads_at_loss: dict[str, int] = {}  # device → its good reads when it went silent
        # Sources whose first connection attempt has ended (connected or failed) since the console started.
        self._attempted: set[str] = set()
        self._failed_seen: set[str] | None = None  # None: not polled yet (failures before start are old news)

    def _set(self, alarm: str, active: bool, value: float = math.nan) -> None:
        # The first report goes through whatever it says: an alarm restored active from the journal
        # (chain down at the last shutdown) must be cleared once the chain is seen up.
        if alarm not in self._defined or self._conditions.get(alarm) is active:
            return
        self._conditions[alarm] = active
        self._sink.set_condition(alarm, active, value)

    def on_settlement(self, report: SettlementReport) -> None:
        """The settlement event hook (:class:`SettlementListener`): a batch failed, was disputed, settled
        or its dispute resolved."""
        if report.outcome in (SettlementOutcome.FAILED, SettlementOutcome.DISPUTED):
            log.warning("settlement %s %s%s", report.key, report.outcome.value,
                        f": {report.reason}" if report.reason else "")
            self._settlements[report.key] = report.outcome
        else:
            self._settlements.pop(report.key, None)
        outcomes = set(self._settlements.values())
        self._set(SETTLEMENT_FAILED, SettlementOutcome.FAILED in outcomes)
        self._set(SETTLEMENT_DISPUTED, SettlementOutcome.DISPUTED in outcomes)

    def watch_settlement(self, events: SettlementEvents) -> None:
        """Subscribe to a settlement service's reports."""
        events.subscribe(self.on_settlement)

    def _poll_market(self, snap: MarketSnapshot, halts: Sequence[Suspension]) -> None:
        self._set(MARKET_STOPPED, snap.failure is not None)
        self._set(MARKET_SUSPENDED, bool(halts), float(len(halts)))
        ref = snap.reference.price if snap.reference is not None else None
        worst = math.nan  # the open product's last trade farthest from the reference price
        if ref:
            for p in snap.products:
                if p.last_price is not None and abs(p.last_price - ref) > self.price_band * ref and not (
                        abs(worst - ref) >= abs(p.last_price - ref)):
                    worst = float(p.last_price)
        self._set(MARKET_PRICE_SPIKE, math.isfinite(worst), worst)

    def on_status(self, status: SourceStatus) -> None:
        """Acquisition status listener: a source or device away (disconnected, or not connected yet).

        A Modbus device that accepts the connection but answers no read reconnects in a cycle
        (connected for a moment, then timed out): it is back only once a read succeeded again.

        The first connection attempt after the start is not an absence: every driver starts in CONNECTING,
        and a console (re)started while 69 devices connect would otherwise open with a flood of "silent"
        alarms that clear seconds later (ISA-18.2: no alarms from start-up transients). The attempt
        fails into DISCONNECTED when the device is really away, and that is alarmed (after the on-delay);
        an alarm restored active from the journal stays as it is until the first attempt has ended."""
        if status.state is ConnectionState.CONNECTING and status.source not in self._attempted:
            return
        self._attempted.add(status.source)
        if status.source not in self._modbus:
            self._set(source_lost_id(status.source), status.state in _ABSENT)
            return
        alarm = device_silent_id(status.source)
        if status.state in _ABSENT:
            self._reads_at_loss.setdefault(status.source, status.reads_ok)
            self._set(alarm, True)
        elif status.state is not ConnectionState.STOPPED and (
                status.reads_ok > self._reads_at_loss.get(status.source, -1)):
            self._reads_at_loss.pop(status.source, None)
            self._set(alarm, False)

    def on_event(self, event: TamperEvent) -> None:
        """A tamper finding: the alarm is active now and for ``TAMPER_HOLD_S`` after the newest finding."""
        alarm = tamper_id(event.device)
        self._held_until[alarm] = self._clock() + TAMPER_HOLD_S
        self._set(alarm, True)

    def poll(self, now: float) -> None:
        """On the alarm tick: the chain's and the historian's health, and holds running out."""
        for alarm, until in list(self._held_until.items()):
            if now >= until:
                del self._held_until[alarm]
                self._set(alarm, False)
        if self._chain_status is not None:
            try:
                st = self._chain_status()
            except Exception:
                log.exception("chain status unavailable for the alarms")
            else:
                self._set(CHAIN_DOWN, not st.up)
                failed = {r.key for r in (*st.pending, *st.recent) if r.state is TxState.FAILED}
                if self._failed_seen is not None and failed - self._failed_seen:
                    self._held_until[CHAIN_TX_FAILED] = now + TX_FAILED_HOLD_S
                    self._set(CHAIN_TX_FAILED, True)
                self._failed_seen = failed  # the records the status still lists
        if self._market is not None:
            try:
                ms, halts = self._market.snapshot(), self._market.suspensions()
            except Exception:
                log.exception("market snapshot unavailable for the alarms")
            else:
                self._poll_market(ms, halts)
        if self._historian_stats is not None:
            try:
                hs = self._historian_stats()
            except Exception:
                log.exception("historian stats unavailable for the alarms")
            else:
                self._set(HISTORIAN_SPOOLING, hs.spool_pending or not hs.db_ok)
