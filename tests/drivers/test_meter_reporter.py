"""The world's meters report their counters on chain with their own device keys: real anvil (with a saved
state, stopped and restarted), the World model behind its real pymodbus face, the participants registered
from the participants file the world writes. Every figure is read back from the chain and compared with the
world's own counters (the model's import / export Wh, as the meter's float32 kWh registers carry them)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from console.bootstrap_chain import chain_up, register_participants
from contracts.anvil import Anvil
from contracts.deploy import contract_at
from drivers.sim.agents.meter_reporter import MeterReporter, ModbusCounters, meters_of
from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.modbus_face import WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.participants import write_participants
from drivers.sim.world.runner import WorldRunner
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.contracts, pytest.mark.timeout(180)]


def f32_wh(wh: float) -> int:
    """What the SDM630 registers carry (float32 kWh), back in whole Wh."""
    import numpy as np

    return round(float(np.float32(wh / 1000)) * 1000)


async def test_meters_report_with_their_own_keys_batched_once_and_across_a_chain_restart(tmp_path: Path) -> None:
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 12, 2, 17), tick_s=10.0), load_noise=0.0,
                              battery_fcr=False))
    runner = WorldRunner(world)  # stepped by the test, between rounds
    modbus = WorldModbusServer(runner, port=free_port(), households=2)
    await modbus.start()
    book = write_participants(tmp_path / "participants.json", world.participants, modbus.devices,
                              host="127.0.0.1", modbus_port=modbus.port, seed=1,
                              start=datetime(2026, 12, 2, 17, tzinfo=UTC), scrypt_n=2**4)
    state = tmp_path / "anvil-state.json"
    port = free_port()
    up = chain_up(port, tmp_path, state=state, houses=False)
    anvil = up.anvil
    counters = ModbusCounters("127.0.0.1", modbus.port)
    try:
        register_participants(up.anvil.url, up.deployment, book.path, tmp_path, wait_s=1)
        meters = meters_of(book)
        assert len(meters) == len(book.participants) == 21
        reporter = MeterReporter(up.anvil.url, up.deployment, meters, counters, interval_s=1.0)
        w3 = Web3(Web3.HTTPProvider(up.anvil.url))
        contract = contract_at(w3, "MeterReading", up.deployment.addresses["MeterReading"])

        async def step(seconds: float) -> None:
            await runner.call(lambda w: w.run_for(seconds))
            runner._snapshot = world.snapshot  # what the face serves: the world after the step

        def on_chain(name: str) -> list[Any]:
            return list(contract.functions.meters(Web3.keccak(text=name)).call())

        # Round 1 after 30 min of the evening: every meter's counters on chain, sent by its own device.
        await step(1800)
        truth = {p.id: (f32_wh(world.import_wh[p.connection]), f32_wh(world.export_wh[p.connection]))
                 for p in book.participants}
        assert sum(i for i, _ in truth.values()) > 10_000  # the businesses and houses drew something
        await reporter.round()
        for p in book.participants:
            participant, device, _ts, _tampered, imported, exported = on_chain(p.id)
            assert (participant, device) == (p.wallet, p.meter_device)
            assert (imported, exported) == truth[p.id], p.id
        first_ts = on_chain(book.participants[0].id)[2]

        # The chain stops (its state saved); two rounds' readings queue meanwhile, nothing is sent.
        anvil.stop()
        for _ in range(2):
            await step(600)
            await reporter.round()
        assert all(len(s.queue) == 2 for s in reporter.state.values())
        truth2 = {p.id: (f32_wh(world.import_wh[p.connection]), f32_wh(world.export_wh[p.connection]))
                  for p in book.participants}
        anvil = Anvil(port, state=state).start()  # the same chain, reloaded
        w3 = Web3(Web3.HTTPProvider(anvil.url))
        contract = contract_at(w3, "MeterReading", up.deployment.addresses["MeterReading"])
        await reporter.round()  # the two queued readings and this one, one batch per meter
        await reporter.round()  # nothing new in the world: one more reading of the same counters
        for p in book.participants:
            assert tuple(on_chain(p.id)[4:6]) == truth2[p.id], p.id
        # Every reading on chain exactly once, in order: round 1, the two queued, the two after the restart.
        logs = contract.events.ReadingRecorded().get_logs(from_block=0)
        by_meter: dict[str, list[int]] = {}
        for ev in logs:
            by_meter.setdefault(ev.args.meterId.hex(), []).append(int(ev.args.timestamp))
        assert len(by_meter) == 21
        for stamps in by_meter.values():
            assert len(stamps) == 5 and stamps == sorted(set(stamps)) and stamps[0] == first_ts
        # batched: three transactions per device (round 1, the queue + restart round, the last round)
        for m in meters:
            assert w3.eth.get_transaction_count(m.device.address) == 3, m.name
            assert reporter.state[m.name].readings == 5
        totals = {p.wallet: contract.functions.participants(p.wallet).call()[2] for p in book.participants}
        for p in book.participants:  # the participant's import counts from its meter's first reading
            assert totals[p.wallet] == truth2[p.id][0] - truth[p.id][0], p.id
    finally:
        counters.close()
        await reporter.w3.provider.disconnect()
        anvil.stop()
        await modbus.stop()
        await runner.stop()
