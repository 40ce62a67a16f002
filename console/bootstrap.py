"""Composition root: :func:`build` assembles the whole application once; the ONLY place (with
``bootstrap_chain``) that names concrete drivers, stores and gateways.

Everything else in ``console`` talks to services and ports. No protocol code lives here.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from console.config import Settings
from console.services.acquisition import AcquisitionService
from console.services.alarms import AlarmService
from console.services.chain import ChainService
from console.services.commands import AuditReader, CommandService
from console.services.dr import DrService
from console.services.historian import HistorianService
from console.services.history_export import HistoryExport
from console.services.loop_monitor import LoopMonitor
from console.services.market import MarketService
from console.services.market_maker import MarketMakerService
from console.services.settlement import SettlementService
from console.services.users import desktop_user
from core.alarms import AlarmDef
from core.alarms.ports import AlarmJournal
from core.grid import GridState, StaleWatch
from core.ports import ChainPort, DeviceWriter, Historian, SampleSource
from core.sources import SourceStatus
from drivers.modbus.hub import ModbusHub
from drivers.opcua import OpcUaHub

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from console.api.app import ApiServer
    from console.services.achievements import AchievementService
    from console.services.balancing import BalancingService
    from console.services.participants_admin import ParticipantsAdmin
    from console.services.probe import ProbeReport
    from console.services.report_production import ProductionService
    from console.services.report_schedule import ReportScheduler
    from console.services.reports import ReportService
    from console.services.trust import TrustService
    from console.services.users import UserService
    from console.store.historian import SqlHistorian


@runtime_checkable
class Lifecycle(Protocol):
    """A part of the application that runs: started in field order, stopped in reverse."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Application:
    """The whole application graph, built once by :func:`build`.

    The desktop window, ``energynet serve`` and the tests all take their services from here. Every field
    whose value has ``start``/``stop`` is started in the order the fields are declared and stopped in the
    reverse order, so adding a service is one field here and one line in :func:`build`.
    """

    settings: Settings
    acquisition: AcquisitionService
    monitor: LoopMonitor
    historian: HistorianService | None
    alarms: AlarmService | None
    sources: FieldSources
    commands: CommandService | None
    chain: ChainService | None
    chain_error: str | None  # why the chain is off although configured (the console runs on without it)
    market: MarketService | None = None
    settlement: SettlementService | None = None  # signed-order settlement on chain (after market and chain)
    participants: ParticipantsAdmin | None = None  # the admin's register (before the API: the API reads it)
    api: ApiServer | None = None  # the participant API (after the market: it serves the market's commands)
    reports: ReportScheduler | None = None  # [[reports]]: scheduled reports written into their folders
    users: UserService | None = None  # console users (login, idle lock, admin screen), on the historian's database
    trust: TrustService | None = None  # OPC-UA server certificates waiting for a decision, and the trusted ones
    dr: DrService | None = None  # demand response (after the chain: it reads the chain's events)
    achievements: AchievementService | None = None  # badges minted once per milestone (market, DR, register)
    maker: MarketMakerService | None = None  # the grid's tariffs quoted in the book (after market and settlement)
    balancing: BalancingService | None = None  # islanding and load shedding (console/services/balancing.py)
    _running: list[Lifecycle] = field(default_factory=list, repr=False, compare=False)

    def parts(self) -> list[Lifecycle]:
        """The running parts in start order."""
        values = (getattr(self, f.name) for f in fields(self) if not f.name.startswith("_"))
        return [v for v in values if isinstance(v, Lifecycle)]

    async def start(self, before_sources: Awaitable[None] | None = None) -> None:
        """Start every part; when one fails, the ones already started are stopped and the error raised.

        The field sources start as soon as ``before_sources`` is done (the demo: until its simulators
        listen, so a driver's first connection attempt does not fail into its back-off), beside the parts
        declared before them: the first live value does not wait for the historian's migration or the alarm
        journal's read (both queue what arrives meanwhile; docs/decisions.md, "Start-up order"). The parts
        declared after the sources start in order once both are done; :meth:`stop` stops in reverse
        declaration order whatever started."""
        if self._running:
            return
        parts = self.parts()
        at = next((i for i, p in enumerate(parts) if p is self.sources), None)
        early, late = (parts, []) if at is None else (parts[:at], parts[at + 1:])
        sources: asyncio.Task[None] | None = None
        if at is not None:
            sources = asyncio.ensure_future(self._start_sources(before_sources))
        elif inspect.iscoroutine(before_sources):
            before_sources.close()
        try:
            for part in early:
                await part.start()
                self._running.append(part)
            if sources is not None:
                await sources
                self._running.append(self.sources)
            for part in late:
                await part.start()
                self._running.append(part)
        except BaseException:
            if sources is not None and self.sources not in self._running:
                sources.cancel()
                await asyncio.gather(sources, return_exceptions=True)
                if not sources.cancelled() and sources.exception() is None:
                    self._running.append(self.sources)  # started before the cancel landed: stopped first
            await self.stop()
            raise

    async def _start_sources(self, before: Awaitable[None] | None) -> None:
        if before is not None:
            await before
        await self.sources.start()

    def stopping(self) -> None:
        """Tell every running part that the stop has begun, before any of them stops (a part with a
        ``stopping()``: the alarms then no longer take the stop's own effects for alarm conditions)."""
        for part in self._running:
            notice = getattr(part, "stopping", None)
            if callable(notice):
                try:
                    notice()
                except Exception:
                    log.exception("%s: stopping() failed", type(part).__name__)

    async def stop(self, part_timeout_s: float = 15.0) -> None:
        """Stop what was started, newest first (every part told first: :meth:`stopping`). Safe to call twice
        and after a failed start; a part that fails to stop, or hangs past ``part_timeout_s``, is logged and
        the others are still stopped: a driver stuck on a dead server must not keep the historian from
        flushing."""
        self.stopping()
        while self._running:
            part = self._running.pop()
            name = type(part).__name__
            stopping = asyncio.ensure_future(part.stop())
            try:
                done, _ = await asyncio.wait({stopping}, timeout=part_timeout_s)
            except asyncio.CancelledError:
                stopping.cancel()
                raise
            if not done:
                stopping.cancel()  # not awaited: a part that ignores cancellation must not hang the rest
                log.error("%s did not stop within %.0f s; going on with the shutdown", name, part_timeout_s)
            elif stopping.exception() is not None:
                log.error("%s did not stop cleanly", name, exc_info=stopping.exception())


