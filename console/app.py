"""Runs the console: Qt and asyncio on one qasync loop."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

from console import bootstrap
from console.bootstrap_demo import DemoFailed, DemoProcesses
from console.config import Settings
from console.heap import resume_collector, settle_heap
from console.shutdown import Stoppable, StopRequest, shutdown

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from console.services.acquisition import AcquisitionService
    from console.services.chain import ChainService
    from console.services.market import MarketService
    from console.services.settlement import SettlementService
    from console.ui.login_dialog import SessionGuard
    from console.ui.main_window import MainWindow
    from core.ports import SampleSource

log = logging.getLogger(__name__)


# glibc mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def tune_malloc() -> bool:
    """glibc's allocator for a process that runs for months (docs/decisions.md, "A flat heap"): blocks of
    128 KiB and more always get their own mapping, returned to the system when freed (by default the
    threshold rises to 32 MiB after the first large block is freed, and then trend arrays, query results
    and Qt's paint buffers are carved out of the heaps and leave them fragmented); at most two heaps
    (arenas) for all the threads, instead of up to eight per core, each held at its own high-water mark.
    Skipped when ``GLIBC_TUNABLES`` sets malloc tunables (the operator's choice wins) and off glibc.
    Returns True when applied."""
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "") or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return all(mallopt(param, value) == 1 for param, value in
               ((_M_MMAP_THRESHOLD, 128 * 1024), (_M_TRIM_THRESHOLD, 1024 * 1024), (_M_ARENA_MAX, 2)))


def headless_fallback() -> bool:
    """Without a display (and no platform chosen) Qt cannot open a window:
    run offscreen instead. Returns True when it did so."""
    if os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return True


def run_console(
    settings: Settings,
    screenshot: Path | None = None,
    quit_after: float | None = None,
    screenshot_every_s: float | None = None,
    view: str = "grid",
    stop: StopRequest | None = None,
    demo: DemoProcesses | None = None,
    close_window_after: float | None = None,
) -> int:
    """Open the main window and run until asked to stop, then run the one ordered shutdown.

    Stop comes from SIGINT, SIGTERM, the window being closed or ``quit_after`` s; all four end in
    :func:`console.shutdown.shutdown`. With ``demo`` the window opens at once: the field drivers start
    when the simulators listen, the chain panel when the demo chain is deployed. With ``screenshot`` the
    window is grabbed to that PNG just before quitting, and also every ``screenshot_every_s`` seconds.
    ``close_window_after`` closes the window after that many seconds, as the operator's close button
    does (the tests use it to drive the window-close path headless).
    Returns the exit code: 0 after a clean stop, 1 when the demo's simulators did not come up.
    """
    os.environ.setdefault("QT_API", "pyside6")
    tune_malloc()
    from console.ui import pyside_scan

    pyside_scan.install()  # before the window's imports: PySide6 would keep their whole source (pyside_scan)
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from console.ui.main_window import MainWindow

    stop = stop or StopRequest()
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("EnergyNet Console")
    # Closing the window must not end the Qt loop under the shutdown: it asks to stop like a signal does.
    app.setQuitOnLastWindowClosed(False)
    app.setStyleSheet(resources.files("resources").joinpath("theme.qss").read_text(encoding="utf-8"))
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # qasync's default executor is 10 QThreads sharing one queue, so asyncio.to_thread work (audit and
    # journal writes, SQLite queries) wanders over all ten and each leaves a glibc malloc arena at its
    # high-water mark: RSS grew in steps for hours. A plain pool reuses its idle threads
    # (docs/decisions.md, "Database work on few threads").
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="worker"))

    application = bootstrap.build(settings)
    acquisition, monitor = application.acquisition, application.monitor
    window = MainWindow(settings, acquisition, monitor, application.historian, application.commands,
                        application.chain, application.chain_error, application.alarms, application.market,
                        bootstrap.build_production(settings), dr=application.dr,
                        achievements=application.achievements)
    window.set_desk(application.maker)  # the grid's own orders are signed with its key
    if demo is not None and demo.chain is not None:
        window.show_chain_starting()
    if view in ("devices", "chain", "market"):
        window.show_screen(view)  # built now; the other screens after the first live frame
    session = _session(window, application, settings)  # issue 18: login at start, idle lock, admin screen (F8)
    install_setup_menu(window, settings.path)  # issue 19: the first-run wizard, to run again
    window.show()
    log.info("window shown: monotonic=%.3f", time.monotonic())
    resume_collector()  # paused for the imports and the window (console.heap.pause_collector)
    # The heap is settled once the first live frame is drawn (or 10 s on without one): a full collection
    # of the start-up heap here would come between the window and the drivers' first connection.
    settled = _settle_heap_once()
    # The demo's Modbus drivers wait for the first live frame too (or these 10 s): the world's Modbus face
    # opens about when its OPC-UA face does, and 67 drivers connecting and decoding their first polls on the
    # console's loop would come before the frequency's first frame instead of just after it.
    first_frame = asyncio.Event()

    def after_first_frame() -> None:
        settled()
        first_frame.set()
        window.build_screens_later()  # the screens not shown yet, one per pass of the loop

    QTimer.singleShot(10_000, after_first_frame)
    app.lastWindowClosed.connect(lambda: stop.request("window closed"))
    app.aboutToQuit.connect(lambda: stop.request("Qt is quitting"))
    _log_first_live_frame(window, acquisition, then=after_first_frame)
    if close_window_after is not None:
        QTimer.singleShot(round(close_window_after * 1000), window.close)
    late: list[Stoppable] = []  # parts started after the application (the demo chain)
    result = 0

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

    async def attach_demo_chain() -> None:
        assert demo is not None and demo.chain is not None
        up = await asyncio.wrap_future(demo.chain)
        if up is None:
            window.attach_chain(None, "the demo chain did not start (see the log)")
            return
        from console.bootstrap_demo import chain_settings

        with_chain = chain_settings(settings, up, maker=demo.late_maker)
        chain, error = await asyncio.to_thread(bootstrap.build_chain, with_chain, acquisition,
                                               application.historian)
        if chain is not None:
            late.append(chain)
            await chain.start()
            if session is not None and session.user is not None:
                from console.ui.login_dialog import act_as

                act_as(session.user, chain)  # the demo chain came after the sign-in
        window.attach_chain(chain, error)
        dr = bootstrap.build_dr(settings, acquisition, application.historian, chain)
        if dr is not None:  # demand response reads the chain's events: it follows the late chain
            late.append(dr)
            await dr.start()
            window.attach_dr(dr)
        try:
            await attach_demo_market(with_chain, chain)
        except Exception:  # the console runs on without them; a background task's error would go unseen
            log.exception("demo: the market's settlement or the grid's market-maker did not start")

    async def attach_demo_market(with_chain: Settings, chain: ChainService | None) -> None:
        """The market's settlement and the grid's market-maker, which both need the demo chain."""
        market = application.market
        if market is None:
            return
        settlement = await asyncio.to_thread(bootstrap.build_settlement, with_chain, market, chain)
        if settlement is not None:
            late.insert(0, settlement)  # stopped before the chain (also when a stop comes while it starts)
            await settlement.start()
            market.settlement_states = settlement
        maker = await asyncio.to_thread(bootstrap.build_market_maker, with_chain, market, settlement)
        if maker is not None:
            log.info("demo: the grid's market-maker starts quoting as %s", maker.signer.address)
            late.insert(0, maker)  # stopped first: no quote is signed into a stopping settlement
            await maker.start()
            window.set_desk(maker)
        await start_demo_trading(with_chain, market, settlement, chain)

    async def start_demo_trading(with_chain: Settings, market: MarketService, settlement: SettlementService | None,
                                 chain: ChainService | None) -> None:
        """The demo's participant API (with the settlement: its signed orders settle on chain) and the world's
        households trading through it with their own keys (``energynet sim traders``, a child process)."""
        assert demo is not None
        if demo.late_api is None or demo.directory is None:
            return
        from console.bootstrap_demo import DemoTraders, traders_argv

        api_settings = replace(with_chain, api=demo.late_api)
        store = application.historian.historian if application.historian is not None else None
        # participants=None: the API follows its participants file, which the traders write for this demo's
        # fresh wallets (the admin's register lives in the user's database, across demos)
        api = await asyncio.to_thread(bootstrap.build_api, api_settings, market, settlement, None, store, chain)
        if api is None:
            return
        late.insert(0, api)
        await api.start()
        log.info("demo: participant API on %s", api.url)
        proc = demo.spawn("demo traders", traders_argv(with_chain, api.url, demo.directory / "participants.json",
                                                       demo.late_api.participants),
                          demo.late_api.port, stdout=subprocess.DEVNULL, wait_ready=False, nice=10)
        late.insert(0, DemoTraders(demo, proc))  # stopped first: no order is sent into a stopping API

    async def main() -> None:
        nonlocal result
        stop.attach(asyncio.get_running_loop())
        background: list[asyncio.Task[None]] = []
        try:
            if demo is not None and demo.chain is not None:
                background.append(asyncio.create_task(attach_demo_chain(), name="demo-chain"))
            if demo is not None and application.sources.writer is not None:
                # The Modbus drivers when the world's Modbus face opens, the OPC-UA ones when its OPC-UA face
                # listens: each without failing into a back-off while the world starts.
                application.sources.hold(cast("SampleSource", application.sources.writer),
                                         _after(demo.modbus_listening(), first_frame))
            await application.start(_ready_unless_stopped(demo.ready(), stop) if demo is not None else None)
            settle_heap()  # again: the replayed market book and what starting the services built (console.heap)
            if session is not None:
                await session.begin(await _demo_login(application) if demo is not None else None)
            if screenshot is not None and screenshot_every_s:
                background.append(asyncio.create_task(snapshot_periodically(screenshot_every_s)))
            await stop.wait(quit_after)
            if application.historian is not None:
                log.info("historian at the stop request: %s", application.historian.counts())
            if screenshot is not None:
                save_screenshot()
            stats = acquisition.stats()
            states = ", ".join(f"{s.source}={s.state.value}" for s in acquisition.statuses())
            log.info("session summary: frames=%d samples=%d loop_lag_p99_ms=%.0f sources: %s",
                     window.frames, stats.samples, monitor.p99_ms(), states or "none")
        except DemoFailed as exc:
            log.error("energynet demo: %s", exc)
            result = 1
        except StoppedBeforeStart:
            pass
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            window.timer.stop()
            await shutdown(application, late, demo)
            if application.historian is not None:
                log.info("historian: %s", application.historian.stats())
                log.info("historian: %s", application.historian.counts())

    task = loop.create_task(main(), name="console")
    with loop:
        while not task.done():
            try:
                loop.run_until_complete(task)
            except RuntimeError:
                if task.done():
                    raise
                # Something made Qt leave its loop (a session manager, app.quit()): ask to stop and run on,
                # so the shutdown completes instead of "Event loop stopped before Future completed".
                stop.request("Qt left its event loop")
    stop.catch_signals_early()  # the loop is closed; a late Ctrl+C must not raise in the caller's cleanup
    window.close()
    return result


class StoppedBeforeStart(Exception):
    """Stop was asked for while the demo's simulators were still starting."""


async def _ready_unless_stopped(ready: Coroutine[object, object, None], stop: StopRequest) -> None:
    """Await ``ready`` unless a stop comes first (then raise StoppedBeforeStart); its own error is raised."""
    ready_task = asyncio.ensure_future(ready)
    stop_task = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({ready_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (ready_task, stop_task):
            t.cancel()
        await asyncio.gather(ready_task, stop_task, return_exceptions=True)
    if ready_task not in done:
        raise StoppedBeforeStart
    ready_task.result()


def _settle_heap_once() -> Callable[[], None]:
    """:func:`settle_heap`, the first time the returned function is called."""
    done = False

    def settle() -> None:
        nonlocal done
        if not done:
            done = True
            settle_heap()

    return settle


async def _after(gate: Awaitable[None], event: asyncio.Event) -> None:
    """``gate``, then ``event``."""
    await gate
    await event.wait()


def _log_first_live_frame(window: MainWindow, acquisition: AcquisitionService,
                          then: Callable[[], None] | None = None) -> None:
    """Log the first frame drawn with a good frequency reading, with a monotonic timestamp (CLOCK_MONOTONIC
    is system-wide on Linux, so ``bench/startup.py`` can subtract its own launch time); ``then`` is called
    just after, from the event loop."""
    from PySide6.QtCore import QTimer

    def check() -> None:
        reading = acquisition.snapshot().frequency
        if window.frames > 0 and reading is not None and reading.quality.usable:
            log.info("first live frame: monotonic=%.3f frequency=%.3f Hz", time.monotonic(), reading.value)
            window.timer.timeout.disconnect(check)
            if then is not None:
                QTimer.singleShot(0, then)

    window.timer.timeout.connect(check)  # after MainWindow.refresh, connected first: the frame is drawn


def _session(window: MainWindow, application: bootstrap.Application, settings: Settings) -> SessionGuard | None:
    """The login at start and the idle lock (with a user database), and the admin screen on F8."""
    from PySide6.QtCore import Qt

    from console.services.users import desktop_user
    from console.ui.login_dialog import SessionGuard, act_as

    users = application.users
    session = None
    if users is not None:
        session = SessionGuard(window, users, desktop_user(settings), settings.console.idle_lock_s,
                               on_user=lambda u: (act_as(u, application.commands, application.chain,
                                                         balancing_commands(application)),
                                                  window.set_alarm_user(u)))
        session.changed.connect(window.layout_menus.user_changed)  # the signed-in role's default layout
    actor = (lambda: session.user) if session is not None else (lambda: None)

    def admin_view() -> QWidget:
        from console.ui.admin_view import AdminView  # with its dialogs, when the screen is first shown

        return AdminView(application.participants, users, actor, None, application.trust)

    window.add_screen("admin", "Admin  (F8)", admin_view, Qt.Key.Key_F8)
    return session


def balancing_commands(application: bootstrap.Application) -> object | None:
    """The emergency panel's command path (the window's own when there is one; else its own, which the
    signed-in user must act through as well)."""
    return application.balancing.commands if application.balancing is not None else None


async def _demo_login(application: bootstrap.Application) -> tuple[str, str]:
    """The demo signs in as its own operator account (a fresh random password each start; docs/security.md)."""
    assert application.users is not None
    return "demo-operator", await application.users.ensure_demo_operator("demo-operator")


def install_setup_menu(window: MainWindow, config: Path | None) -> None:
    """File → Setup wizard…: the first-run wizard again, for this config file (or the user's), from the running
    console; what it writes is used at the next start."""
    from PySide6.QtWidgets import QMenu

    from console.bootstrap_setup import first_run
    from console.services.first_run import user_config_path
    from console.ui.first_run_wizard import open_wizard

    bar = window.menuBar()
    menu = next((m for a in bar.actions() if isinstance(m := a.menu(), QMenu) and m.title().replace("&", "") == "File"),
                None)
    if menu is None:
        menu = QMenu("&File", bar)
        actions = bar.actions()
        if actions:
            bar.insertMenu(actions[0], menu)
        else:
            bar.addMenu(menu)
    target = config if config is not None else user_config_path()
    opened: list[object] = []  # the open wizard, kept: a dialog without a reference is collected while open

    def show() -> None:
        opened[:] = [open_wizard(window, first_run(), target)]

    menu.addAction("Setup wizard…", show)
