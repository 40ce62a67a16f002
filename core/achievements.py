"""Achievements: milestones a participant reaches, as data, minted once each as a soulbound badge.

The kinds are AchievementNFT.Achievement's, in its declaration order (the contract refuses a second badge
of a kind for the same holder). What earns each kind is the table below: a metric of the participant's
record and the threshold it must reach. The service keeps the record; this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Achievement(IntEnum):
    """AchievementNFT.Achievement, same order."""

    FIRST_TRADE = 0
    GREEN_EXPORTER_1MWH = 1
    DEMAND_RESPONDER = 2
    GRID_GUARDIAN = 3
    PROSUMER = 4


@dataclass(frozen=True, slots=True)
class ParticipantRecord:
    """What a participant has done so far (the service adds it up from the market, meters and DR)."""

    trades: int = 0
    bought_wh: int = 0
    sold_wh: int = 0
    exported_wh: float = 0.0        # renewable energy fed into the grid, by its meter
    dr_delivered: int = 0           # demand-response events with a verified reduction
    dr_joined: int = 0              # demand-response events opted into

    def metric(self, name: str) -> float:
        if name == "bought_and_sold":
            return 1.0 if self.bought_wh > 0 and self.sold_wh > 0 else 0.0
        return float(getattr(self, name))


@dataclass(frozen=True, slots=True)
class Milestone:
    kind: Achievement
    title: str
    metric: str          # a ParticipantRecord field, or "bought_and_sold"
    threshold: float
    description: str


MILESTONES: tuple[Milestone, ...] = (
    Milestone(Achievement.FIRST_TRADE, "First Trade", "trades", 1, "a first peer-to-peer trade"),
    Milestone(Achievement.GREEN_EXPORTER_1MWH, "Green Exporter", "exported_wh", 1_000_000,
              "1 MWh of renewable energy exported"),
    Milestone(Achievement.DEMAND_RESPONDER, "Demand Responder", "dr_delivered", 1,
              "a verified demand-response reduction"),
    Milestone(Achievement.GRID_GUARDIAN, "Grid Guardian", "dr_joined", 10, "ten demand-response events joined"),
    Milestone(Achievement.PROSUMER, "Prosumer", "bought_and_sold", 1, "both bought and sold on the market"),
)


def reached(record: ParticipantRecord, milestones: tuple[Milestone, ...] = MILESTONES) -> list[Milestone]:
    """The milestones ``record`` meets, in table order."""
    return [m for m in milestones if record.metric(m.metric) >= m.threshold]


def badge_key(holder: str, kind: Achievement) -> str:
    """The chain command key of a badge: one per holder and kind, so the outbox never sends it twice."""
    return f"badge-{holder.lower()}-{int(kind)}"