SourcesFactory = Callable[[Settings, AcquisitionService], "FieldSources"]


def build(
    settings: Settings,
    *,
    sources: SourcesFactory | None = None,
    historian_store: Historian | None = None,
    chain_gateway: ChainPort | None = None,
    monitor: LoopMonitor | None = None,
    clock: Callable[[], float] = time.time,
) -> Application:
    """Assemble the application for ``settings`` (nothing is started).

    The keyword arguments replace one concrete adapter each, for tests and tools: ``sources`` builds the
    field sources, ``historian_store`` is the store behind the historian service (when the historian is
    enabled), ``chain_gateway`` the gateway behind the chain service (when the chain is enabled)."""
    acquisition = build_acquisition(settings, clock)
    historian = build_historian(settings, acquisition, historian_store)
    field_sources = (sources or build_field_sources)(settings, acquisition)
    commands = build_commands(field_sources, historian, settings)
    chain, chain_error = build_chain(settings, acquisition, historian, chain_gateway)
    market = build_market(settings, acquisition, clock)
    if market is not None and historian is not None:
        market.audit = historian.historian  # suspend/resume land in the audit log with the commands
    settlement = build_settlement(settings, market, chain)
    if settlement is not None and market is not None:
        market.settlement_states = settlement  # the trade tape shows each trade's way to paid
    alarms = build_alarms(settings, acquisition, historian, chain, clock, market, settlement)
    from console.bootstrap_security import build_participants, trust_service_for, users_of  # issue 18

    store = historian.historian if historian is not None else None
    participants = build_participants(settings, store, chain, market)
    return Application(settings, acquisition, monitor or LoopMonitor(), historian, alarms, field_sources,
                       commands, chain, chain_error, market, settlement, participants,
                       build_api(settings, market, settlement, participants, store, chain),
                       build_report_scheduler(settings, clock), users_of(store), trust_service_for(settings, store),
                       dr=(dr := build_dr(settings, acquisition, historian, chain)),
                       achievements=build_achievements(market, chain, participants, dr),
                       maker=build_market_maker(settings, market, settlement),
                       balancing=build_balancing(settings, acquisition, commands or CommandService(
                           None, store, user=desktop_user(settings), audit_reader=audit_reader_of(store)), market))


