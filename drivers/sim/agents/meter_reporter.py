"""The world's grid meters put their cumulative counters on chain, each signing with its own device key.

Every ``interval_s`` the reporter reads each meter's SDM630 total import / export energy (input registers
0x48 / 0x4A, float32 kWh) from the world's Modbus face, stamps the reading with its clock, and each meter's
device account sends the readings it has not yet got on chain in one ``MeterReading.submitReadings`` batch.
This is what a smart meter's gateway does (docs/decisions.md, "Meter reporter"): the meter, not the
participant nor the operator, is the one that vouches for its counters, so its key is its own.

Never sent twice, and nothing lost across a chain restart:

- a reading is in at most one transaction at a time: while a meter's batch is unconfirmed, new readings
  queue behind it; the batch's readings leave the queue only once the chain shows them
  (``meters(id).lastTimestamp`` has reached them);
- before every batch the reporter asks the chain how far the meter got, so a batch confirmed on a chain that
  then restarted from its saved state is not sent again, and one the restart lost is;
- the nonce is the node's pending count for the device at the time of sending, so a restarted (or reset)
  chain is followed without a local counter that could run ahead of it;
- a batch the chain refuses (estimated before sending: nothing is spent) stays queued and is tried again
  next interval; the queue keeps the newest ``max_batch`` readings (the counters are cumulative, so the
  energy is never lost by dropping an intermediate reading, only its time resolution).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from pymodbus.client import AsyncModbusTcpClient
from web3 import AsyncWeb3
from web3.contract import AsyncContract

from contracts.artifacts import load
from contracts.deploy import Deployment
from contracts.rpc import async_http_provider
from drivers.modbus.codec import DataType, decode
from drivers.sim.world.participants import ParticipantsFile

log = logging.getLogger(__name__)

SDM630_IMPORT_KWH = 0x48   # input registers, float32 kWh: total import, then total export at 0x4A
DEFAULT_INTERVAL_S = 60.0
MAX_BATCH = 10


@dataclass(frozen=True, slots=True)
class ReportedMeter:
    name: str                  # the participant id; the on-chain meter id is keccak(name)
    unit: int                  # the meter's Modbus unit id on the world's face
    device: LocalAccount       # the meter's own key (MeterReading's METER role for this meter)

    @property
    def meter_id(self) -> bytes:
        return bytes(AsyncWeb3.keccak(text=self.name))


Reading = tuple[int, int, int]  # (timestamp s, import Wh, export Wh)
ReadCounters = Callable[[Sequence[ReportedMeter]], Awaitable[Mapping[str, tuple[int, int]]]]


@dataclass
class MeterState:
    queue: list[Reading] = field(default_factory=list)
    in_flight: bytes | None = None     # the hash of the batch sent and not yet seen on chain
    in_flight_upto: int = 0            # the newest timestamp in it
    on_chain: int = 0                  # the meter's lastTimestamp as last read from the chain
    sent: int = 0                      # batches sent
    readings: int = 0                  # readings seen recorded on chain
    last_error: str | None = None


class ModbusCounters:
    """Reads the meters' counters from one Modbus TCP server (the world's face); a meter that does not answer
    is left out of that round."""

    def __init__(self, host: str, port: int, timeout_s: float = 3.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._client: AsyncModbusTcpClient | None = None

    async def __call__(self, meters: Sequence[ReportedMeter]) -> dict[str, tuple[int, int]]:
        if self._client is None or not self._client.connected:
            self._client = AsyncModbusTcpClient(self.host, port=self.port, timeout=self.timeout_s, retries=0)
            if not await self._client.connect():
                raise ConnectionError(f"meter reporter: no Modbus answer from {self.host}:{self.port}")
        out: dict[str, tuple[int, int]] = {}
        for m in meters:
            rr = await self._client.read_input_registers(SDM630_IMPORT_KWH, count=4, device_id=m.unit)
            if rr.isError():
                log.warning("meter %s (unit %d): Modbus exception reading its counters", m.name, m.unit)
                continue
            imp, exp = decode(rr.registers[0:2], DataType.FLOAT32), decode(rr.registers[2:4], DataType.FLOAT32)
            if imp is None or exp is None or not isinstance(imp, float) or not isinstance(exp, float):
                continue
            out[m.name] = (round(imp * 1000), round(exp * 1000))
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class MeterReporter:
    """Reads every meter each ``interval_s`` and sends each meter's queued readings with its own key."""

    def __init__(self, rpc_url: str, deployment: Deployment, meters: Sequence[ReportedMeter],
                 read: ReadCounters, *, interval_s: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.time, max_batch: int = MAX_BATCH,
                 receipt_timeout_s: float | None = None) -> None:
        if not interval_s > 0:
            raise ValueError(f"meter reporter: interval must be > 0 s, got {interval_s}")
        self.meters = tuple(meters)
        self.read = read
        self.interval_s = interval_s
        self.clock = clock
        self.max_batch = max_batch
        self.receipt_timeout_s = receipt_timeout_s if receipt_timeout_s is not None else max(interval_s, 5.0)
        self.w3 = AsyncWeb3(async_http_provider(rpc_url, timeout=10))
        self.contract: AsyncContract = self.w3.eth.contract(
            address=AsyncWeb3.to_checksum_address(deployment.addresses["MeterReading"]), abi=load("MeterReading").abi)
        self.state = {m.name: MeterState() for m in self.meters}
        self.rounds = 0
        self._last_ts = 0
        self._chain_down = False

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Report until cancelled or ``stop`` is set."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                started = time.monotonic()
                await self.round()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, self.interval_s - (time.monotonic() - started)))
        finally:
            await self.w3.provider.disconnect()

    async def round(self) -> None:
        """One reading of every meter and one batch per meter with something to send."""
        self.rounds += 1
        ts = max(int(self.clock()), self._last_ts + 1)  # whole seconds, strictly newer than the last round
        self._last_ts = ts
        try:
            counters = await self.read(self.meters)
        except (OSError, TimeoutError) as exc:
            log.warning("meter reporter: reading the meters failed (%s); next round in %.0f s", exc, self.interval_s)
            counters = {}
        for m in self.meters:
            if m.name in counters:
                imp, exp = counters[m.name]
                st = self.state[m.name]
                last = st.queue[-1] if st.queue else None
                if last is not None and (imp < last[1] or exp < last[2]):
                    log.warning("meter %s: counters went backwards (%s -> %s Wh); reading dropped", m.name,
                                last[1:], (imp, exp))
                    continue
                st.queue.append((ts, imp, exp))
                del st.queue[:-self.max_batch]  # the newest: an in-flight one dropped here is covered by them
        results = await asyncio.gather(*(self._flush(m) for m in self.meters if self.state[m.name].queue),
                                       return_exceptions=True)
        down = [r for r in results if isinstance(r, (OSError, TimeoutError))]
        if down and not self._chain_down:
            log.warning("meter reporter: the chain does not answer (%s); readings queue until it is back", down[0])
        self._chain_down = bool(down) and len(down) == len(results)
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, (OSError, TimeoutError)):
                log.error("meter reporter: %r", r)

    async def _flush(self, m: ReportedMeter) -> None:
        st = self.state[m.name]
        on_chain = int((await self.contract.functions.meters(m.meter_id).call())[2])
        recorded = [r for r in st.queue if r[0] <= on_chain]
        if on_chain > st.on_chain:
            st.readings += len(recorded)
        st.on_chain = on_chain
        st.queue = [r for r in st.queue if r[0] > on_chain]
        if st.in_flight is not None:
            if on_chain >= st.in_flight_upto:
                st.in_flight = None  # confirmed
            else:
                receipt = await self._receipt(st.in_flight)
                if receipt is None and await self._still_pending(m):
                    return  # still in the pool: nothing new until it is mined
                if receipt is not None and receipt["status"] == 1:
                    return  # mined after our read of lastTimestamp: seen next round
                # reverted, or gone (a chain restarted from an older state): its readings are still queued
                st.last_error = "batch reverted" if receipt is not None else "batch lost (chain restarted?)"
                log.warning("meter %s: %s; its readings are sent again", m.name, st.last_error)
                st.in_flight = None
        del st.queue[:-self.max_batch]
        if not st.queue:
            return
        batch = [(m.meter_id, ts, imp, exp, False) for ts, imp, exp in st.queue]
        fn = self.contract.functions.submitReadings(batch)
        address = m.device.address
        try:
            tx = await fn.build_transaction({"from": address, "nonce": await
                                             self.w3.eth.get_transaction_count(address, "pending")})
        except (OSError, TimeoutError):
            raise
        except Exception as exc:  # the estimate reverted (e.g. not registered yet, clock ahead of the chain)
            if st.last_error != str(exc):
                log.warning("meter %s: batch of %d refused by the chain: %s; kept for the next round", m.name,
                            len(batch), exc)
            st.last_error = str(exc)
            return
        signed = m.device.sign_transaction(dict(tx))  # type: ignore[arg-type]
        st.in_flight = bytes(await self.w3.eth.send_raw_transaction(signed.raw_transaction))
        st.in_flight_upto = st.queue[-1][0]
        st.sent += 1
        st.last_error = None
        receipt = await self._receipt(st.in_flight, self.receipt_timeout_s)
        if receipt is not None and receipt["status"] == 1:
            st.readings += len(st.queue)
            st.on_chain = st.in_flight_upto
            st.queue.clear()
            st.in_flight = None

    async def _receipt(self, tx_hash: bytes, timeout_s: float = 0.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(Exception):
                receipt = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
                if receipt is not None:
                    return receipt
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)

    async def _still_pending(self, m: ReportedMeter) -> bool:
        address = m.device.address
        pending = await self.w3.eth.get_transaction_count(address, "pending")
        latest = await self.w3.eth.get_transaction_count(address, "latest")
        return pending > latest


