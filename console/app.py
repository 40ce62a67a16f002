"""Runs the console: Qt and asyncio on one qasync loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
from importlib import resources
from pathlib import Path

from console import bootstrap, bootstrap_chain
from console.config import Settings
from console.services.acquisition import AcquisitionService
from console.services.chain import ChainService
from console.services.historian import HistorianService
from console.services.loop_monitor import LoopMonitor

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Collect once and freeze what survived (the window, services, imported modules) so that later
    full collections skip them: with a large startup heap a gen-2 collection otherwise stalls the loop
    for tens of milliseconds."""
    gc.collect()
    gc.freeze()


def headless_fallback() -> bool:
    """Without a display (and no platform chosen) Qt cannot open a window:
    run offscreen instead. Returns True when it did so."""
    if os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return True


def _build_chain(settings: Settings, acquisition: AcquisitionService,
                 historian: HistorianService | None) -> tuple[ChainService | None, str | None]:
    """The chain service, or None and the reason; the console runs without the chain rather than not at all."""
    if not settings.chain.enabled:
        return None, None
    try:
        store = historian.historian if historian is not None else None
        return bootstrap_chain.build_chain_service(settings.chain, acquisition.snapshot, store), None
    except (OSError, ValueError) as exc:
        log.error("chain disabled: %s", exc)
        return None, str(exc)


def run_console(
    settings: Settings,
    screenshot: Path | None = None,
    quit_after: float | None = None,
    screenshot_every_s: float | None = None,
    view: str = "grid",
) -> int:
    """Open the main window and run until it closes (or ``quit_after`` s).

    With ``screenshot`` the window is grabbed to that PNG just before quitting,
    and also every ``screenshot_every_s`` seconds if given (headless demo).
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
    historian = bootstrap.build_historian(settings, acquisition)
    commands = bootstrap.build_commands(sources, historian)
    chain, chain_error = _build_chain(settings, acquisition, historian)
    monitor = LoopMonitor()
    window = MainWindow(settings, acquisition, monitor, historian, commands, chain, chain_error)
    if view == "devices" and window.devices_view is not None:
        window.tabs.setCurrentWidget(window.devices_view)
    if view == "chain" and window.chain_view is not None:
        window.tabs.setCurrentWidget(window.chain_view)
    window.show()
    settle_heap()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    app.lastWindowClosed.connect(closed.set)

    def save_screenshot() -> None:
        assert screenshot is not None
        window.refresh()
        if window.grab().save(str(screenshot)):
            log.info("screenshot written to %s", screenshot)
        else:
            log.error("could not write the screenshot to %s", screenshot)

    async def snapshot_periodically(period: float) -> None:
        while True:
            await asyncio.sleep(period)
            save_screenshot()

    async def main() -> None:
        monitor.start()
        if historian is not None:
            await historian.start()
        await sources.start()
        if chain is not None:
            await chain.start()
        periodic = (asyncio.create_task(snapshot_periodically(screenshot_every_s))
                    if screenshot is not None and screenshot_every_s else None)
        try:
            if quit_after is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), timeout=quit_after)
            else:
                await closed.wait()
            if screenshot is not None:
                save_screenshot()
            stats = acquisition.stats()
            states = ", ".join(f"{s.source}={s.state.value}" for s in acquisition.statuses())
            log.info("session summary: frames=%d samples=%d loop_lag_p99_ms=%.0f sources: %s",
                     window.frames, stats.samples, monitor.p99_ms(), states or "none")
        finally:
            if periodic is not None:
                periodic.cancel()
            window.timer.stop()
            if chain is not None:
                await chain.stop()
            await sources.stop()
            if historian is not None:
                await historian.stop()
                log.info("historian: %s", historian.stats())
            await monitor.stop()

    with loop:
        loop.run_until_complete(main())
    window.close()
    return 0