def build_balancing(settings: Settings, acquisition: AcquisitionService, commands: CommandService,
                    market: MarketService | None = None) -> BalancingService | None:
    """With a ``breaker.main`` point: the emergency picture; its commands go through ``commands`` (the
    window's command path: permission, audit, the signed-in user) to that point's OPC-UA source (a source
    with security gets none: drivers/opcua/writer.py connects without). The islanding procedure suspends
    ``market`` and dispatches the Modbus batteries that take setpoints (``asset = "battery"``, not
    ``read_only``)."""
    from functools import partial

    from console.services.balancing import BREAKER, BalancingService
    from drivers.opcua.writer import write_boolean, write_double

    source = next((s for s in settings.sources if any(p.point.id == BREAKER for p in s.points)), None)
    if source is None:
        return None
    open_source = source.security_mode.name == "NONE"
    write = partial(write_double, source.endpoint) if open_source else None
    switch = partial(write_boolean, source.endpoint) if open_source else None
    batteries = [d.name for d in settings.modbus if d.asset == "battery" and not d.read_only]
    service = BalancingService(commands, write, switch=switch, market=market, batteries=batteries)
    acquisition.subscribe(service.on_samples)
    return service


def build_acquisition(settings: Settings, clock: Callable[[], float] = time.time) -> AcquisitionService:
    """Process image and trend buffers for the configured points."""
    state = GridState(
        settings.points,
        frequency_bands=settings.frequency_bands,
        voltage_bands=settings.voltage_bands,
        rocof_window_s=settings.console.rocof_window_s,
        stale_watches=stale_watches(settings),
    )
    return AcquisitionService(state, history_s=settings.console.trend_history_s,
                              rate_hz=settings.console.refresh_hz, clock=clock)


def stale_watches(settings: Settings) -> list[StaleWatch]:
    """The staleness rule of the readouts and trends, taken from the alarms': every quality alarm with a
    ``stale_after`` watches its point, and its silence makes that point's source (its OPC-UA source's
    points) stale, as the alarm says ("the grid values shown are not live")."""
    from core.alarms.definitions import QualityCondition

    watches = []
    for d in settings.alarms:
        c = d.condition
        if not isinstance(c, QualityCondition) or c.stale_after_s is None:
            continue
        source = next((s for s in settings.sources if any(b.point.id == d.point for b in s.points)), None)
        covers = frozenset(b.point.id for b in source.points) if source is not None else frozenset({d.point})
        watches.append(StaleWatch(d.point, c.stale_after_s, covers, source.name if source is not None else ""))
    return watches


class FieldSources:
    """All field drivers as one :class:`core.ports.SampleSource`."""

    def __init__(self, parts: Sequence[SampleSource], writer: DeviceWriter | None = None) -> None:
        self.parts = list(parts)
        self.writer = writer  # the Modbus hub: devices that take setpoints
        self._started: list[SampleSource] = []
        self._gates: dict[int, Awaitable[None]] = {}  # id(part) → what its start waits for
        self._later: list[asyncio.Task[None]] = []

    def hold(self, part: SampleSource, gate: Awaitable[None]) -> None:
        """Start ``part`` only once ``gate`` is done (the demo: the Modbus drivers when the world's Modbus face
        listens, seconds after its OPC-UA face, rather than into a storm of refused connections); the other
        parts do not wait for it."""
        self._gates[id(part)] = gate

    async def start(self) -> None:
        for part in self.parts:
            gate = self._gates.pop(id(part), None)
            if gate is not None:
                self._later.append(asyncio.ensure_future(self._start_after(gate, part)))
                continue
            try:
                await part.start()
            except BaseException:
                await self.stop()
                raise
            self._started.append(part)

    async def _start_after(self, gate: Awaitable[None], part: SampleSource) -> None:
        try:
            await gate
        except Exception:
            log.exception("%s: the wait before its start failed; starting it now", type(part).__name__)
        try:
            await part.start()
        except Exception:
            log.exception("%s did not start", type(part).__name__)
            return
        self._started.append(part)

    async def stop(self) -> None:
        for gate in self._gates.values():  # held, and never started
            if inspect.iscoroutine(gate):
                gate.close()
        self._gates.clear()
        for task in self._later:
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)
        self._later = []
        while self._started:
            await self._started.pop().stop()

    def statuses(self) -> Sequence[SourceStatus]:
        return [st for part in self.parts for st in part.statuses()]


