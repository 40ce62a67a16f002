"""Participant administration: create, edit, suspend, reinstate, rotate the API token (admins only).

Every change is checked (``admin.users_participants``), stored, audited (old and new values), and told to
the chain and the market:

- on chain (MeterReading, through the gateway's outbox): ``registerParticipant(wallet, name)`` when a
  participant is created or reinstated, ``registerMeter(keccak(device), wallet, account)`` for each meter
  with a device account, ``removeParticipant(wallet)`` when suspended — EnergyTrade and GridBalance then
  refuse its offers on chain too (``NotParticipant``). The command keys are kept with the record, so the
  admin screen shows each transaction's result (queued, confirmed in block N, failed: reason);
- in the market: a suspended participant's new orders and modifications are refused with the reason, and
  its open orders are cancelled;
- in the participant API: the directory reads this service, so a suspended participant's token gets 403
  with the reason, and a rotated token stops working at once.

The API token is 32 random bytes shown once to the admin; only its SHA-256 is stored (a random token needs
no slow hash: nothing to guess). Records are cached in memory: the API looks tokens up on every request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from console.services.guard import permit, record
from console.services.market import MarketService
from core.access import Action, AuditWriter, User
from core.chain import ChainCommand, TxRecord
from core.participant_registry import (
    MeterLink,
    ParticipantDraft,
    ParticipantInvalid,
    ParticipantRecord,
    validate,
)
from core.ports import ChainPort

log = logging.getLogger(__name__)

REGISTRY = "MeterReading"  # the contract that is the participant registry (IParticipantRegistry)


class ParticipantStore(Protocol):
    """Where participants are kept (console/store/participants_store.py). Blocking calls."""

    def all(self) -> list[ParticipantRecord]: ...
    def insert(self, record: ParticipantRecord) -> None: ...  # ParticipantConflict when id or wallet is taken
    def replace(self, record: ParticipantRecord) -> None: ...


class ParticipantConflict(ValueError):
    """The id or the wallet belongs to another participant, or the participant does not exist."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def meter_chain_id(device: str) -> str:
    """The meter's bytes32 id on chain: keccak256 of its device name (as the demo registers its houses)."""
    from eth_utils.crypto import keccak  # eth_utils costs ~0.2 s CPU to import: not on the way to the window

    return "0x" + keccak(text=device).hex()


def to_checksum_address(address: str) -> str:
    """The EIP-55 form of a wallet address (eth_utils, imported when first needed: ~0.2 s CPU, which the
    console's start would spend before its window for a register it only reads)."""
    from eth_utils.address import to_checksum_address as checksum

    return checksum(address)


def summary(d: ParticipantDraft | ParticipantRecord) -> str:
    """A record's fields in one line (the audit log's old and new values)."""
    meters = ", ".join(m.device + (f"={m.account}" if m.account else "") for m in d.meters)
    return (f"name={d.name}; type={d.type.value}; bus={d.bus}; wallet={d.wallet}; meters=[{meters}]; "
            f"devices=[{', '.join(d.devices)}]; tariff={d.tariff}; dr={'yes' if d.dr_enrolled else 'no'}")


