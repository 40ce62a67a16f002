"""OPC-UA server trust as a use case: list the certificates waiting, accept or reject one, stop trusting one.

Accepting a server certificate decides whom the console believes about the grid, so it is a configuration
change (``config.change``: engineers and admins), checked here and audited with the fingerprint, whichever
way it comes in (the console's trust dialog, ``energynet certs accept``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from console.services.guard import permit, record
from core.access import Action, AuditWriter, User


class CertificateView(Protocol):
    @property
    def fingerprint(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def not_after(self) -> str: ...


class TrustEntryView(Protocol):
    @property
    def endpoint(self) -> str: ...
    @property
    def cert(self) -> CertificateView: ...
    @property
    def at(self) -> float: ...
    @property
    def by(self) -> str | None: ...
    @property
    def previous(self) -> str | None: ...


class TrustStore(Protocol):
    """The trust list (drivers/opcua/trust.py). Blocking file I/O."""

    def pending(self) -> Sequence[TrustEntryView]: ...
    def trusted(self) -> Sequence[TrustEntryView]: ...
    def accept(self, endpoint: str, fingerprint_text: str, by: str) -> TrustEntryView: ...
    def reject(self, endpoint: str) -> bool: ...
    def forget(self, endpoint: str) -> bool: ...


class TrustService:
    def __init__(self, store: TrustStore, audit: AuditWriter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.audit, self.clock = store, audit, clock

    async def pending(self) -> Sequence[TrustEntryView]:
        return await asyncio.to_thread(self.store.pending)

    async def trusted(self) -> Sequence[TrustEntryView]:
        return await asyncio.to_thread(self.store.trusted)

    async def accept(self, by: User, endpoint: str, fingerprint: str) -> TrustEntryView:
        """Trust the certificate ``endpoint`` offered, if its fingerprint is ``fingerprint`` (ValueError
        otherwise, nothing changed)."""
        await permit(by, Action.CONFIG_CHANGE, f"opcua trust {endpoint}", self.audit, self.clock)
        entry = await asyncio.to_thread(self.store.accept, endpoint, fingerprint, by.name)
        await record(self.audit, by.name, "opcua.trust_accept", endpoint,
                     f"ok: {entry.cert.subject}", old=entry.previous, new=entry.cert.fingerprint, clock=self.clock)
        return entry

    async def reject(self, by: User, endpoint: str) -> bool:
        await permit(by, Action.CONFIG_CHANGE, f"opcua trust {endpoint}", self.audit, self.clock)
        done = await asyncio.to_thread(self.store.reject, endpoint)
        await record(self.audit, by.name, "opcua.trust_reject", endpoint, "ok" if done else "nothing pending",
                     clock=self.clock)
        return done

    async def forget(self, by: User, endpoint: str) -> bool:
        await permit(by, Action.CONFIG_CHANGE, f"opcua trust {endpoint}", self.audit, self.clock)
        done = await asyncio.to_thread(self.store.forget, endpoint)
        await record(self.audit, by.name, "opcua.trust_forget", endpoint, "ok" if done else "was not trusted",
                     clock=self.clock)
        return done