def build_field_sources(settings: Settings, acquisition: AcquisitionService) -> FieldSources:
    """The drivers for every configured source, feeding ``acquisition``."""
    parts: list[SampleSource] = []
    if settings.sources:
        parts.append(OpcUaHub(settings.sources, acquisition.on_samples, acquisition.on_status))
    modbus = None
    if settings.modbus:
        modbus = ModbusHub(settings.modbus, acquisition.on_samples, acquisition.on_status,
                           on_event=acquisition.on_event, on_points=acquisition.register_points)
        parts.append(modbus)
    return FieldSources(parts, modbus)


def build_commands(sources: FieldSources, historian: HistorianService | None,
                   settings: Settings | None = None) -> CommandService | None:
    """Operator commands to the devices that take them (None without any), acting as the desktop user
    (``[console] user``, an operator) until a login names someone else."""
    if sources.writer is None:
        return None
    store = historian.historian if historian is not None else None
    user = desktop_user(settings) if settings is not None else None
    return CommandService(sources.writer, store, user=user, audit_reader=audit_reader_of(store))


def audit_reader_of(store: Historian | None) -> AuditReader | None:
    """The command history's read of the audit log, where the historian is the SQL one."""
    if store is None:
        return None
    from console.store.historian import SqlHistorian  # imported late, like the historian itself
    if not isinstance(store, SqlHistorian):
        return None
    from console.store.audit_read import recent_audit
    return functools.partial(recent_audit, store.engine)


def historian_url(settings: Settings) -> str:
    """The configured database, or SQLite in the user's data directory."""
    from console.store.database import default_url

    return settings.historian.url or default_url()


def build_sql_historian(settings: Settings) -> SqlHistorian:
    """The historian on the configured database (not started)."""
    from console.store.database import default_data_dir
    from console.store.historian import SqlHistorian
    from console.store.retention import RetentionPolicy

    h = settings.historian
    url = historian_url(settings)
    if h.spool:
        spool = Path(h.spool)
    elif url.startswith("sqlite:///"):
        spool = Path(url.removeprefix("sqlite:///") + ".spool")
    else:
        spool = default_data_dir() / "historian.spool"
    return SqlHistorian(url, spool, settings.points, RetentionPolicy(h.raw_days, h.minute_days, h.hour_days),
                        batch_rows=h.batch_rows, flush_s=h.flush_s)


def build_historian(settings: Settings, acquisition: AcquisitionService,
                    store: Historian | None = None) -> HistorianService | None:
    """Historian service fed by every acquisition batch (None when disabled)."""
    if not settings.historian.enabled:
        return None
    service = HistorianService(store if store is not None else build_sql_historian(settings),
                               dict(settings.deadbands), heartbeat_s=settings.historian.heartbeat_s,
                               maintain_every_s=settings.historian.maintain_every_s)
    acquisition.subscribe(service.on_samples)
    acquisition.subscribe_events(service.on_event)
    acquisition.subscribe_points(service.on_points)
    return service


def build_chain(settings: Settings, acquisition: AcquisitionService, historian: HistorianService | None,
                gateway: ChainPort | None = None) -> tuple[ChainService | None, str | None]:
    """The chain service, or None and the reason; the console runs without the chain rather than not at all."""
    if not settings.chain.enabled:
        return None, None
    store = historian.historian if historian is not None else None
    if gateway is not None:
        return ChainService(gateway, acquisition.snapshot, store, publish_every_s=settings.chain.publish_status_s,
                            user=desktop_user(settings)), None
    from console.bootstrap_chain import build_chain_service  # web3 is imported only when the chain is on

    try:
        return build_chain_service(settings.chain, acquisition.snapshot, store, desktop_user(settings)), None
    except (OSError, ValueError) as exc:
        log.error("chain disabled: %s", exc)
        return None, str(exc)


