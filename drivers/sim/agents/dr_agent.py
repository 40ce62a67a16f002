"""A simulated participant's home energy manager answering demand response, with its own key.

It does what a real HEMS does, through the same doors: it follows ``GridBalance.DemandResponseRequested``
on the chain, decides whether the offered price is worth it, opts in with the participant's own key, and
for the event window curtails the house's flexible load (EV charger / heat pump limit register of its meter,
``energynet_flex_meter.toml``) and discharges its battery (SunSpec model 124 ``StorCtl_Mod`` / ``OutWRte``,
found by walking the device's SunSpec chain) over Modbus TCP; afterwards it restores both, waits for the
oracle's verification and claims its compensation once claims open. Nothing of the console is used: this
is the other side of the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from pymodbus.client import AsyncModbusTcpClient
from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.logs import DISCARD

from contracts.artifacts import load
from contracts.deploy import Deployment
from contracts.rpc import async_http_provider
from drivers.modbus.sunspec import discover, model_points

log = logging.getLogger(__name__)

FLEX_RELAY_ADDRESS = 0x1000
FLEX_LIMIT_ADDRESS = 0x1001


@dataclass(frozen=True, slots=True)
class HomeDevices:
    """The participant's Modbus devices (unit ids on one Modbus TCP server)."""

    host: str
    port: int
    flex_meter: int | None = None      # a meter with the flexible-load limit register
    battery: int | None = None         # a SunSpec battery (models 1, 802, 124)


@dataclass(frozen=True, slots=True)
class Policy:
    """When and how the HEMS takes part: the lowest price it accepts (base units per kWh asked), how far it
    curtails the flexible load (% of its power left) and how hard it discharges the battery (% of WChaMax)."""

    min_price_per_kwh: int = 1
    flex_limit_pct: int = 0
    discharge_pct: int = 100
    lead_s: float = 2.0                # act this long before the start (the devices take a moment)


@dataclass
class Participation:
    request_id: int
    start: int
    end: int
    opted_in: bool = False
    acted: bool = False
    restored: bool = False
    claimed: int | None = None
    declined: str | None = None
    errors: list[str] = field(default_factory=list)


