"""The one way the console talks to the chain: queued, signed once, pipelined, confirmed, decoded.

- Commands go to the write-ahead :class:`~contracts.outbox.Outbox` first; a key already known is ignored,
  so a command submitted twice is sent once.
- The sender estimates gas (a revert there fails the command with a readable reason and uses no nonce),
  assigns nonces locally, signs EIP-1559 transactions, stores them, then broadcasts them without waiting
  for each receipt (pipelining).
- Receipts are polled; a transaction counts as confirmed after `confirmations` further blocks.
- While the node is unreachable nothing is lost: commands stay queued, signed transactions are broadcast
  again (the same bytes, so never executed twice) once it answers.
- Events of the suite are followed from a persisted block cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.types import RPCEndpoint

from contracts.artifacts import load
from contracts.deploy import Deployment
from contracts.errors import decode_revert
from contracts.events import EventDecoder
from contracts.outbox import VOID, Outbox
from contracts.rpc import async_http_provider
from core.chain import ChainCommand, ChainEvent, ChainIdentity, ChainState, ChainStatus, TxRecord, TxState
from core.tasks import cancel_all_and_wait

log = logging.getLogger(__name__)

PRIORITY_FEE_WEI = 1_000_000_000  # 1 gwei tip; the max fee follows the base fee (2× base + tip)


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt an Ethereum keystore (v3 JSON); errors name the file."""
    try:
        key = Account.decrypt(path.read_text(), password)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: keystore not found; `energynet chain up` writes one for the demo") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: cannot decrypt the keystore ({exc}); check ENERGYNET_KEYSTORE_PASSWORD") from exc
    acct: LocalAccount = Account.from_key(key)
    return acct