def build_achievements(market: MarketService | None, chain: ChainService | None,
                       participants: ParticipantsAdmin | None, dr: DrService | None) -> AchievementService | None:
    """Achievement badges for the admin's registered participants, from their trading and demand response;
    None without chain, market or register. (Green Exporter needs metered export per participant: not yet.)"""
    gateway = chain.gateway if chain is not None else None
    if market is None or participants is None or gateway is None or not hasattr(gateway, "events_named"):
        return None
    from collections import Counter

    from console.services.achievements import AchievementService
    from core.achievements import ParticipantRecord

    register = participants

    def records() -> dict[str, ParticipantRecord]:
        joined: Counter[str] = Counter()
        delivered: Counter[str] = Counter()
        for ev in dr.events() if dr is not None else ():
            for p in ev.participants:
                joined[p.address.lower()] += 1
                delivered[p.address.lower()] += (p.delivered_wh or 0) > 0
        trading = {p.participant: p for p in market.positions()}
        out = {}
        for r in register.records():
            t = trading.get(r.id)
            out[r.id] = ParticipantRecord(trades=t.trades if t else 0, bought_wh=t.bought_wh if t else 0,
                                          sold_wh=t.sold_wh if t else 0, dr_joined=joined[r.wallet.lower()],
                                          dr_delivered=delivered[r.wallet.lower()])
        return out

    return AchievementService(gateway, records, lambda: {r.id: r.wallet for r in register.records()},
                              events=lambda: gateway.events_named(["AchievementAwarded"], 100_000))


def build_dr(settings: Settings, acquisition: AcquisitionService, historian: HistorianService | None,
             chain: ChainService | None) -> DrService | None:
    """Demand response on the chain service and its gateway's event journal, M&V from the historian, the
    operator's metadata in the historian's database; None without the chain."""
    if chain is None or not hasattr(chain.gateway, "events_named"):
        return None
    from datetime import datetime

    from console.services.dr import DrChain
    from console.services.dr_measurement import LoadPoints, load_points_of
    from console.store.dr_store import SqlDrStore
    from core.participants import RoleIndex, participants_of
    from core.roles import Role

    people = participants_of(settings.modbus)
    index = RoleIndex(d.name for d in settings.modbus)

    def meters() -> dict[str, LoadPoints]:
        """Each participant's grid meter power point and its PV / wind inverters' power points (M&V on gross
        load), once their drivers have reported the points. A participant with a generator whose power point
        is not known yet is left out until it is: measured on its net meter alone, its sun would be in its
        baseline."""
        index.update(acquisition.snapshot().readings)
        return load_points_of(people, lambda device: index.point(device, Role.POWER))

    gateway = cast("DrChain", chain.gateway)
    store = historian.historian if historian is not None else None
    return DrService(chain, gateway, SqlDrStore(historian_url(settings)), store, meters,
                     datetime.now().astimezone().tzinfo or UTC)


def build_market(settings: Settings, acquisition: AcquisitionService,
                 clock: Callable[[], float] = time.time) -> MarketService | None:
    """The market on its write-ahead journal (the historian's database unless [market] journal_url says
    otherwise), ticking on the acquisition's grid snapshot; None when [market] is off."""
    m = settings.market
    if not m.enabled:
        return None
    from console.store.market_journal import SqlMarketJournal
    from core.market import MarketRules, PricingConfig

    rules = MarketRules(tick=m.tick, lot=m.lot, max_price=m.max_price, max_quantity=m.max_quantity,
                        open_horizon_s=m.open_horizon_s, gate_closure_s=m.gate_closure_s)
    pricing = PricingConfig(base=m.base_price, floor=m.price_floor, cap=m.price_cap, tick=m.tick)
    journal = SqlMarketJournal(m.journal_url or historian_url(settings))
    return MarketService(rules, journal, acquisition.snapshot, pricing=pricing, tick_hz=m.tick_hz, clock=clock)


def build_settlement(settings: Settings, market: MarketService | None,
                     chain: ChainService | None) -> SettlementService | None:
    """Settlement of the market's matches on chain (OrderSettlement), when market and chain both run and the
    deployment has the contract; its state lives beside the market journal."""
    if market is None or chain is None:
        return None
    from contracts.gateway import ChainGateway

    gateway = chain.gateway
    if not isinstance(gateway, ChainGateway) or "OrderSettlement" not in gateway.deployment.addresses:
        log.warning("signed-order settlement off: the chain deployment has no OrderSettlement contract; deploy the "
                    "suite again (`energynet chain deploy`) to settle the market's trades on chain")
        return None
    from console.api.auth import fast_digest
    from console.store.settlement_store import SqlSettlementStore
    from contracts.deploy import SuiteParameters

    p = SuiteParameters()
    store = SqlSettlementStore(settings.market.journal_url or historian_url(settings))
    dep = gateway.deployment
    contract = dep.addresses["OrderSettlement"]
    return SettlementService(store, gateway, market, max_settle_delay_s=p.max_settle_delay_s,
                             period_s=p.period_s,
                             order_digest=lambda msg: "0x" + fast_digest("Order", msg, dep.chain_id, contract).hex())


