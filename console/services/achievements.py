"""Achievements: mint each participant's badges as their milestones are reached, exactly once.

Exactly once, across restarts and chain outages, rests on three things: the badge's chain command key is
one per holder and kind (core.achievements.badge_key) and the gateway's outbox never sends a key twice;
badges already on chain (AchievementAwarded events, read back from the deployment block after an outbox
is lost) are not asked for again; and the contract itself refuses a second badge of a kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.achievements import MILESTONES, Achievement, Milestone, ParticipantRecord, badge_key, reached
from core.chain import ChainCommand, ChainEvent
from core.ports import ChainPort

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Badge:
    participant: str
    kind: Achievement
    title: str
    token_id: int | None     # None while the mint is on its way
    state: str               # "awarded", or the mint's transaction state


class AchievementService:
    def __init__(self, gateway: ChainPort, records: Callable[[], Mapping[str, ParticipantRecord]],
                 wallets: Mapping[str, str] | Callable[[], Mapping[str, str]], every_s: float = 60.0,
                 events: Callable[[], Iterable[ChainEvent]] | None = None) -> None:
        self.gateway = gateway
        # The journaled chain events to look for awards in: the whole journal where the composition root
        # can give it (ChainStatus.events holds only the newest 50).
        self.events = events or (lambda: gateway.status().events)
        self.records = records          # participant name -> its record so far
        # participant name -> wallet address (the badge's holder); a callable follows the admin's register
        self._wallets = wallets
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="achievements")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def wallets(self) -> Mapping[str, str]:
        return self._wallets() if callable(self._wallets) else self._wallets

    def of(self, participant: str) -> list[Badge]:
        """One participant's badges (its page in the console)."""
        return [b for b in self.badges() if b.participant == participant]

    def _on_chain(self) -> dict[tuple[str, int], int]:
        """(holder, kind) -> token id of every badge the chain has awarded (from the journaled events)."""
        found = {}
        for e in self.events():
            if e.contract == "AchievementNFT" and e.name == "AchievementAwarded":
                found[(str(e.arg("holder")).lower(), int(e.arg("kind")))] = int(e.arg("tokenId"))  # type: ignore[arg-type]
        return found

    def check(self) -> list[str]:
        """Ask for every badge reached and not yet awarded or asked for; the keys of new requests."""
        awarded = self._on_chain()
        asked = []
        wallets = self.wallets
        for name, record in self.records().items():
            holder = wallets.get(name)
            if holder is None:
                continue
            for m in reached(record):
                if (holder.lower(), int(m.kind)) in awarded:
                    continue
                key = badge_key(holder, m.kind)
                cmd = ChainCommand(key, "AchievementNFT", "mint", (holder, int(m.kind)),
                                   f"badge '{m.title}' for {name}: {m.description}")
                if self.gateway.submit(cmd):
                    log.info("achievement %s reached by %s: minting its badge", m.title, name)
                    asked.append(key)
        return asked

    def badges(self) -> list[Badge]:
        """Every participant's badges: awarded on chain, or on their way."""
        awarded = self._on_chain()
        out = []
        for name, holder in sorted(self.wallets.items()):
            for m in MILESTONES:
                token = awarded.get((holder.lower(), int(m.kind)))
                if token is not None:
                    out.append(Badge(name, m.kind, m.title, token, "awarded"))
                elif (rec := self.gateway.record(badge_key(holder, m.kind))) is not None:
                    out.append(Badge(name, m.kind, m.title, None, rec.state.value))
        return out

    def milestone(self, kind: Achievement) -> Milestone:
        return next(m for m in MILESTONES if m.kind is kind)

    async def _loop(self) -> None:
        while True:
            try:
                self.check()
            except Exception:
                log.exception("achievements: checking milestones failed; trying again in %.0f s", self.every_s)
            await asyncio.sleep(self.every_s)
