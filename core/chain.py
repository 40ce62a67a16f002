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
    SUPERSEDED = "superseded"  # a newer command of the same kind replaced it before it was on chain
    EXPIRED = "expired"        # its validity ended before it was on chain; `error` says when
    DISCARDED = "discarded"    # the operator chose not to send it to a different chain

    @property
    def done(self) -> bool:
        return self not in (TxState.QUEUED, TxState.SIGNED, TxState.SENT)


class ChainState(enum.Enum):
    """Where the gateway stands with its node; the panel and the status bar colour it with one map."""

    CONNECTING = "connecting"            # no answer yet since start
    UP = "up"                            # the recorded chain answers; commands are sent
    DOWN = "down"                        # no answer: commands are kept, nothing is lost
    DIFFERENT_CHAIN = "different chain"  # answers, but is not the chain recorded: nothing is sent


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """Which chain this is: a reset or redeployed chain (same port, same addresses) differs in its genesis
    block or in the code at an address, a wrong RPC in its chain id."""

    chain_id: int
    genesis: str
    code: tuple[tuple[str, str], ...]  # (contract name, keccak of the deployed code; "" = no code there)

    def differences(self, recorded: ChainIdentity) -> list[str]:
        """What differs from `recorded`, in words an operator can act on; empty when it is the same chain."""
        out = []
        if self.chain_id != recorded.chain_id:
            out.append(f"chain id {self.chain_id} ≠ {recorded.chain_id} recorded: wrong RPC?")
        if self.genesis != recorded.genesis:
            out.append(f"genesis {_hex(self.genesis)} ≠ {_hex(recorded.genesis)} recorded: the chain was reset")
        mine = dict(self.code)
        gone = [name for name, digest in recorded.code if digest and not mine.get(name)]
        if gone:
            out.append(f"{', '.join(gone)}: no code at the recorded address: the suite is not deployed there")
        out += [f"{name}: code {_hex(mine[name])} ≠ {_hex(digest)} recorded: redeployed"
                for name, digest in recorded.code if mine.get(name) and mine[name] != digest]
        return out


def _hex(h: str) -> str:
    return h if len(h) <= 12 else f"{h[:6]}…{h[-4:]}"


@dataclass(frozen=True, slots=True)
class ChainCommand:
    """One contract call the operator or a service wants on chain.

    `key` makes it idempotent: submitting the same key twice never sends a second transaction.
    `args` are plain JSON-able values (ints, strings, bools, lists) in on-chain units.
    Validity: nothing is sent (first time or again) after `valid_until` (Unix time; None = always valid);
    of the commands sharing a `supersedes` group only the newest not yet on chain may be sent (a grid status
    is news only until the next one).
    """

    key: str
    contract: str
    function: str
    args: tuple[object, ...]
    description: str
    valid_until: float | None = None
    supersedes: str | None = None


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
    created: float = 0.0
    valid_until: float | None = None


# An event argument as the contract emitted it: uint/int stay Python ints (a uint256 does not fit a float),
# bool stays bool, address and bytes are 0x-hex text, arrays and structs are tuples of the same.
type ChainValue = int | bool | str | tuple[ChainValue, ...]


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """One decoded contract event; ``args`` in the ABI's order, each value typed as :data:`ChainValue`."""

    block: int
    log_index: int
    tx_hash: str
    contract: str
    name: str
    args: tuple[tuple[str, ChainValue], ...]

    def arg(self, name: str) -> ChainValue:
        """The value of the argument ``name``; KeyError names the event when it has none."""
        for key, value in self.args:
            if key == name:
                return value
        raise KeyError(f"{self.contract}.{self.name} has no argument {name!r}")

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
    state: ChainState = ChainState.CONNECTING
    block_at: float | None = None  # Unix time the block and balances were last read: their age while down
    now: float = 0.0               # when this status was taken (the panel's "how old")