def build_market_maker(settings: Settings, market: MarketService | None,
                       settlement: SettlementService | None) -> MarketMakerService | None:
    """The grid's market-maker ([market.maker]), signing with the grid's keystore in the settlement contract's
    domain (so its trades settle on chain); None when off. Without the chain its orders are signed all the
    same (the chain id of [api]/[chain]) and trade in the book, but nothing settles."""
    mk = settings.market.maker
    if market is None or not mk.enabled:
        return None
    from console.api.auth import chain_id_for
    from console.api.signer import KeystoreOrderSigner
    from console.bootstrap_chain import keystore_password_env
    from contracts.gateway import load_keystore
    from core.market.maker import GridTariffs

    tariffs = GridTariffs(mk.feed_in_tariff, mk.retail_tariff, mk.size_wh, mk.products)
    if not mk.keystore.exists():  # the market runs without the grid's quotes; the log says how to get them
        log.warning("[market.maker] is on but its keystore %s does not exist: the grid does not quote in the "
                    "market. `energynet chain up --dir %s` writes it for the demo chain; for another chain, "
                    "register the grid's account and its supply meter and set [market.maker] keystore",
                    mk.keystore, mk.keystore.parent)
        return None
    account = load_keystore(mk.keystore, keystore_password_env(mk.password_env))
    contract = None
    if settlement is not None:
        gateway = getattr(settlement.chain, "deployment", None)
        contract = gateway.addresses.get("OrderSettlement") if gateway is not None else None
    chain = settings.chain
    signer = KeystoreOrderSigner(account, chain_id_for(settings.api.chain_id,
                                                       chain.deployment if chain.enabled else None), contract)
    return MarketMakerService(market, tariffs, signer, settlement, participant=mk.participant, every_s=mk.every_s)


def build_api(settings: Settings, market: MarketService | None, settlement: SettlementService | None = None,
              participants: ParticipantsAdmin | None = None, store: Historian | None = None,
              chain: ChainService | None = None) -> ApiServer | None:
    """The participant API server (not started), or None when [api] is off. With the admin's register the
    API reads participants from it (else from [api] participants); with a user database it also serves the
    operator-only routes."""
    a = settings.api
    if not a.enabled:
        return None
    from console.api.app import ApiServer, create_app
    from console.api.participants import Directory, ParticipantDirectory, ParticipantsError
    from console.api.registry_directory import RegistryDirectory
    from console.bootstrap_security import install_operator_api
    from console.config import ConfigError

    if market is None:
        raise ConfigError("[api] enabled = true needs the market: set [market] enabled = true")
    try:
        directory: Directory = (RegistryDirectory(participants) if participants is not None
                                else ParticipantDirectory.load(a.participants))
    except ParticipantsError as exc:
        raise ConfigError(f"[api] participants: {exc}") from exc
    # Orders are signed in the settlement contract's EIP-712 domain (its chain id and address) when it runs.
    # Without it the market runs off chain: the chain id is [api] chain_id, or the [chain] deployment's, or
    # the development chain's (31337), and the domain names no contract.
    from console.api.auth import ChainIdError, chain_id_for

    try:
        chain_id = chain_id_for(a.chain_id, settings.chain.deployment if settings.chain.enabled else None)
    except ChainIdError as exc:
        raise ConfigError(f"[api] chain_id: {exc}") from exc
    contract = None
    if settlement is not None:
        from contracts.gateway import ChainGateway

        assert isinstance(settlement.chain, ChainGateway)  # build_settlement only builds it on one
        if settlement.chain.deployment.chain_id != chain_id:
            raise ConfigError(f"[api] chain_id = {chain_id} but the settlement contract is on chain "
                              f"{settlement.chain.deployment.chain_id}: remove [api] chain_id or fix it")
        contract = settlement.chain.deployment.addresses["OrderSettlement"]
    escrow = None
    if settlement is not None:  # orders settle on chain: a buy must fit in its buyer's escrow there
        from console.services.escrow import EscrowService
        from contracts.funds import TokenFunds
        from contracts.gateway import ChainGateway

        assert isinstance(settlement.chain, ChainGateway)  # build_settlement only builds it on one
        dep = settlement.chain.deployment
        escrow = EscrowService(TokenFunds(settlement.chain.rpc_url, dep.addresses["SettlementToken"],
                                          dep.addresses["Settlement"]), max_price=market.rules.max_price)
    app = create_app(market, directory, rate_per_s=a.rate_per_s, burst=a.burst, max_body_bytes=a.max_body_bytes,
                     chain_id=chain_id, contract=contract, signed_orders=settlement, escrow=escrow)
    app.state.production = build_production(settings)  # the production and grid endpoints (None: 404)
    install_operator_api(app, store, chain)
    return ApiServer(app, a.host, a.port, a.tls_cert, a.tls_key)


