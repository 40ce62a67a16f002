"""Operator setpoints: verified on the device, audited in the historian."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, select

from console.services.commands import CommandService
from console.store.historian import SqlHistorian
from console.store.schema import audit_log
from core.access import Role, User
from core.commands import Outcome
from core.sources import ModbusDeviceSpec
from drivers.modbus.hub import ModbusHub
from drivers.sim.devices import DeviceFleet
from tests.conftest import free_port
from tests.drivers.test_opcua_hub import Recorder, wait_until

pytestmark = [pytest.mark.drivers, pytest.mark.timeout(60)]


@dataclass
class Rig:
    fleet: DeviceFleet
    hub: ModbusHub
    historian: SqlHistorian

    def audit_rows(self) -> Sequence[Row[Any]]:
        """The audit log, oldest first; then the historian stops."""
        with self.historian.engine.connect() as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
        self.historian.stop()
        return rows


@asynccontextmanager
async def inverter_3(tmp_path: Path) -> AsyncIterator[Rig]:
    """Device 3 of a simulated fleet (a SunSpec inverter, "inv3") on a Modbus hub, its fast group polled every
    0.2 s, with a SQLite historian for the audit log; yields once its WMaxLimPct has been read. The hub and the
    fleet stop on the way out; the historian runs on for :meth:`Rig.audit_rows`."""
    fleet = DeviceFleet(count=3, port=free_port())
    await fleet.start()
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    historian.start()
    rec = Recorder()
    hub = ModbusHub([ModbusDeviceSpec("inv3", fleet.host, fleet.port, 3, "sunspec", timeout_s=0.5,
                                      poll_overrides=(("fast", 0.2),))], rec.on_samples, rec.on_status)
    await hub.start()
    try:
        await wait_until(lambda: rec.latest("inv3.controls.WMaxLimPct") is not None, 10)
        yield Rig(fleet, hub, historian)
    finally:
        await hub.stop()
        await fleet.stop()


async def test_setpoint_is_confirmed_rejected_or_failed_and_always_audited(tmp_path: Path) -> None:
    async with inverter_3(tmp_path) as rig:
        commands = CommandService(rig.hub, rig.historian, user=User("operator-7", Role.ENGINEER))  # raw writes
        assert (await commands.set_value("inv3", "controls.WMaxLim_Ena", 1)).outcome is Outcome.CONFIRMED
        ok = await commands.set_value("inv3", "controls.WMaxLimPct", 60)
        assert ok.outcome is Outcome.CONFIRMED and "confirmed by read-back" in ok.message
        bad = await commands.set_value("inv3", "controls.WMaxLimPct", 120)
        assert bad.outcome is Outcome.REJECTED and "outside the allowed range" in bad.message
        rig.fleet.set_fault(3, "exception")
        refused = await commands.set_value("inv3", "controls.WMaxLimPct", 50)
        assert refused.outcome is Outcome.REJECTED and "Modbus exception 4" in refused.message
    rows = rig.audit_rows()
    assert [(r.user, r.action, r.target, r.old, r.new) for r in rows] == [
        ("operator-7", "write", "inv3.controls.WMaxLim_Ena", "0", "1"),
        ("operator-7", "write", "inv3.controls.WMaxLimPct", "100", "60"),
        ("operator-7", "write", "inv3.controls.WMaxLimPct", None, "120"),
        ("operator-7", "write", "inv3.controls.WMaxLimPct", None, "50"),
    ]
    assert rows[1].result.startswith("confirmed") and rows[2].result.startswith("rejected")


async def test_a_command_stops_at_its_first_unconfirmed_write_and_is_audited_in_words(tmp_path: Path) -> None:
    async with inverter_3(tmp_path) as rig:
        commands = CommandService(rig.hub, rig.historian, user="operator-7")
        # 120 % is refused before it is sent: the enable that would follow it is not sent at all.
        out = await commands.run("inv3", "inv3 PV: limit to 120 %", [("controls.WMaxLimPct", 120, None),
                                                                    ("controls.WMaxLim_Ena", 1, None)])
        assert out.outcome is Outcome.REJECTED
        ok = await commands.run("inv3", "inv3 PV: limit to 60 %", [("controls.WMaxLim_Ena", 1, None),
                                                                  ("controls.WMaxLimPct", 60, None)])
        assert ok.outcome is Outcome.CONFIRMED
    rows = rig.audit_rows()
    assert [(r.action, r.target, r.new, r.result.split(":")[0]) for r in rows] == [
        ("write", "inv3.controls.WMaxLimPct", "120", "rejected"),
        ("command", "inv3", "inv3 PV: limit to 120 %", "rejected"),
        ("write", "inv3.controls.WMaxLim_Ena", "1", "confirmed"),
        ("write", "inv3.controls.WMaxLimPct", "60", "confirmed"),
        ("command", "inv3", "inv3 PV: limit to 60 %", "confirmed"),
    ]