class DrAgent:
    """One participant's demand-response agent; ``run`` until cancelled."""

    def __init__(self, rpc_url: str, account: LocalAccount, deployment: Deployment, devices: HomeDevices,
                 policy: Policy | None = None, *, poll_s: float = 0.5,
                 on_change: Callable[[Participation], None] | None = None) -> None:
        self.account = account
        self.devices = devices
        self.policy = policy or Policy()
        self.poll_s = poll_s
        self.on_change = on_change
        self.w3 = AsyncWeb3(async_http_provider(rpc_url, timeout=10))
        self.grid: AsyncContract = self.w3.eth.contract(
            address=AsyncWeb3.to_checksum_address(deployment.addresses["GridBalance"]), abi=load("GridBalance").abi)
        self.from_block = deployment.block
        self.participations: dict[int, Participation] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._battery_points: dict[str, int] | None = None
        self._nonce_lock = asyncio.Lock()

    async def run(self) -> None:
        try:
            while True:
                await self._poll()
                await asyncio.sleep(self.poll_s)
        finally:
            for t in list(self._tasks):
                t.cancel()
            for t in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self.w3.provider.disconnect()

    # ---- the chain ----------------------------------------------------------------------------------

    async def _poll(self) -> None:
        head = await self.w3.eth.block_number
        if head < self.from_block:
            return
        logs = await self.grid.events.DemandResponseRequested().get_logs(from_block=self.from_block, to_block=head)
        self.from_block = head + 1
        for ev in logs:
            rid = int(ev.args.requestId)
            if rid in self.participations:
                continue
            p = Participation(rid, int(ev.args.start), int(ev.args.end))
            self.participations[rid] = p
            task = asyncio.create_task(self._take_part(p, int(ev.args.reductionW), int(ev.args.compensation)),
                                       name=f"dr-agent-{self.account.address[:8]}-{rid}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _chain_now(self) -> int:
        return int((await self.w3.eth.get_block("latest"))["timestamp"])

    async def _wait_until(self, ts: float) -> None:
        """Sleep until the chain's clock reaches ``ts`` (anvil's time may run apart from the wall clock)."""
        while (now := await self._chain_now()) < ts:
            await asyncio.sleep(min(max(ts - now, 0.05), self.poll_s))

    async def _send(self, fn: Any) -> Any:
        async with self._nonce_lock:
            tx = await fn.build_transaction({"from": self.account.address, "nonce": await
                                             self.w3.eth.get_transaction_count(self.account.address, "pending")})
            signed = self.account.sign_transaction(tx)
            tx_hash = await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction {tx_hash.hex()} reverted")
        return receipt

    def _changed(self, p: Participation) -> None:
        if self.on_change is not None:
            self.on_change(p)

    # ---- one event ----------------------------------------------------------------------------------

    async def _take_part(self, p: Participation, reduction_w: int, compensation: int) -> None:
        target_wh = -(-reduction_w * (p.end - p.start) // 3600)
        price = compensation * 1000 // max(target_wh, 1)
        if price < self.policy.min_price_per_kwh:
            p.declined = f"price {price} per kWh below {self.policy.min_price_per_kwh}"
            self._changed(p)
            return
        if self.devices.flex_meter is None and self.devices.battery is None:
            p.declined = "nothing to shed: no flexible load, no battery"
            self._changed(p)
            return
        try:
            await self._send(self.grid.functions.optIn(p.request_id))
        except Exception as exc:
            p.errors.append(f"opt-in refused: {exc}")
            self._changed(p)
            return
        p.opted_in = True
        self._changed(p)
        await self._wait_until(p.start - self.policy.lead_s)
        try:
            await self._shed(True)
            p.acted = True
            self._changed(p)
            await self._wait_until(p.end)
        finally:
            try:
                await self._shed(False)
                p.restored = True
            except Exception as exc:
                p.errors.append(f"restoring the devices failed: {exc}")
            self._changed(p)
        await self._claim(p)

    async def _claim(self, p: Participation) -> None:
        claims_from = int((await self.grid.functions.requests(p.request_id).call())[2])
        while True:
            enrollment = await self.grid.functions.enrollments(p.request_id, self.account.address).call()
            if enrollment[1] and await self._chain_now() >= claims_from:  # recorded, and claims are open
                break
            await asyncio.sleep(self.poll_s)
        receipt = await self._send(self.grid.functions.claimCompensation(p.request_id))
        (ev,) = self.grid.events.CompensationClaimed().process_receipt(receipt, errors=DISCARD)  # and the Transfer
        p.claimed = int(ev.args.value)
        self._changed(p)

    # ---- the house's devices ---------------------------------------------------------------------------

    async def _shed(self, on: bool) -> None:
        d = self.devices
        client = AsyncModbusTcpClient(d.host, port=d.port, timeout=3)
        await client.connect()
        try:
            if d.flex_meter is not None:
                await self._write(client, d.flex_meter, FLEX_LIMIT_ADDRESS,
                                  self.policy.flex_limit_pct if on else 100)
            if d.battery is not None:
                points = await self._battery(client)
                if on:
                    await self._write(client, d.battery, points["storage_basic.OutWRte"], self.policy.discharge_pct)
                await self._write(client, d.battery, points["storage_basic.StorCtl_Mod"], 2 if on else 0)
        finally:
            client.close()

    async def _battery(self, client: AsyncModbusTcpClient) -> dict[str, int]:
        if self._battery_points is None:
            unit = self.devices.battery
            assert unit is not None

            async def read(address: int, count: int) -> list[int]:
                rr = await client.read_holding_registers(address, count=count, device_id=unit)
                if rr.isError():
                    raise OSError(f"battery {unit}: Modbus exception reading {address}")
                return list(rr.registers)

            headers = await discover(read)
            model = next((h for h in headers if h.model_id == 124), None)
            if model is None:
                raise OSError(f"battery {unit}: no SunSpec storage model 124 in {[h.model_id for h in headers]}")
            self._battery_points = {pt.id: pt.address for pt in model_points(model)}
        return self._battery_points

    @staticmethod
    async def _write(client: AsyncModbusTcpClient, unit: int, address: int, value: int) -> None:
        rr = await client.write_register(address, value, device_id=unit)
        if rr.isError():
            raise OSError(f"device {unit}: Modbus exception writing {value} at holding {address}")
