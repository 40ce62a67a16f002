"""Runs the console: Qt and asyncio on one qasync loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from importlib import resources
from pathlib import Path

from console import bootstrap
from console.config import Settings
from console.services.loop_monitor import LoopMonitor

log = logging.getLogger(__name__)


def run_console(settings: Settings, screenshot: Path | None = None, quit_after: float | None = None) -> int:
    """Open the main window and run until it closes (or ``quit_after`` s).

    With ``screenshot`` the window is grabbed to that PNG just before quitting.
    """
    os.environ.setdefault("QT_API", "pyside6")
    import qasync
    from PySide6.QtWidgets import QApplication

    from console.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("EnergyNet Console")
    app.setStyleSheet(resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8"))
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    acquisition = bootstrap.build_acquisition(settings)
    sources = bootstrap.build_field_sources(settings, acquisition)
    monitor = LoopMonitor()
    window = MainWindow(settings, acquisition, monitor)
    window.show()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    app.lastWindowClosed.connect(closed.set)

    async def main() -> None:
        monitor.start()
        await sources.start()
        try:
            if quit_after is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), timeout=quit_after)
            else:
                await closed.wait()
            if screenshot is not None:
                window.refresh()
                if not window.grab().save(str(screenshot)):
                    log.error("could not write the screenshot to %s", screenshot)
                else:
                    log.info("screenshot written to %s", screenshot)
            stats = acquisition.stats()
            states = ", ".join(f"{s.source}={s.state.value}" for s in acquisition.statuses())
            log.info("session summary: frames=%d samples=%d loop_lag_p99_ms=%.0f sources: %s",
                     window.frames, stats.samples, monitor.p99_ms(), states or "none")
        finally:
            window.timer.stop()
            await sources.stop()
            await monitor.stop()

    with loop:
        loop.run_until_complete(main())
    window.close()
    return 0
