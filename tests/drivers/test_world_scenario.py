"""Scenarios played into a running world: an island whose own balance sets the frequency until load shedding
trips, a device that goes silent over Modbus and comes back."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from drivers.sim.world.clock import WorldClock, utc
from drivers.sim.world.modbus_face import WorldModbusServer
from drivers.sim.world.model import World, WorldConfig
from drivers.sim.world.runner import WorldRunner
from drivers.sim.world.scenario import ScenarioPlayer, parse_scenario
from drivers.sim.world.snapshot import WorldSnapshot
from tests.conftest import free_port

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(120)]


async def test_an_island_short_of_power_falls_at_its_deficit_and_sheds_load_at_49_hz() -> None:
    # 18:00 on a December weekday: dinner, cars charging; no sun
    world = World(WorldConfig(clock=WorldClock(start=utc(2026, 12, 2, 17)), load_noise=0.0, battery_fcr=False))
    load = world.snapshot.trafo_p_w
    assert load > 100e3
    # the community battery may give only 90 % of the import: a 10 % deficit once its droop has caught up
    scenario = parse_scenario({"scenario": {"name": "short island"}, "events": [
        {"at_s": 1, "kind": "community_battery", "setpoint_w": 0.0, "limit_w": round(0.9 * load)},
        {"at_s": 2, "kind": "island"}]}, "short-island.toml")
    runner = WorldRunner(world, speed=2.0)
    seen: list[WorldSnapshot] = []
    runner.subscribe(seen.append)
    player = ScenarioPlayer(scenario, runner)
    await player.start()
    await runner.start()
    try:
        for _ in range(600):
            if seen and seen[-1].ufls_tripped[0]:
                break
            await asyncio.sleep(0.05)
    finally:
        await player.stop()
        await runner.stop()
    assert [e.kind for _, e in player.played] == ["community_battery", "island"]
    closed = [s for s in seen if s.breaker_closed]
    islanded = [s for s in seen if not s.breaker_closed]
    assert closed and islanded
    before, first = closed[-1], islanded[0]
    # the instant the breaker opens the import is gone and the battery still gives 0 W:
    # ROCOF = −ΔP / (2 H S) · f0 with ΔP = import − transformer losses, H = 3 s, S = 250 kVA
    deficit = before.trafo_p_w - before.trafo_loss_w
    expected = -deficit * 50 / (2 * 3 * 250e3)
    rocof = (first.frequency_trace_hz[0] - before.frequency_hz) / 0.01
    assert rocof == pytest.approx(expected, rel=0.05)
    # the battery's droop then catches up to its limit; what is left falls slowly to the first UFLS stage
    tripped = next(s for s in islanded if s.ufls_tripped[0])
    assert min(tripped.frequency_trace_hz) < 49.0
    for s in islanded:
        if s is tripped:
            break
        assert not any(s.ufls_tripped)
    for stage, threshold in enumerate([49.0, 48.8, 48.6, 48.4, 48.2, 48.0]):
        if tripped.ufls_tripped[stage]:
            assert min(tripped.frequency_trace_hz) < threshold, f"stage {stage + 1} tripped above {threshold} Hz"
    shed = [c for c in range(len(world.connections)) if world.ufls_stage_of(c) == 0]
    assert shed and not any(tripped.connected[c] for c in shed)


async def test_a_silent_device_times_out_and_answers_again_when_the_scenario_says() -> None:
    runner = WorldRunner(World(), speed=2.0)
    modbus = WorldModbusServer(runner, port=free_port(), households=4)
    pv = next(d for d in modbus.devices if d.kind == "pv")
    scenario = parse_scenario({"events": [{"at_s": 1, "kind": "silent", "device": pv.device_id, "for_s": 4}]},
                              "silent.toml")
    player = ScenarioPlayer(scenario, runner, modbus)
    await modbus.start()
    await runner.start()
    await player.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=modbus.port, timeout=0.5, retries=0)
    await client.connect()
    try:
        assert not (await client.read_holding_registers(40000, count=2, device_id=pv.device_id)).isError()
        for _ in range(400):
            if player.played:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(ModbusException):
            await client.read_holding_registers(40000, count=2, device_id=pv.device_id)
        meter = next(d for d in modbus.devices if d.kind == "meter")
        if not client.connected:
            await client.connect()
        assert not (await client.read_input_registers(0x34, count=2, device_id=meter.device_id)).isError()
        for _ in range(400):
            if modbus.faults.get(pv.device_id) is None:
                break
            await asyncio.sleep(0.05)
        if not client.connected:
            await client.connect()
        r = await client.read_holding_registers(40000, count=2, device_id=pv.device_id)
        assert r.registers == [0x5375, 0x6E53]  # "SunS"
    finally:
        client.close()
        await player.stop()
        await runner.stop()
        await modbus.stop()
