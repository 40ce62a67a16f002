"""Screenshots of the alarm screen during a 1,000-alarm flood and of its KPI panel after it, for looking at
(docs/screenshot-alarm-flood.png, docs/screenshot-alarm-kpis.png; the banner over the grid view comes from
the World e2e: ENERGYNET_ALARM_SHOTS=DIR with tests/e2e/test_alarms_world.py):

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.e2e.alarm_screenshots OUT_DIR

A real engine, service and SQLite journal; 1,000 alarms activate one per 0.6 s (a storm of 10 minutes), an
operator acknowledges 40 and shelves one; the clock is the script's.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from importlib import resources
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from console.services.alarms import AlarmService
from console.store.alarm_journal import SqlAlarmJournal
from console.ui.alarms_view import AlarmsView
from core.alarms import AlarmDef, AlarmEngine, LimitCondition, LimitKind, Priority
from core.points import Quality, Sample
from widgets.alarm_banner import AlarmBanner

T0 = 1_796_100_000.0  # 2026-12-01 (local time in the shots)
KINDS = (("Inverter {n} trip", Priority.HIGH), ("House {n} meter silent", Priority.MEDIUM),
         ("Feeder {n} end voltage low", Priority.LOW), ("Battery {n} SOC low", Priority.LOW),
         ("Heat pump {n} flexible load unavailable", Priority.LOW))


def definitions() -> list[AlarmDef]:
    out = []
    for i in range(1000):
        text, pri = KINDS[i % len(KINDS)]
        if i in (0, 500):
            text, pri = "Interconnector breaker {n} opened", Priority.CRITICAL
        out.append(AlarmDef(f"area.{i:04d}", f"p{i:04d}", LimitCondition(LimitKind.HIGH, 1.0), pri,
                            text.format(n=i), consequence="Part of the community is not supplied as planned",
                            response="Check the device's status on the field devices tab"))
    return out


async def shoot(out: Path) -> None:
    defs = definitions()
    now = [T0]
    with tempfile.TemporaryDirectory() as tmp:
        journal = SqlAlarmJournal.open(f"sqlite:///{Path(tmp) / 'alarms.sqlite'}", defs)
        service = AlarmService(AlarmEngine(defs), journal, clock=lambda: now[0])
        await service.start()
        try:
            for i, d in enumerate(defs):
                now[0] = T0 + 0.6 * i
                service.on_samples([Sample(d.point, 2.0, "", Quality.GOOD, now[0], now[0])])
            now[0] += 1.0
            for d in defs[950:990]:
                service.acknowledge(d.id, "anna")
            service.shelve("area.0997", "anna", "inverter swap WO-5512", 3600.0)
            # the banner above the alarm screen, as in the main window
            screen = QWidget()
            layout = QVBoxLayout(screen)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(0)
            banner = AlarmBanner()
            view = AlarmsView(service, "anna", clock=lambda: now[0])
            layout.addWidget(banner)
            layout.addWidget(view, 1)
            screen.resize(1600, 900)
            screen.show()
            view.refresh(force=True)
            banner.show_snapshot(service.snapshot())
            view.table.selectRow(0)
            await asyncio.sleep(0.2)
            screen.grab().save(str(out / "screenshot-alarm-flood.png"))
            await _until(lambda: service.stats().queued == 0)
            now[0] += 120.0  # the operator looks at the KPIs two minutes later
            view.tabs.setCurrentWidget(view.kpis)
            view.kpis.refresh()
            await _until(lambda: not view.kpis.tasks)
            await asyncio.sleep(0.2)
            screen.grab().save(str(out / "screenshot-alarm-kpis.png"))
            screen.close()
        finally:
            await service.stop()
            journal.close()


async def _until(pred: object, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():  # type: ignore[operator]
        if loop.time() > end:
            raise TimeoutError("screenshot step did not finish")
        await asyncio.sleep(0.05)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyleSheet(resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8"))  # type: ignore[union-attr]
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(shoot(out))


if __name__ == "__main__":
    main()
