"""The world's households that answer demand response in the demo: who gets an agent, with which key and devices."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.deploy import Deployment
from drivers.sim.agents.dr_fleet import agents_of
from drivers.sim.world.modbus_face import world_layout
from drivers.sim.world.model import World
from drivers.sim.world.participants import write_participants

pytestmark = [pytest.mark.drivers]


def test_every_household_with_a_flexible_load_gets_an_agent_with_its_own_wallet(tmp_path: Path) -> None:
    world = World()
    devices = world_layout(world.participants, 2, world.network.feeder_ends)
    book = write_participants(tmp_path / "participants.json", world.participants, devices, host="127.0.0.1",
                              modbus_port=5020, seed=1, start=datetime(2026, 6, 22, 10, tzinfo=UTC), scrypt_n=2**4)
    deployment = Deployment(chain_id=31337, addresses={"GridBalance": "0x" + "11" * 20}, block=1,
                            admin="0x" + "22" * 20)
    agents = agents_of(book, "http://127.0.0.1:1", deployment)
    by_wallet = {p.wallet.lower(): p for p in book.participants}
    # In this layout (2 households per feeder end) seven households have an EV charger or heat pump behind a
    # flexible meter and nobody has a battery; the businesses, farms and the other houses have nothing to shed.
    got = {by_wallet[a.account.address.lower()].id: (a.devices.flex_meter, a.devices.battery) for a in agents}
    assert got == {"household-2-14": (9, None), "household-3-14": (11, None), "household-5-19": (19, None),
                   "household-6-10": (20, None), "household-8-10": (24, None), "household-9-32": (29, None),
                   "household-10-4": (31, None)}
    assert all(a.devices.host == "127.0.0.1" and a.devices.port == 5020 for a in agents)