def write_keystore(path: Path, private_key: str, password: str) -> Path:
    """Encrypt `private_key` into a v3 keystore at `path` (scrypt, light parameters: demo keys only)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    key = HexStr(private_key)
    path.write_text(json.dumps(Account.encrypt(key, password, kdf="scrypt", iterations=2**14)))
    path.chmod(0o600)
    return path


class ChainGateway:
    """Sends commands to the deployed suite and follows its events. Runs on the console's asyncio loop."""

    def __init__(
        self,
        rpc_url: str,
        account: LocalAccount,
        deployment: Deployment,
        outbox: Outbox,
        *,
        confirmations: int = 0,
        poll_interval: float = 0.05,
        health_interval: float = 1.0,
        receipt_timeout: float = 120.0,
        batch: int = 200,
        max_backoff: float = 5.0,
        nonce_taken_grace_s: float = 10.0,
    ) -> None:
        self.rpc_url = rpc_url
        self.account = account
        self.deployment = deployment
        self.outbox = outbox
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.health_interval = health_interval
        self.receipt_timeout = receipt_timeout
        # A node counts a mined transaction in the account's nonce a moment before it serves its receipt (seen
        # on a loaded anvil: batches marked failed, "nonce used by another transaction", then their events came).
        # Another transaction took our nonce only when the node does not know ours as mined and its receipt is
        # still absent this long after the nonce was first seen used.
        self.nonce_taken_grace_s = nonce_taken_grace_s
        self.batch = batch
        self.max_backoff = max_backoff
        self.w3 = AsyncWeb3(async_http_provider(rpc_url, timeout=5))
        self.contracts: dict[str, AsyncContract] = {
            name: self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(addr), abi=load(_abi_name(name)).abi)
            for name, addr in deployment.addresses.items()
        }
        self.decoder = EventDecoder(self.contracts)
        token = self.contracts.get("SettlementToken")
        self._balance_call: dict[str, str] | None = None if token is None else {
            "to": token.address, "data": token.encode_abi("balanceOf", [account.address])}
        self._state = ChainState.CONNECTING
        self._error: str | None = None
        self._block: int | None = None
        self._block_at: float | None = None
        self._seen: ChainIdentity | None = None  # the identity of a different chain, adopted once decided
        self._decided: set[str] = set()  # open commands the operator chose to resend to that chain
        self._last_failure: dict[str, str] = {}
        self._recheck = False  # a loop saw the chain behind what we know: check which chain it is
        self._eth: int | None = None
        self._tokens: int | None = None
        self._nonce: int | None = None
        self._sent_at: dict[str, float] = {}
        self._nonce_used_at: dict[str, float] = {}  # key -> when its nonce was first seen used without a receipt
        self._deferred: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._decimals = 6

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(fn), name=f"chain-{fn.__name__}")
                       for fn in (self._health_loop, self._send_loop, self._receipt_loop, self._event_loop)]

    async def stop(self) -> None:
        await cancel_all_and_wait(self._tasks)
        self._tasks = []
        await self.w3.provider.disconnect()

    @property
    def _up(self) -> bool:
        return self._state is ChainState.UP

    async def _run(self, fn: Any) -> None:
        pause = 1.0
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failing loop must not stop the others; it restarts, backing off
                text = f"{type(exc).__name__}: {exc}"
                if self._last_failure.get(fn.__name__) != text:  # a traceback once per distinct failure
                    log.exception("chain gateway %s failed; restarting it (repeats are logged at debug)",
                                  fn.__name__)
                else:
                    log.debug("chain gateway %s failed again: %s", fn.__name__, text)
                self._last_failure[fn.__name__] = text
                self._error = f"{fn.__name__}: {exc}"
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    # ---- commands --------------------------------------------------------------------

    def submit(self, cmd: ChainCommand) -> bool:
        """Queue `cmd`; returns False when a command with the same key was submitted before (not resent)."""
        if cmd.contract == VOID or cmd.contract not in self.contracts:
            raise KeyError(f"unknown contract {cmd.contract!r}; deployed: {', '.join(sorted(self.contracts))}")
        getattr(self.contracts[cmd.contract].functions, cmd.function)  # unknown function: raises now, not later
        added = self.outbox.add(cmd)
        self._wake.set()
        return added

    def record(self, key: str) -> TxRecord | None:
        return self.outbox.record(key)

    async def wait(self, key: str, timeout: float = 30.0) -> TxRecord:
        """Wait until command `key` is confirmed or failed."""
        deadline = time.monotonic() + timeout
        while True:
            rec = self.outbox.record(key)
            if rec is None:
                raise KeyError(key)
            if rec.state.done:
                return rec
            if time.monotonic() > deadline:
                raise TimeoutError(f"command {key} still {rec.state.value} after {timeout:.0f} s")
            await asyncio.sleep(self.poll_interval)

    def events_named(self, names: Sequence[str], limit: int = 5000) -> list[ChainEvent]:
        """Journaled events with these names, oldest first (e.g. one use case's whole history)."""
        return self.outbox.events_named(names, limit)

    async def block_time(self, block: int) -> int:
        """The timestamp of block ``block`` (Unix seconds)."""
        return int((await self.w3.eth.get_block(block))["timestamp"])

    def events_after(self, block: int, log_index: int, limit: int = 1000) -> list[ChainEvent]:
        """Events followed so far after (block, log_index), oldest first (the settlement tracker's feed)."""
        return self.outbox.events_after(block, log_index, limit)

    async def read(self, contract: str, function: str, *args: object) -> Any:
        """A view call of the deployed `contract` at the latest block (raises while the chain is down)."""
        return await self.contracts[contract].functions[function](*args).call()

    async def chain_time(self) -> int | None:
        """The latest block's timestamp (s), or None while the chain does not answer."""
        if not self._up:
            return None
        try:
            block = await self.w3.eth.get_block("latest")
        except (OSError, TimeoutError, Web3RPCError):
            return None
        return int(block["timestamp"])

    def status(self) -> ChainStatus:
        different = self._state is ChainState.DIFFERENT_CHAIN
        pending = self.undecided() if different else self.outbox.records(done=False)
        return ChainStatus(
            up=self._up, rpc=self.rpc_url, chain_id=self.deployment.chain_id, block=self._block,
            account=self.account.address, eth_balance_wei=self._eth, token_balance=self._tokens,
            token_decimals=self._decimals, pending=tuple(pending),
            recent=tuple(self.outbox.records(done=True, limit=30)), events=tuple(self.outbox.events(50)),
            error=self._error, state=self._state, block_at=self._block_at, now=time.time())

    # ---- a different chain: the operator decides -----------------------------------------

    def undecided(self) -> list[TxRecord]:
        """Open commands the operator has not decided about yet (only while the chain is a different one)."""
        if self._state is not ChainState.DIFFERENT_CHAIN:
            return []
        return [r for r in self.outbox.open_commands() if r.key not in self._decided]

    def resend(self, keys: Sequence[str]) -> list[str]:
        """Send these open commands to the different chain (signed afresh, still within their validity);
        returns the keys that were open. The new chain is adopted once every open command is decided."""
        seen = self._require_different()
        if seen.chain_id != self.deployment.chain_id:
            raise ValueError(f"nothing can be sent to {self.rpc_url}: its chain id {seen.chain_id} is not the "
                             f"deployment's {self.deployment.chain_id}; check the RPC URL in the [chain] settings")
        missing = [name for name, digest in seen.code if not digest]
        if missing:
            raise ValueError(f"nothing can be sent to {self.rpc_url}: no contract at {', '.join(missing)}; deploy "
                             "the suite there first (`energynet chain up`), then choose again")
        open_keys = {r.key for r in self.outbox.open_commands()}
        chosen = [k for k in keys if k in open_keys]
        self.outbox.requeue(chosen)
        self._decided.update(chosen)
        self._adopt_if_decided()
        return chosen

    def discard(self, keys: Sequence[str]) -> list[str]:
        """Never send these open commands; returns the keys that were open (they end as discarded)."""
        self._require_different()
        open_keys = {r.key for r in self.outbox.open_commands()}
        chosen = [k for k in keys if k in open_keys]
        self.outbox.discard(chosen, "discarded by the operator: the chain was a different one")
        self._adopt_if_decided()
        return chosen

    def _require_different(self) -> ChainIdentity:
        if self._state is not ChainState.DIFFERENT_CHAIN or self._seen is None:
            raise ValueError(f"the chain at {self.rpc_url} is {self._state.value}, not a different chain: "
                             "there is nothing to decide")
        return self._seen

    def _adopt_if_decided(self) -> None:
        seen = self._seen
        if (seen is None or self.undecided() or seen.chain_id != self.deployment.chain_id
                or any(not digest for _, digest in seen.code)):
            return
        self.outbox.discard_voids("not needed: the chain was a different one")
        self.outbox.forget_events()
        self.outbox.record_identity(seen, replaces=True)
        log.warning("chain at %s adopted as the chain of record (genesis %s); %d command(s) to send",
                    self.rpc_url, seen.genesis, len(self._decided))
        self._seen, self._decided, self._nonce = None, set(), None
        self._block = self._eth = self._tokens = None  # the old chain's figures; the next probe reads these
        self._sent_at.clear()
        self._nonce_used_at.clear()
        self._state, self._error = ChainState.UP, None
        self._wake.set()

    # ---- health ------------------------------------------------------------------------

    async def _health_loop(self) -> None:
        pause = self.health_interval
        while True:
            try:
                await self._probe()
                pause = self.health_interval
            except (OSError, TimeoutError, Web3RPCError, ValueError) as exc:
                if self._state is not ChainState.DOWN:  # logged once; the recovery is logged once too
                    log.warning("chain at %s is down: %s; retrying with backoff up to %.0f s", self.rpc_url,
                                exc or type(exc).__name__, self.max_backoff)
                self._state = ChainState.DOWN
                self._error = f"no answer from {self.rpc_url}: {type(exc).__name__}"
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.max_backoff)
                continue
            await asyncio.sleep(self.health_interval)

    async def _probe(self) -> None:
        """Head and genesis in one round trip; a new genesis, a head gone back or a reconnect means: check
        which chain this is before anything else is done."""
        head_answer, genesis_answer = await asyncio.wait_for(self._batch(
            [("eth_blockNumber", []), ("eth_getBlockByNumber", ["0x0", False])]), self.health_interval * 2 + 3)
        if "result" not in head_answer or not genesis_answer.get("result"):
            raise ValueError(f"node refused the head or genesis query: {head_answer.get('error')}")
        head = int(head_answer["result"], 16)
        recorded = self.outbox.identity()
        changed = recorded is not None and genesis_answer["result"]["hash"] != recorded.genesis
        behind = (self._block is not None and head < self._block) or self._recheck
        self._recheck = False
        if (self._state is not ChainState.UP or changed or behind) and not await self._connect(head):
            return
        self._block, self._block_at = head, time.time()
        # Both balances in one round trip of plain JSON-RPC: web3's `functions.balanceOf(...)` builds new
        # classes on every call, cyclic garbage that piled up in the console's heap (docs/BENCHMARKS.md, soak).
        calls: list[tuple[str, Any]] = [("eth_getBalance", [self.account.address, "latest"])]
        if self._balance_call is not None:
            calls.append(("eth_call", [self._balance_call, "latest"]))
        answers = await self._batch(calls)
        for a in answers:
            if "result" not in a:
                raise ValueError(f"node refused a balance query: {a.get('error')}")
        self._eth = int(answers[0]["result"], 16)
        if len(answers) > 1:
            raw = answers[1]["result"]
            self._tokens = int(raw, 16) if raw not in ("0x", "", None) else None

    async def _connect(self, head: int) -> bool:
        """(Re)connect: the recorded chain goes (back) to up, a different one to DIFFERENT_CHAIN; True when up."""
        ident = await self._identity()
        recorded = self.outbox.identity()
        problems = [] if recorded is None else ident.differences(recorded)
        if ident.chain_id != self.deployment.chain_id:
            problems.insert(0, f"chain id {ident.chain_id} ≠ {self.deployment.chain_id} of the deployment file")
        if recorded is None:
            problems += [f"{name}: no code at {self.deployment.addresses[name]}: the deployment file does not "
                         "match this chain" for name, digest in ident.code if not digest]
        if problems:
            self._different(ident, problems)
            return False
        if recorded is None:
            self.outbox.record_identity(ident, replaces=False)
            log.info("chain at %s recorded: chain id %d, genesis %s", self.rpc_url, ident.chain_id, ident.genesis)
        was = self._state
        self._nonce = None  # resynchronise after an outage
        # The node may have lost what it had in its pool (or blocks): broadcast every in-flight transaction
        # again, the same bytes, within its validity, rather than wait for receipt timeouts.
        self._sent_at.clear()
        self._nonce_used_at.clear()
        await self._recover_lost_blocks(head)
        self._state, self._error, self._seen, self._decided = ChainState.UP, None, None, set()
        if was is not ChainState.UP:
            log.info("chain at %s is up (block %s)", self.rpc_url, head)
        self._wake.set()
        return True

    def _different(self, ident: ChainIdentity, problems: list[str]) -> None:
        self._seen = ident
        # Block and balances stay those last read on the recorded chain, shown stale with their age.
        message = "; ".join(problems)
        if self._state is not ChainState.DIFFERENT_CHAIN or self._error != message:
            log.warning("chain at %s is not the chain recorded (%s): nothing is sent until the operator decides "
                        "about the %d open command(s)", self.rpc_url, message, len(self.outbox.open_commands()))
        self._state, self._error = ChainState.DIFFERENT_CHAIN, message
        if not self.undecided():
            self._adopt_if_decided()  # nothing to decide: follow the new chain when the suite is there

    async def _identity(self) -> ChainIdentity:
        names = sorted(self.deployment.addresses)
        answers = await self._batch([("eth_chainId", []), ("eth_getBlockByNumber", ["0x0", False])]
                                    + [("eth_getCode", [self.deployment.addresses[n], "latest"]) for n in names])
        for a in answers:
            if "result" not in a or a["result"] is None:
                raise ValueError(f"node refused an identity query: {a.get('error')}")
        chain_id, genesis, codes = int(answers[0]["result"], 16), str(answers[1]["result"]["hash"]), answers[2:]
        digests = ["" if a["result"] in ("0x", "") else "0x" + keccak(hexstr=a["result"]).hex() for a in codes]
        return ChainIdentity(chain_id, genesis, tuple(zip(names, digests, strict=True)))

    async def _recover_lost_blocks(self, head: int) -> None:
        """After an outage the chain may have lost blocks (a node restarted from an older state, a reorg):
        confirmed transactions whose receipts are gone go back to in-flight and their stored bytes are
        broadcast again (still once on the chain: the nonce went back with the blocks); events of the lost
        blocks are forgotten and followed again."""
        recent = self.outbox.recent_confirmed()
        answers = await self._batch([("eth_getTransactionReceipt", [h]) for _, h in recent])
        lost = [k for (k, _), a in zip(recent, answers, strict=True) if not a.get("result")]
        if lost:
            self.outbox.unconfirm(lost)
        voided = await self._void_invalid()
        if lost:
            log.warning("chain lost %d confirmed transaction(s); broadcasting again the %d still valid",
                        len(lost), len(set(lost) - voided))
        gone = self.outbox.rewind_events(self.deployment.chain_id, head)
        if gone:
            log.warning("chain lost blocks above %d: %d journaled event(s) withdrawn", head, gone)

    async def _void_invalid(self) -> set[str]:
        """Signed transactions not on chain whose command expired or was superseded must never be included:
        a no-op (0 to ourselves) takes each one's nonce, so later transactions stay valid unchanged."""
        invalid = self.outbox.invalid_in_flight(time.time())
        if not invalid:
            return set()
        by_key = {k: h for k, _, _, h, _ in self.outbox.in_flight()}
        receipts = await self._batch([("eth_getTransactionReceipt", [by_key[k]]) for k, *_ in invalid])
        block = await self.w3.eth.get_block("latest")
        tip = 2 * PRIORITY_FEE_WEI  # above the original's tip by more than the 10 % a node needs to replace it
        max_fee = 4 * int(block.get("baseFeePerGas", 0)) + tip
        voided = set()
        for (key, nonce, state, reason), receipt in zip(invalid, receipts, strict=True):
            if receipt.get("result"):
                continue  # on chain already: the receipt loop confirms it
            stx = self.account.sign_transaction({
                "type": 2, "chainId": self.deployment.chain_id, "nonce": nonce, "to": self.account.address,
                "value": 0, "gas": 21_000, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip})
            self.outbox.void(key, state, reason, nonce, bytes(stx.raw_transaction), "0x" + bytes(stx.hash).hex())
            voided.add(key)
        if voided:
            log.info("%d signed command(s) no longer valid (expired or superseded): their nonces are used up "
                     "by no-op transactions", len(voided))
        return voided

    # ---- sending -----------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            self._wake.clear()
            if self._up:
                try:
                    await self._rebroadcast()
                    expired = self.outbox.expire_queued(time.time())
                    if expired:
                        log.info("%d queued command(s) expired before they could be sent: %s", len(expired),
                                 ", ".join(expired[:5]) + (" …" if len(expired) > 5 else ""))
                    await self._send_queued()
                except (OSError, TimeoutError) as exc:
                    self._mark_down(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval * 4)

    async def _same_chain(self) -> bool:
        """Right before sending: is the node still the recorded chain? A node reset between two health probes
        must not receive a transaction signed for the chain before (its nonce could run there later)."""
        recorded = self.outbox.identity()
        (genesis,) = await self._batch([("eth_getBlockByNumber", ["0x0", False])])
        if recorded is not None and (genesis.get("result") or {}).get("hash") == recorded.genesis:
            return True
        log.warning("chain at %s changed its genesis under us: nothing sent until it is checked", self.rpc_url)
        self._state, self._recheck = ChainState.CONNECTING, True
        return False

    def _mark_down(self, exc: BaseException) -> None:
        if self._state is not ChainState.UP:
            return  # a different chain stays different; down is for the health loop to say
        log.warning("chain at %s is down: %s (seen while sending, confirming or following)", self.rpc_url,
                    type(exc).__name__)
        self._state = ChainState.DOWN
        self._error = f"no answer from {self.rpc_url}: {type(exc).__name__}"

    async def _next_nonce(self) -> int:
        if self._nonce is None:
            on_chain = await self.w3.eth.get_transaction_count(self.account.address, "pending")
            stored = self.outbox.max_nonce()
            in_flight = self.outbox.in_flight()
            # Signed transactions not yet on chain keep their nonces: continue after them.
            self._nonce = max(on_chain, (stored + 1) if (stored is not None and in_flight) else on_chain)
        n = self._nonce
        self._nonce += 1
        return n

    async def _batch(self, calls: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        """One JSON-RPC batch (one HTTP round trip); answers in call order, each with `result` or `error`."""
        if not calls:
            return []
        answers = await self.w3.provider.make_batch_request([(RPCEndpoint(m), p) for m, p in calls])
        if not isinstance(answers, list):  # the whole batch was refused
            raise OSError(f"batch refused by {self.rpc_url}: {answers}")
        by_id = sorted(answers, key=lambda a: _request_id(a.get("id")))
        return [dict(a) for a in by_id]

    async def _rebroadcast(self) -> None:
        """Broadcast stored transactions the node may not have (after a crash or an outage): same bytes."""
        todo = [(k, n, raw, h) for k, n, raw, h, state in self.outbox.in_flight()
                if not (state is TxState.SENT and k in self._sent_at)]  # in flight this session: receipts watch it
        if todo and await self._same_chain():
            await self._broadcast(todo)

    async def _broadcast(self, signed: list[tuple[str, int, bytes, str]]) -> None:
        """Send signed transactions in nonce order in one batch; a node that already has one is fine."""
        answers = await self._batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for _, _, raw, _ in signed])
        sent = []
        for (key, _nonce, _raw, _h), answer in zip(signed, answers, strict=True):
            err = answer.get("error")
            text = str(err.get("message", err)).lower() if isinstance(err, dict) else ""
            # "already known": the node has it; "nonce too low": mined already, or the nonce went to another
            # transaction (then ours is void) - the receipt check tells which; it is never re-signed.
            if err is None or "already" in text or "nonce too low" in text:
                sent.append(key)
            else:
                self.outbox.set_state(key, TxState.FAILED, error=f"node refused the transaction: {err}")
                self._nonce = None
        now = time.monotonic()
        self.outbox.set_states([(k, TxState.SENT) for k in sent])
        for k in sent:
            self._sent_at[k] = now

    async def _send_queued(self) -> None:
        queued = self.outbox.queued(self.batch)
        if not queued or not self._up or not await self._same_chain():
            return
        block = await self.w3.eth.get_block("latest")
        max_fee = 2 * int(block.get("baseFeePerGas", 0)) + PRIORITY_FEE_WEI
        me = self.account.address
        encoded = [(cmd, self.contracts[cmd.contract].address,
                    self.contracts[cmd.contract].encode_abi(cmd.function, list(cmd.args))) for cmd in queued]
        estimates = await self._batch([("eth_estimateGas", [{"from": me, "to": to, "data": data}, "pending"])
                                       for _, to, data in encoded])
        signed: list[tuple[str, int, bytes, str]] = []
        for (cmd, to, data), answer in zip(encoded, estimates, strict=True):
            if "error" in answer:
                if signed and self._deferred.get(cmd.key, 0) == 0:
                    # It may depend on a command earlier in this batch: estimate it again after those are sent.
                    self._deferred[cmd.key] = 1
                    continue
                self._deferred.pop(cmd.key, None)
                err = answer["error"]
                reason = decode_revert(err.get("data") if isinstance(err, dict) else None).message
                self.outbox.set_state(cmd.key, TxState.FAILED, error=f"would revert: {reason}")
                log.info("command %s refused before sending: %s", cmd.key, reason)
                continue
            self._deferred.pop(cmd.key, None)
            gas = int(answer["result"], 16)
            nonce = await self._next_nonce()
            tx = {"type": 2, "chainId": self.deployment.chain_id, "nonce": nonce, "to": to, "data": data, "value": 0,
                  "gas": gas * 12 // 10 + 10_000, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": PRIORITY_FEE_WEI}
            stx = self.account.sign_transaction(tx)
            signed.append((cmd.key, nonce, bytes(stx.raw_transaction), "0x" + bytes(stx.hash).hex()))
        # Stored before broadcast: whatever happens next, these exact bytes are what gets sent, once.
        self.outbox.mark_signed(signed)
        await self._broadcast(signed)
        if self._deferred:
            self._wake.set()

    # ---- receipts ----------------------------------------------------------------------

    async def _receipt_loop(self) -> None:
        while True:
            if self._up:
                sent = [(k, n, h) for k, n, _, h, state in self.outbox.in_flight() if state is TxState.SENT]
                if sent:
                    try:
                        await self._check_receipts(sent)
                    except (OSError, TimeoutError) as exc:
                        self._mark_down(exc)
            await asyncio.sleep(self.poll_interval)

    async def _check_receipts(self, sent: list[tuple[str, int, str]]) -> None:
        answers = await self._batch([("eth_getTransactionReceipt", [h]) for _, _, h in sent])
        missing = []
        done: list[tuple[str, TxState, int, int]] = []
        for (key, nonce, tx_hash), answer in zip(sent, answers, strict=True):
            receipt = answer.get("result")
            if not receipt:
                missing.append((key, nonce, tx_hash))
                continue
            block, gas = int(receipt["blockNumber"], 16), int(receipt["gasUsed"], 16)
            if self._block is None or block > self._block:
                self._block = block  # a receipt proves the head: events follow now, not at the next health probe
            if self.confirmations and (self._block is None or block + self.confirmations > self._block):
                continue
            if int(receipt["status"], 16) == 1:
                done.append((key, TxState.CONFIRMED, block, gas))
            else:
                self.outbox.set_state(key, TxState.FAILED, block=block, gas_used=gas,
                                      error=await self._revert_reason(tx_hash, block))
            self._sent_at.pop(key, None)
            self._nonce_used_at.pop(key, None)
        self.outbox.set_states([(k, st) for k, st, _, _ in done], details={k: (b, g) for k, _, b, g in done})
        if missing:
            mined_nonce = await self.w3.eth.get_transaction_count(self.account.address, "latest")
            for key, nonce, tx_hash in missing:
                if nonce < mined_nonce:
                    await self._nonce_used(key, nonce, tx_hash)
                elif time.monotonic() - self._sent_at.get(key, time.monotonic()) > self.receipt_timeout:
                    self._sent_at.pop(key, None)  # broadcast again on the next send round

    async def _nonce_used(self, key: str, nonce: int, tx_hash: str) -> None:
        """Our nonce is used and our receipt was absent: ours is on its way (mined, receipt not served yet) or
        void (another transaction took the nonce: it can never be included). Failed only once the node does
        not know ours as mined and the receipt stays absent for ``nonce_taken_grace_s``."""
        receipt, known = await self._batch([("eth_getTransactionReceipt", [tx_hash]),
                                            ("eth_getTransactionByHash", [tx_hash])])
        tx = known.get("result")
        if receipt.get("result") or (isinstance(tx, dict) and tx.get("blockNumber")):
            return  # mined: the next round reads its receipt
        first = self._nonce_used_at.setdefault(key, time.monotonic())
        if time.monotonic() - first >= self.nonce_taken_grace_s:
            self._nonce_used_at.pop(key, None)
            self.outbox.set_state(key, TxState.FAILED, error=f"nonce {nonce} was used by another transaction")

    async def _revert_reason(self, tx_hash: str, block: int) -> str:
        tx = await self.w3.eth.get_transaction(HexStr(tx_hash))
        try:
            await self.w3.eth.call({"from": tx["from"], "to": tx["to"], "data": tx["input"]}, block - 1)
        except (ContractCustomError, ContractLogicError) as exc:
            return "reverted: " + decode_revert(exc.data if isinstance(exc.data, str) else None).message
        return "reverted on chain (the reason could not be replayed)"

    # ---- events ------------------------------------------------------------------------

    async def _event_loop(self) -> None:
        chain_id = self.deployment.chain_id
        addresses = [c.address for c in self.contracts.values()]
        while True:
            if self._up and self._block is not None:
                cursor = self.outbox.cursor(chain_id)
                start = (self.deployment.block if cursor is None else cursor) + 1
                end = min(self._block - self.confirmations, start + 1999)
                if end >= start:
                    try:
                        logs = await self.w3.eth.get_logs({"fromBlock": start, "toBlock": end, "address": addresses})
                    except (OSError, TimeoutError) as exc:
                        self._mark_down(exc)
                    except Web3RPCError as exc:
                        # Blocks we were following are not there (a restarted or reset node): the health loop
                        # finds out which chain this is; until then nothing is sent.
                        log.warning("chain at %s refused events %d-%d (%s): checking which chain it is",
                                    self.rpc_url, start, end, exc.message if hasattr(exc, "message") else exc)
                        self._state, self._recheck = ChainState.CONNECTING, True
                    else:
                        self.outbox.store_events(chain_id, self.decoder.decode(logs), end)
                        continue
            await asyncio.sleep(max(self.poll_interval, 0.2))


def _abi_name(name: str) -> str:
    return "EnergyNetCredit" if name == "SettlementToken" else name


def describe(records: Sequence[TxRecord]) -> list[str]:
    """One line per record, for logs and the CLI."""
    return [f"{r.state.value:9} {r.description} {r.tx_hash or ''} {r.error or ''}".rstrip() for r in records]


def _request_id(value: int | str | None) -> int:
    """A JSON-RPC answer's id (this gateway sends ints; some nodes echo them as strings)."""
    return value if isinstance(value, int) else int(value or 0)
