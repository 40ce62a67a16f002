"""Screenshots of every screen in the dark and the light theme, at 1366 x 768 and at 200 % (the same logical
window on a 2732 x 1536 screen: QT_SCALE_FACTOR=2), against the simulated community (``energynet sim world``
in a process of its own, as the demo runs it, without the chain) with the market trading, for looking at:

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.e2e.desktop_screenshots OUT_DIR [--scale 2]

Besides the PNGs it prints every label, button, table header section and table cell whose text is wider than
the widget shows (clipped text, tests/support/clipping.py), screen by screen; an empty list is the goal.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

WIDTH, HEIGHT = 1366, 768


async def wait_listening(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the world's Modbus face did not listen on {port} in {timeout_s:.0f} s") from None
            await asyncio.sleep(0.2)
        else:
            writer.close()
            return


async def shoot(out: Path, scale: str) -> None:
    import qasync  # noqa: F401  (the loop is set by main)

    from console import app as console_app
    from console.bootstrap import build, build_production
    from console.bootstrap_demo import DEMO_CONFIG, free_port
    from console.config import load
    from console.ui.main_window import MainWindow
    from tests.e2e.market_screenshots import place_book
    from tests.support.clipping import clipped
    from widgets import theme

    opcua, modbus = free_port(), free_port()
    world = subprocess.Popen([sys.executable, "-m", "console", "sim", "world", "--opcua-port", str(opcua),
                              "--modbus-port", str(modbus)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        settings = load(DEMO_CONFIG)
        settings = dataclasses.replace(
            settings,
            sources=tuple(dataclasses.replace(s, endpoint=f"opc.tcp://127.0.0.1:{opcua}/energynet/world")
                          for s in settings.sources),
            modbus=tuple(dataclasses.replace(d, port=modbus) for d in settings.modbus),
            historian=dataclasses.replace(settings.historian, enabled=True, url=f"sqlite:///{out / 'shots.db'}",
                                          spool=str(out / "spool")),
            market=dataclasses.replace(settings.market, enabled=True, tick=1, lot=100))
        application = build(settings)
        window = MainWindow(settings, application.acquisition, application.monitor, application.historian,
                            application.commands, None, None, application.alarms, application.market,
                            build_production(settings), dr=application.dr, achievements=application.achievements)
        console_app._session(window, application, settings)  # the admin screen (F8), as `energynet run` has it
        window.resize(WIDTH, HEIGHT)
        window.show()
        # As `energynet demo` does: the Modbus drivers start once the world's Modbus face listens (it opens
        # after the world is built); started before it, each device's first attempt fails and 69 "silent"
        # alarms flood the banner in every shot.
        await wait_listening(modbus, 90)
        await application.start()
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:  # the world answers once its model is built
                frequency = application.acquisition.snapshot().frequency
                if frequency is not None and frequency.quality.usable:
                    break
                await asyncio.sleep(0.5)
            assert application.market is not None
            await place_book(application)
            await asyncio.sleep(5)
            for name in theme.THEMES:
                window.layout_menus.set_theme(name)
                window.layout_menus.message.setText("")
                for i in range(window.tabs.count()):
                    window.tabs.setCurrentIndex(i)
                    key = window.tabs.tabText(i).split("(")[0].strip().lower().replace(" ", "-")
                    # A few frames: the tab's refresh runs while it is shown. Sleeping lets qasync run Qt's
                    # events; a nested processEvents() here re-entered the loop from inside a task ("Cannot
                    # enter into task") and the OPC-UA client's tasks stopped: the world read stale ~40 s in.
                    await asyncio.sleep(2.4)
                    if key == "participants" and window.participants_view is not None:
                        window.participants_view.select("house-02")
                        await asyncio.sleep(0.3)
                    suffix = "200pct" if scale != "1" else f"{WIDTH}x{HEIGHT}"
                    window.grab().save(str(out / f"{name}-{suffix}-{key}.png"))
                    problems = clipped(window)
                    page = window.tabs.currentWidget()
                    if window.size().width() > WIDTH or window.size().height() > HEIGHT:
                        problems.append(f"window grew to {window.size().width()} x {window.size().height()}; "
                                        f"this screen needs at least {page.minimumSizeHint().width()} x "
                                        f"{page.minimumSizeHint().height()}")
                    print(f"{name} {suffix} {key}: {len(problems)} clipped", *problems, sep="\n    ", flush=True)
        finally:
            window.timer.stop()
            await application.stop()
    finally:
        world.terminate()
        world.wait(20)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--scale", default="1", help="QT_SCALE_FACTOR (2 = 200 %%)")
    args = p.parse_args()
    os.environ["QT_SCALE_FACTOR"] = args.scale
    os.environ.setdefault("QT_API", "pyside6")
    import tempfile

    # Never the user's own layouts and theme: a settings folder of this run's own.
    from PySide6.QtCore import QSettings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp(prefix="shots-"))
    import qasync
    from PySide6.QtWidgets import QApplication

    from widgets import theme

    app = QApplication(sys.argv)
    app.setStyleSheet(theme.style_sheet(theme.DARK))
    args.out.mkdir(parents=True, exist_ok=True)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(shoot(args.out, args.scale))


if __name__ == "__main__":
    main()