def build_alarms(settings: Settings, acquisition: AcquisitionService, historian: HistorianService | None,
                 chain: ChainService | None, clock: Callable[[], float] = time.time,
                 market: MarketService | None = None, settlement: SettlementService | None = None) -> AlarmService:
    """The alarm service: the configured alarms and the console's own (source lost, device silent, tamper,
    chain, market, settlement, historian), fed by acquisition and journaled on the historian's database."""
    from console.services.alarm_sources import AlarmSources, builtin_definitions, merge_definitions
    from core.alarms import AlarmEngine

    devices = [d.name for d in settings.modbus]
    definitions = merge_definitions(settings.alarms, builtin_definitions(
        [s.name for s in settings.sources], devices, chain is not None, historian is not None, market is not None,
        settlement is not None))
    # The drivers start beside the alarm service (Application.start): what they send before the journal's
    # states are taken up is evaluated after them.
    service = AlarmService(AlarmEngine(definitions), alarm_journal(settings, historian, definitions), clock=clock,
                           hold_until_started=True)
    acquisition.subscribe(service.on_samples)
    feeds = AlarmSources(service, [d.id for d in definitions], devices,
                         chain.status if chain is not None else None,
                         historian.stats if historian is not None else None, clock,
                         market, settings.market.price_spike_band)
    acquisition.subscribe_status(feeds.on_status)
    acquisition.subscribe_events(feeds.on_event)
    if settlement is not None:
        feeds.watch_settlement(settlement)
    service.add_poller(feeds.poll)
    # The staleness rule also without a window (`energynet serve`): a silent source's points are marked
    # (historian, alarms) on the alarm tick, before the engine's, as on every UI frame.
    service.add_poller(lambda _now: acquisition.check_stale())
    if historian is not None:
        from console.services.alarm_audit import AlarmAudit

        service.subscribe(AlarmAudit(historian.historian))
    return service


def alarm_journal(settings: Settings, historian: HistorianService | None,
                  definitions: Sequence[AlarmDef]) -> AlarmJournal:
    """The alarm journal on the historian's database engine (migrated by the historian's start); its own
    engine on the same URL when the historian is off or not SQL."""
    from console.store.alarm_journal import SqlAlarmJournal

    engine = getattr(historian.historian, "engine", None) if historian is not None else None
    if engine is not None:
        return SqlAlarmJournal(engine, definitions)
    return SqlAlarmJournal.open(historian_url(settings), definitions)


def open_alarm_journal(settings: Settings) -> AlarmJournal:
    """The alarm journal on the configured database, migrated (the CLI's `alarms export`)."""
    from console.store.alarm_journal import SqlAlarmJournal

    return SqlAlarmJournal.open(historian_url(settings), settings.alarms)


def history_export(url: str) -> HistoryExport:
    """The database use cases (migrate, status, CSV export) on the historian database at ``url``."""
    from console.store.history_database import SqlHistoryDatabase

    return HistoryExport(SqlHistoryDatabase(url))


async def probe_opcua(settings: Settings, seconds: float) -> ProbeReport:
    """Subscribe to every OPC-UA point for ``seconds``: each point's last value, each problem."""
    from console.services.probe import probe
    from drivers.opcua.probe_points import probe_points

    return await probe(lambda keep, status: OpcUaHub(settings.sources, keep, status), probe_points, seconds)


