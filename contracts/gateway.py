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
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from contracts.artifacts import load
from contracts.deploy import Deployment
from contracts.errors import decode_revert
from contracts.events import EventDecoder
from contracts.outbox import Outbox
from core.chain import ChainCommand, ChainStatus, TxRecord, TxState

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
    path.write_text(json.dumps(Account.encrypt(private_key, password, kdf="scrypt", iterations=2**14)))
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
    ) -> None:
        self.rpc_url = rpc_url
        self.account = account
        self.deployment = deployment
        self.outbox = outbox
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.health_interval = health_interval
        self.receipt_timeout = receipt_timeout
        self.batch = batch
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
        self.contracts: dict[str, AsyncContract] = {
            name: self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(addr), abi=load(_abi_name(name)).abi)
            for name, addr in deployment.addresses.items()
        }
        self.decoder = EventDecoder(self.contracts)
        self._up = False
        self._error: str | None = None
        self._block: int | None = None
        self._eth: int | None = None
        self._tokens: int | None = None
        self._nonce: int | None = None
        self._sent_at: dict[str, float] = {}
        self._deferred: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._decimals = 6

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(fn), name=f"chain-{fn.__name__}")
                       for fn in (self._health_loop, self._send_loop, self._receipt_loop, self._event_loop)]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        await self.w3.provider.disconnect()

    async def _run(self, fn: Any) -> None:
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failing loop must not stop the others; it restarts
                log.exception("chain gateway %s failed; restarting it", fn.__name__)
                self._error = f"{fn.__name__}: {exc}"
                await asyncio.sleep(1.0)

    # ---- commands --------------------------------------------------------------------

    def submit(self, cmd: ChainCommand) -> bool:
        """Queue `cmd`; returns False when a command with the same key was submitted before (not resent)."""
        if cmd.contract not in self.contracts:
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

    def status(self) -> ChainStatus:
        return ChainStatus(
            up=self._up, rpc=self.rpc_url, chain_id=self.deployment.chain_id, block=self._block,
            account=self.account.address, eth_balance_wei=self._eth, token_balance=self._tokens,
            token_decimals=self._decimals, pending=tuple(self.outbox.records(done=False)),
            recent=tuple(self.outbox.records(done=True, limit=30)), events=tuple(self.outbox.events(50)),
            error=self._error)

    # ---- health ------------------------------------------------------------------------

    async def _health_loop(self) -> None:
        token = self.contracts.get("SettlementToken")
        while True:
            try:
                self._block = await asyncio.wait_for(self.w3.eth.block_number, self.health_interval * 2)
                self._eth = await self.w3.eth.get_balance(self.account.address)
                if token is not None:
                    self._tokens = await token.functions.balanceOf(self.account.address).call()
                if not self._up:
                    log.info("chain at %s is up (block %s)", self.rpc_url, self._block)
                    self._nonce = None  # resynchronise after an outage
                    # The node may have lost what it had in its pool (or its chain): broadcast every
                    # in-flight transaction again, the same bytes, rather than wait for receipt timeouts.
                    self._sent_at.clear()
                    await self._recover_lost_blocks(self._block)
                    self._up, self._error = True, None
                    self._wake.set()
            except (OSError, TimeoutError, Web3RPCError, ValueError) as exc:
                if self._up:
                    log.warning("chain at %s is down: %s", self.rpc_url, exc)
                self._up = False
                self._error = f"no answer from {self.rpc_url}: {type(exc).__name__}"
            await asyncio.sleep(self.health_interval)

    async def _recover_lost_blocks(self, head: int) -> None:
        """After an outage the chain may have lost blocks (a node restarted from an older state, a reorg):
        confirmed transactions whose receipts are gone go back to in-flight and their stored bytes are
        broadcast again (still once on the chain: the nonce went back with the blocks); events of the lost
        blocks are forgotten and followed again."""
        recent = self.outbox.recent_confirmed()
        answers = await self._batch([("eth_getTransactionReceipt", [h]) for _, h in recent])
        lost = [k for (k, _), a in zip(recent, answers, strict=True) if not a.get("result")]
        if lost:
            log.warning("chain lost %d confirmed transaction(s); broadcasting them again", len(lost))
            self.outbox.unconfirm(lost)
        gone = self.outbox.rewind_events(self.deployment.chain_id, head)
        if gone:
            log.warning("chain lost blocks above %d: %d journaled event(s) withdrawn", head, gone)

    # ---- sending -----------------------------------------------------------------------

    async def _send_loop(self) -> None:
        while True:
            self._wake.clear()
            if self._up:
                try:
                    await self._rebroadcast()
                    await self._send_queued()
                except (OSError, TimeoutError) as exc:
                    self._mark_down(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval * 4)

    def _mark_down(self, exc: BaseException) -> None:
        self._up = False
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
        answers = await self.w3.provider.make_batch_request(calls)  # type: ignore[arg-type]
        if not isinstance(answers, list):  # the whole batch was refused
            raise OSError(f"batch refused by {self.rpc_url}: {answers}")
        by_id = sorted(answers, key=lambda a: int(a.get("id", 0)))
        return [dict(a) for a in by_id]

    async def _rebroadcast(self) -> None:
        """Broadcast stored transactions the node may not have (after a crash or an outage): same bytes."""
        todo = [(k, n, raw, h) for k, n, raw, h, state in self.outbox.in_flight()
                if not (state is TxState.SENT and k in self._sent_at)]  # in flight this session: receipts watch it
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
        if not queued:
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
            if self.confirmations and (self._block is None or block + self.confirmations > self._block):
                continue
            if int(receipt["status"], 16) == 1:
                done.append((key, TxState.CONFIRMED, block, gas))
            else:
                self.outbox.set_state(key, TxState.FAILED, block=block, gas_used=gas,
                                      error=await self._revert_reason(tx_hash, block))
            self._sent_at.pop(key, None)
        self.outbox.set_states([(k, st) for k, st, _, _ in done], details={k: (b, g) for k, _, b, g in done})
        if missing:
            mined_nonce = await self.w3.eth.get_transaction_count(self.account.address, "latest")
            for key, nonce, tx_hash in missing:
                if nonce < mined_nonce:
                    # Our nonce is used; if the receipt is still absent (not mined between the two calls), it was
                    # used by a transaction that is not ours and this one can never be included.
                    (again,) = await self._batch([("eth_getTransactionReceipt", [tx_hash])])
                    if not again.get("result"):
                        self.outbox.set_state(key, TxState.FAILED,
                                              error=f"nonce {nonce} was used by another transaction")
                elif time.monotonic() - self._sent_at.get(key, time.monotonic()) > self.receipt_timeout:
                    self._sent_at.pop(key, None)  # broadcast again on the next send round

    async def _revert_reason(self, tx_hash: str, block: int) -> str:
        tx = await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
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
                    else:
                        self.outbox.store_events(chain_id, self.decoder.decode(logs), end)
                        continue
            await asyncio.sleep(max(self.poll_interval, 0.2))


def _abi_name(name: str) -> str:
    return "EnergyNetCredit" if name == "SettlementToken" else name


def describe(records: Sequence[TxRecord]) -> list[str]:
    """One line per record, for logs and the CLI."""
    return [f"{r.state.value:9} {r.description} {r.tx_hash or ''} {r.error or ''}".rstrip() for r in records]
