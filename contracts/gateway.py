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
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError

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
                    self._up, self._error = True, None
                    self._wake.set()
            except (OSError, TimeoutError, Web3RPCError, ValueError) as exc:
                if self._up:
                    log.warning("chain at %s is down: %s", self.rpc_url, exc)
                self._up = False
                self._error = f"no answer from {self.rpc_url}: {type(exc).__name__}"
            await asyncio.sleep(self.health_interval)

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

    async def _rebroadcast(self) -> None:
        """Broadcast stored transactions the node may not have (after a crash or an outage): same bytes."""
        for key, nonce, raw, tx_hash, state in self.outbox.in_flight():
            if state is TxState.SENT and key in self._sent_at:
                continue  # sent in this session and not forgotten by the node (the receipt loop watches it)
            await self._broadcast(key, raw, tx_hash, nonce)

    async def _broadcast(self, key: str, raw: bytes, tx_hash: str, nonce: int) -> None:
        try:
            await self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text:
                pass
            elif "nonce too low" in text:
                # The nonce is used: by this very transaction (mined), or by another one (ours is void).
                # The receipt loop tells which; a void one is marked failed there, never resent.
                pass
            else:
                self.outbox.set_state(key, TxState.FAILED, error=f"node refused the transaction: {exc}")
                self._nonce = None
                return
        self.outbox.set_state(key, TxState.SENT)
        self._sent_at[key] = time.monotonic()
        log.debug("sent %s nonce %d hash %s", key, nonce, tx_hash)

    async def _send_queued(self) -> None:
        queued = self.outbox.queued(self.batch)
        if not queued:
            return
        block = await self.w3.eth.get_block("latest")
        max_fee = 2 * int(block.get("baseFeePerGas", 0)) + PRIORITY_FEE_WEI
        chain_id = self.deployment.chain_id
        for cmd in queued:
            call = getattr(self.contracts[cmd.contract].functions, cmd.function)(*cmd.args)
            try:
                gas = await call.estimate_gas({"from": self.account.address}, "pending")
            except (ContractCustomError, ContractLogicError) as exc:
                reason = decode_revert(exc.data if isinstance(exc.data, str) else None).message
                self.outbox.set_state(cmd.key, TxState.FAILED, error=f"would revert: {reason}")
                log.info("command %s refused before sending: %s", cmd.key, reason)
                continue
            nonce = await self._next_nonce()
            tx = await call.build_transaction({
                "from": self.account.address, "nonce": nonce, "gas": gas * 12 // 10 + 10_000, "chainId": chain_id,
                "maxFeePerGas": max_fee, "maxPriorityFeePerGas": PRIORITY_FEE_WEI})
            signed = self.account.sign_transaction(tx)
            tx_hash = "0x" + bytes(signed.hash).hex()
            self.outbox.mark_signed([(cmd.key, nonce, bytes(signed.raw_transaction), tx_hash)])
            await self._broadcast(cmd.key, bytes(signed.raw_transaction), tx_hash, nonce)

    # ---- receipts ----------------------------------------------------------------------

    async def _receipt_loop(self) -> None:
        while True:
            if self._up:
                sent = [r for r in self.outbox.in_flight() if r[4] is TxState.SENT]
                if sent:
                    try:
                        await asyncio.gather(*(self._check_receipt(k, h, n) for k, n, _, h, _ in sent))
                    except (OSError, TimeoutError) as exc:
                        self._mark_down(exc)
            await asyncio.sleep(self.poll_interval)

    async def _check_receipt(self, key: str, tx_hash: str, nonce: int) -> None:
        try:
            receipt = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            mined_nonce = await self.w3.eth.get_transaction_count(self.account.address, "latest")
            if mined_nonce > nonce:
                try:  # mined between the two calls?
                    receipt = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
                except TransactionNotFound:
                    # Our nonce was used by a transaction that is not ours: this one can never be included.
                    self.outbox.set_state(key, TxState.FAILED, error=f"nonce {nonce} was used by another transaction")
                    return
            elif time.monotonic() - self._sent_at.get(key, time.monotonic()) > self.receipt_timeout:
                self._sent_at.pop(key, None)  # rebroadcast on the next send loop
                return
            else:
                return
        if self.confirmations and (self._block is None or receipt["blockNumber"] + self.confirmations > self._block):
            return
        if receipt["status"] == 1:
            self.outbox.set_state(key, TxState.CONFIRMED, block=receipt["blockNumber"], gas_used=receipt["gasUsed"])
        else:
            self.outbox.set_state(key, TxState.FAILED, block=receipt["blockNumber"], gas_used=receipt["gasUsed"],
                                  error=await self._revert_reason(tx_hash, receipt["blockNumber"]))
        self._sent_at.pop(key, None)

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