async def probe_modbus(settings: Settings, seconds: float) -> ProbeReport:
    """Poll every Modbus device for ``seconds``: each device point's last value, each problem."""
    from console.services.probe import probe
    from drivers.modbus.probe_points import probe_points

    return await probe(lambda keep, status: ModbusHub(settings.modbus, keep, status), probe_points, seconds)


async def probe_sunspec(host: str, port: int, device_id: int) -> list[dict[str, object]]:
    """The SunSpec models a device announces (model, address, length, name); raises ProbeFailed."""
    from dataclasses import asdict

    from console.services.probe import ProbeFailed
    from drivers.modbus.sunspec import SunSpecError, probe

    try:
        return [asdict(m) for m in await probe(host, port, device_id)]
    except (ConnectionError, SunSpecError) as exc:
        raise ProbeFailed(str(exc)) from exc


def build_production(settings: Settings) -> ProductionService | None:
    """What the API's production and grid endpoints read: the historian, as the reports do (None without it)."""
    if not settings.historian.enabled:
        return None
    from console.services.report_production import ProductionService

    reports = build_reports(settings)
    return ProductionService(reports.reader, reports.site)  # type: ignore[arg-type]


def build_report_scheduler(settings: Settings, clock: Callable[[], float] = time.time) -> ReportScheduler | None:
    """The scheduler of the [[reports]] in the config (None without any), on the historian's database."""
    if not settings.reports:
        return None
    from console.services.report_schedule import ReportScheduler

    return ReportScheduler(build_reports(settings), settings.reports, clock=clock)


def build_reports(settings: Settings, url: str | None = None, **valuation: object) -> ReportService:
    """The report service on the historian database (``url``, else the configured one): the site's
    frequency point, its buses (voltage points with a nominal), its participants and which point of which
    device has which role — from the device's profile file, or for SunSpec devices from the models its kind
    has (inverter 101–103 for PV and wind, meter 201–204, battery 802). ``valuation`` overrides the
    :class:`~console.services.reports.ReportSite` defaults (tariff, emission, max_gap_s, name)."""
    import math

    from console.services.reports import ReportService, ReportSite, VoltageBus
    from console.store.report_queries import SqlSampleReader
    from core.participants import participants_of
    from core.points import PointKind
    from core.roles import Role
    from drivers.modbus.profile import ProfileError, load_profile
    from drivers.modbus.sunspec import ModelHeader, SunSpecError, model_points

    sunspec_models = {"pv": (101, 102, 103), "wind": (101, 102, 103), "meter": (201, 202, 203, 204),
                      "battery": (802, 124)}
    roles: dict[tuple[str, Role], list[str]] = {}
    for dev in settings.modbus:
        try:
            if dev.profile.lower() == "sunspec":
                found = [p for m in sunspec_models.get(dev.kind, ()) for p in model_points(ModelHeader(m, 0, 0))]
            else:
                found = list(load_profile(dev.profile).points)
        except (ProfileError, SunSpecError, OSError) as exc:
            log.warning("reports: device %s left out: its profile %s cannot be read (%s)", dev.name, dev.profile, exc)
            continue
        for p in found:
            if p.role in {r.value for r in Role}:
                roles.setdefault((dev.name, Role(p.role)), []).append(f"{dev.name}.{p.id}")
    points = settings.points
    freq = next((p.id for p in points if p.kind is PointKind.FREQUENCY), None)
    buses = tuple(VoltageBus(p.bus or p.name, p.id, p.nominal) for p in points
                  if p.kind is PointKind.VOLTAGE and math.isfinite(p.nominal) and p.nominal > 0)
    name = str(valuation.pop("name", None) or (settings.path.stem if settings.path else "EnergyNet site"))
    site = ReportSite(name, freq, buses, participants_of(settings.modbus),
                      tuple((k, tuple(v)) for k, v in roles.items()),
                      settings.frequency_bands, settings.voltage_bands,
                      max_gap_s=2 * settings.historian.heartbeat_s, **valuation)  # type: ignore[arg-type]
    from functools import partial

    db = url or historian_url(settings)
    # The reader for the child process is made there (an engine does not cross processes).
    return ReportService(SqlSampleReader(db), site, reader_factory=partial(SqlSampleReader, db))