def meters_of(book: ParticipantsFile, secret: str | None = None) -> list[ReportedMeter]:
    """The grid meters of a participants file that have a device key, with their keys decrypted (``secret``:
    the keystores' password, default ``$ENERGYNET_PARTICIPANT_PASSWORD`` or the demo's)."""
    import json

    from eth_account import Account

    from drivers.sim.world.participants import password

    out = []
    for p in book.participants:
        unit = next((d.device_id for d in p.devices if d.kind == "meter"), None)
        if p.meter_keystore is None or unit is None:
            continue
        key = Account.decrypt(json.loads(p.meter_keystore.read_text(encoding="utf-8")), secret or password())
        out.append(ReportedMeter(p.id, unit, Account.from_key(key)))
    return out


def grid_supply_meter(key: bytes | str, name: str = "grid-supply") -> ReportedMeter:
    """The grid's supply meter (the transformer, unit GRID_SUPPLY_UNIT of the world's Modbus face) reporting
    with ``key``, the account registered as its reading device (`chain up`: the grid-maker's)."""
    from eth_account import Account

    from drivers.sim.world.modbus_face import GRID_SUPPLY_UNIT

    return ReportedMeter(name, GRID_SUPPLY_UNIT, Account.from_key(key))


def run_reporter(rpc_url: str, deployment: Deployment, book: ParticipantsFile, interval_s: float,
                 stop: Callable[[], bool], extra: Sequence[ReportedMeter] = ()) -> MeterReporter:
    """Report the meters of ``book`` (and ``extra``, e.g. :func:`grid_supply_meter`) from the world's Modbus
    face until ``stop()`` (blocking: its own loop)."""
    meters = [*meters_of(book), *extra]
    counters = ModbusCounters(book.modbus_host, book.modbus_port)
    reporter = MeterReporter(rpc_url, deployment, meters, counters, interval_s=interval_s)
    log.info("meter reporter: %d meters every %.0f s", len(meters), interval_s)

    async def main() -> None:
        done = asyncio.Event()

        async def watch() -> None:
            while not stop():
                await asyncio.sleep(0.2)
            done.set()

        watcher = asyncio.create_task(watch())
        try:
            await reporter.run(done)
        finally:
            watcher.cancel()
            counters.close()

    asyncio.run(main())
    return reporter
