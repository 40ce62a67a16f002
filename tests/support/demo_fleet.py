"""The demo layout's households as a simulated Modbus fleet at midday (its PV produces), and the console's
device specs for it, as the screenshot scripts use them: each house's meter is ``house-NN`` (Eastron
SDM630 profile), its other devices ``house-NN-<kind>`` (SunSpec), all owned by ``house-NN``."""

from __future__ import annotations

import time

from core.sources import ModbusDeviceSpec
from drivers.sim.devices import DeviceFleet, FleetDevice, demo_layout
from tests.conftest import free_port


async def midday_fleet(houses: int = 6) -> tuple[DeviceFleet, list[FleetDevice]]:
    """The fleet, started, and its layout."""
    layout = demo_layout(houses)
    fleet = DeviceFleet(port=free_port(), layout=layout)
    for house in fleet.houses.values():
        house.start_hour = 12.5 - time.monotonic() / 3600  # midday: the PV produces
    await fleet.start()
    return fleet, layout


def device_specs(fleet: DeviceFleet, layout: list[FleetDevice], timeout_s: float) -> tuple[ModbusDeviceSpec, ...]:
    specs = []
    for d in layout:
        owner = f"house-{d.house:02d}"
        specs.append(ModbusDeviceSpec(owner if d.kind == "meter" else f"{owner}-{d.kind}", fleet.host, fleet.port,
                                      d.device_id, "eastron_sdm630.toml" if d.kind == "meter" else "sunspec",
                                      timeout_s=timeout_s, reconnect_max_s=1.0, participant=owner, asset=d.kind))
    return tuple(specs)