class ParticipantsAdmin:
    def __init__(self, store: ParticipantStore, *, chain: ChainPort | None = None,
                 market: MarketService | None = None, audit: AuditWriter | None = None,
                 tariffs: frozenset[str] | None = None, clock: Callable[[], float] = time.time,
                 seed: Sequence[ParticipantRecord] = ()) -> None:
        """``seed``: records taken on start into an empty register (the old participants file)."""
        self.store, self.chain, self.market, self.audit = store, chain, market, audit
        self._seed = tuple(seed)
        self.tariffs, self.clock = tariffs, clock
        self._by_id: dict[str, ParticipantRecord] = {}
        self._by_token: dict[str, str] = {}  # token sha256 → id
        self._lock = asyncio.Lock()  # one change at a time: each reads, checks and writes the cache

    # ---- lifecycle and reads -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the register; the market refuses the suspended ones from now on."""
        for r in await asyncio.to_thread(self.store.all):
            self._cache(r)
        if not self._by_id and self._seed:
            n = await self.seed(self._seed)
            log.info("participants: %d taken from the participants file into the empty register", n)
        if self.market is not None:
            for r in self._by_id.values():
                if r.suspended:
                    self.market.suspend_participant(r.id, r.suspended_reason or "suspended")
        log.info("participants: %d registered, %d suspended", len(self._by_id),
                 sum(r.suspended for r in self._by_id.values()))

    async def stop(self) -> None:
        return None

    def records(self) -> list[ParticipantRecord]:
        return sorted(self._by_id.values(), key=lambda r: r.id)

    def get(self, participant_id: str) -> ParticipantRecord | None:
        return self._by_id.get(participant_id)

    def by_token(self, token: str) -> ParticipantRecord | None:
        """The participant whose API token this is (a dict lookup by the token's SHA-256)."""
        pid = self._by_token.get(token_hash(token))
        return None if pid is None else self._by_id.get(pid)

    def chain_results(self, participant_id: str) -> list[tuple[str, TxRecord | None]]:
        """The participant's newest chain commands and where each stands (None: unknown to the gateway)."""
        rec = self._by_id.get(participant_id)
        if rec is None or self.chain is None:
            return []
        return [(k, self.chain.record(k)) for k in rec.chain_keys]

    # ---- changes -------------------------------------------------------------------------------------

    async def create(self, by: User, draft: ParticipantDraft) -> tuple[ParticipantRecord, str]:
        """A new participant, registered on chain with its meters; returns it and its API token (shown once)."""
        await permit(by, Action.USER_ADMIN, f"participant {draft.id}", self.audit, self.clock)
        async with self._lock:
            draft = self._checked(draft)
            if draft.id in self._by_id:
                raise ParticipantConflict(f"a participant with id {draft.id!r} exists already")
            now = self.clock()
            token = secrets.token_urlsafe(32)
            rec = ParticipantRecord(draft.id, draft.name, draft.type, draft.bus, draft.wallet, draft.meters,
                                    draft.devices, draft.tariff, draft.dr_enrolled, token_sha256=token_hash(token),
                                    token_rotated=now, created=now, updated=now)
            keys = self._register_on_chain(rec, "create", rec.meters)
            rec = dataclasses.replace(rec, chain_keys=keys)
            await asyncio.to_thread(self.store.insert, rec)
            self._cache(rec)
        await record(self.audit, by.name, "participant.create", rec.id, self._result(keys), new=summary(rec),
                     clock=self.clock)
        return rec, token

    async def edit(self, by: User, participant_id: str, draft: ParticipantDraft) -> ParticipantRecord:
        """Change a participant's fields (not its id). New meters with a device account are registered on
        chain; a new wallet is registered and the old one removed."""
        await permit(by, Action.USER_ADMIN, f"participant {participant_id}", self.audit, self.clock)
        async with self._lock:
            old = self._existing(participant_id)
            draft = self._checked(dataclasses.replace(draft, id=participant_id))
            new = dataclasses.replace(old, name=draft.name, type=draft.type, bus=draft.bus, wallet=draft.wallet,
                                      meters=draft.meters, devices=draft.devices, tariff=draft.tariff,
                                      dr_enrolled=draft.dr_enrolled, updated=self.clock())
            wallet_changed = new.wallet != old.wallet
            old_devices = {m.device for m in old.meters if m.account}
            if wallet_changed and old_devices:
                raise ParticipantInvalid([
                    f"wallet: cannot move from {old.wallet} to {new.wallet} while meter(s) "
                    f"{', '.join(sorted(old_devices))} are registered on chain to the old wallet (the registry has no "
                    "meter transfer); create a new participant for the new wallet"])
            keys: tuple[str, ...] = ()
            if self.chain is not None and not old.suspended:
                if wallet_changed:
                    keys = (self._submit(old, "removeParticipant", (old.wallet,), f"remove {old.id} ({old.wallet})"),
                            *self._register_on_chain(new, "edit", new.meters))
                else:
                    added = tuple(m for m in new.meters if m.account and m.device not in old_devices)
                    keys = self._register_meters(new, "edit", added)
            if keys:
                new = dataclasses.replace(new, chain_keys=keys)
            await asyncio.to_thread(self.store.replace, new)
            self._cache(new, old)
        await record(self.audit, by.name, "participant.edit", new.id, self._result(keys, none="ok"),
                     old=summary(old), new=summary(new), clock=self.clock)
        return new

    async def suspend(self, by: User, participant_id: str, reason: str) -> ParticipantRecord:
        """Stop the participant trading: its new orders are refused with ``reason``, its open orders are
        cancelled, its API token gets 403, and it is removed from the registry on chain."""
        await permit(by, Action.USER_ADMIN, f"participant {participant_id}", self.audit, self.clock)
        reason = reason.strip()
        if not reason:
            raise ParticipantInvalid(["reason: say why the participant is suspended (it is shown to them)"])
        async with self._lock:
            old = self._existing(participant_id)
            if old.suspended:
                raise ParticipantConflict(f"{participant_id} is suspended already ({old.suspended_reason})")
            keys: tuple[str, ...] = ()
            if self.chain is not None:
                keys = (self._submit(old, "removeParticipant", (old.wallet,), f"suspend {old.id} ({old.wallet})"),)
            new = dataclasses.replace(old, suspended=True, suspended_reason=reason, updated=self.clock(),
                                      chain_keys=keys or old.chain_keys)
            await asyncio.to_thread(self.store.replace, new)
            self._cache(new, old)
        cancelled = await self._stop_orders(new.id, reason)
        await record(self.audit, by.name, "participant.suspend", new.id,
                     self._result(keys) + f"; {cancelled} open order(s) cancelled", new=reason, clock=self.clock)
        return new

    async def reinstate(self, by: User, participant_id: str) -> ParticipantRecord:
        """Let a suspended participant trade again (registered on chain again)."""
        await permit(by, Action.USER_ADMIN, f"participant {participant_id}", self.audit, self.clock)
        async with self._lock:
            old = self._existing(participant_id)
            if not old.suspended:
                raise ParticipantConflict(f"{participant_id} is not suspended")
            keys = self._register_on_chain(old, "reinstate", ())
            new = dataclasses.replace(old, suspended=False, suspended_reason=None, updated=self.clock(),
                                      chain_keys=keys or old.chain_keys)
            await asyncio.to_thread(self.store.replace, new)
            self._cache(new, old)
        if self.market is not None:
            self.market.reinstate_participant(new.id)
        await record(self.audit, by.name, "participant.reinstate", new.id, self._result(keys),
                     old=old.suspended_reason, clock=self.clock)
        return new

    async def rotate_token(self, by: User, participant_id: str) -> str:
        """A new API token for the participant (shown once); the old one stops working at once."""
        await permit(by, Action.USER_ADMIN, f"participant {participant_id}", self.audit, self.clock)
        async with self._lock:
            old = self._existing(participant_id)
            token = secrets.token_urlsafe(32)
            new = dataclasses.replace(old, token_sha256=token_hash(token), token_rotated=self.clock(),
                                      updated=self.clock())
            await asyncio.to_thread(self.store.replace, new)
            self._cache(new, old)
        # The audit names the hashes' first digits (enough to tell tokens apart), never a token.
        await record(self.audit, by.name, "participant.rotate_token", new.id, "ok",
                     old=(old.token_sha256 or "")[:12] or None, new=(new.token_sha256 or "")[:12], clock=self.clock)
        return token

    async def seed(self, records: Sequence[ParticipantRecord]) -> int:
        """First run: take participants from the old participants file (no chain calls: the demo's chain
        has them registered already). Only into an empty register; the number taken."""
        async with self._lock:
            if self._by_id:
                return 0
            for r in records:
                r = dataclasses.replace(r, wallet=to_checksum_address(r.wallet))
                await asyncio.to_thread(self.store.insert, r)
                self._cache(r)
        for r in records:
            await record(self.audit, "(first run)", "participant.create", r.id, "ok: taken from the participants file",
                         clock=self.clock)
            if r.suspended and self.market is not None:
                self.market.suspend_participant(r.id, r.suspended_reason or "suspended")
        return len(records)

    # ---- internals -----------------------------------------------------------------------------------

    def _checked(self, draft: ParticipantDraft) -> ParticipantDraft:
        problems = validate(draft, self.tariffs)
        if problems:
            raise ParticipantInvalid(problems)
        draft = dataclasses.replace(
            draft, name=draft.name.strip(), bus=draft.bus.strip(), wallet=to_checksum_address(draft.wallet),
            meters=tuple(MeterLink(m.device, to_checksum_address(m.account) if m.account else None)
                         for m in draft.meters))
        other = next((r for r in self._by_id.values() if r.wallet == draft.wallet and r.id != draft.id), None)
        if other is not None:
            raise ParticipantConflict(f"wallet {draft.wallet} belongs to participant {other.id!r} already")
        return draft

    def _existing(self, participant_id: str) -> ParticipantRecord:
        rec = self._by_id.get(participant_id)
        if rec is None:
            raise ParticipantConflict(f"no participant {participant_id!r}; known: "
                                      f"{', '.join(sorted(self._by_id)) or 'none'}")
        return rec

    def _cache(self, new: ParticipantRecord, old: ParticipantRecord | None = None) -> None:
        if old is not None and old.token_sha256:
            self._by_token.pop(old.token_sha256, None)
        self._by_id[new.id] = new
        if new.token_sha256:
            self._by_token[new.token_sha256] = new.id

    def _register_on_chain(self, rec: ParticipantRecord, why: str, meters: Sequence[MeterLink]) -> tuple[str, ...]:
        if self.chain is None:
            return ()
        first = self._submit(rec, "registerParticipant", (rec.wallet, rec.name),
                             f"{why}: register {rec.id} ({rec.wallet})")
        return (first, *self._register_meters(rec, why, meters))

    def _register_meters(self, rec: ParticipantRecord, why: str, meters: Sequence[MeterLink]) -> tuple[str, ...]:
        return tuple(self._submit(rec, "registerMeter", (meter_chain_id(m.device), rec.wallet, m.account),
                                  f"{why}: meter {m.device} of {rec.id} (device {m.account})")
                     for m in meters if m.account)

    def _submit(self, rec: ParticipantRecord, function: str, args: tuple[object, ...], description: str) -> str:
        assert self.chain is not None
        key = f"participant:{rec.id}:{function}:{time.time_ns()}"
        self.chain.submit(ChainCommand(key, REGISTRY, function, args, description))
        return key

    def _result(self, keys: Sequence[str], none: str = "ok: chain off, not registered on chain") -> str:
        if not keys:
            return none
        return f"ok: on chain queued {', '.join(keys)}"

    async def _stop_orders(self, participant_id: str, reason: str) -> int:
        if self.market is None:
            return 0
        self.market.suspend_participant(participant_id, reason)
        n = 0
        for order in self.market.orders_of(participant_id, open_only=True):
            try:
                outcome = await self.market.cancel(order.order_id, participant_id)
            except Exception:  # the market stopped: the suspension stands, the order is refused on restart
                log.exception("could not cancel %s of suspended participant %s", order.order_id, participant_id)
                continue
            n += outcome.rejected is None
        return n

