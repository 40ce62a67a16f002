"""Screenshots of the field-devices tab on a real simulated fleet (normal, two houses not answering, the whole
Modbus server down, after) and of the three command dialogs, for looking at:

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.e2e.devices_screenshots OUT_DIR
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from importlib import resources
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

from console.bootstrap import build
from console.config import default_config_path, load
from console.ui.devices_view import DevicesView
from tests.support.demo_fleet import device_specs, midday_fleet


async def shoot(out: Path) -> None:
    fleet, layout = await midday_fleet(6)
    specs = device_specs(fleet, layout, timeout_s=0.3)
    settings = load(default_config_path())
    app = build(dataclasses.replace(settings, sources=(), modbus=specs,
                                    historian=dataclasses.replace(settings.historian, enabled=True,
                                                                  url=f"sqlite:///{out / 'audit.db'}", spool=None)))
    view = DevicesView(specs, app.commands)
    view.resize(1600, 950)
    await app.start()
    view.show()
    acq = app.acquisition
    view.totals_trend.set_window(60.0)

    async def run(seconds: float) -> None:  # as the window does: totals at 4 Hz, the tab at 1 Hz
        end, i = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            view.record_totals(acq.snapshot())
            if i % 4 == 0:
                view.refresh(acq.snapshot(), acq.statuses())
            i += 1
            await asyncio.sleep(0.25)

    def select(device: str) -> None:
        view.table.selectRow([r[0] for r in view.table.row_texts()].index(device))
        view.refresh(acq.snapshot(), acq.statuses())

    async def grab_dialog(name: str) -> None:
        await asyncio.sleep(0.2)
        assert view.dialog is not None
        view.dialog.grab().save(str(out / name))
        view.dialog.reject()

    try:
        await run(12)
        battery = next(s.name for s in specs if s.asset == "battery")
        pv = next(s.name for s in specs if s.asset == "pv")
        view.send_battery_setpoint(battery, "discharge", 40)
        await run(2)
        view.send_power_limit(pv, 60)
        await run(3)
        view.grab().save(str(out / "devices_normal.png"))
        for d in layout:  # houses 1 and 3 stop answering
            if d.house in (1, 3):
                fleet.set_fault(d.device_id, "no_answer")
        await run(8)
        view.grab().save(str(out / "devices_outage.png"))
        for d in layout:
            fleet.set_fault(d.device_id, None)
        await run(6)
        await fleet.stop()  # the whole Modbus server goes
        await run(6)
        view.grab().save(str(out / "devices_full_outage.png"))
        await fleet.start()
        await run(8)
        view.grab().save(str(out / "devices_after.png"))
        select(battery)
        view.ask_battery_setpoint()
        await grab_dialog("dialog_battery.png")
        select(pv)
        view.ask_power_limit()
        await grab_dialog("dialog_limit.png")
        view.points.selectRow([r[0] for r in view.points.row_texts()].index("controls.WMaxLimPct"))
        view.ask_register_value()
        await grab_dialog("dialog_register.png")
    finally:
        await app.stop()
        await fleet.stop()


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    qapp = QApplication([])
    qapp.setStyleSheet(resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8"))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(shoot(out))


if __name__ == "__main__":
    main()
