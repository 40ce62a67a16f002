"""Chain commands, transaction states and the chain status the console shows. No web3 here."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TxState(enum.Enum):
    QUEUED = "queued"          # accepted, not signed yet (e.g. the chain is down)
    SIGNED = "signed"          # signed with a nonce and stored; broadcast may not have reached the node
    SENT = "sent"              # the node has it; waiting for inclusion and confirmations
    CONFIRMED = "confirmed"    # mined with status 1 and enough confirmations
    FAILED = "failed"          # refused (estimate reverted) or mined with status 0; `error` says why

    @property
    def done(self) -> bool:
        return self in (TxState.CONFIRMED, TxState.FAILED)


@dataclass(frozen=True, slots=True)
class ChainCommand:
    """One contract call the operator or a service wants on chain.

    `key` makes it idempotent: submitting the same key twice never sends a second transaction.
    `args` are plain JSON-able values (ints, strings, bools, lists) in on-chain units.
    """

    key: str
    contract: str
    function: str
    args: tuple[object, ...]
    description: str


@dataclass(frozen=True, slots=True)
class TxRecord:
    key: str
    description: str
    state: TxState
    nonce: int | None
    tx_hash: str | None
    block: int | None
    gas_used: int | None
    error: str | None
    updated: float


@dataclass(frozen=True, slots=True)
class ChainEvent:
    block: int
    log_index: int
    tx_hash: str
    contract: str
    name: str
    args: tuple[tuple[str, str], ...]

    def summary(self) -> str:
        return f"{self.contract}.{self.name}(" + ", ".join(f"{k}={v}" for k, v in self.args) + ")"


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """What the chain panel shows; one immutable value per refresh."""

    up: bool
    rpc: str
    chain_id: int | None
    block: int | None
    account: str
    eth_balance_wei: int | None
    token_balance: int | None
    token_decimals: int
    pending: tuple[TxRecord, ...]
    recent: tuple[TxRecord, ...]
    events: tuple[ChainEvent, ...]
    error: str | None = None
