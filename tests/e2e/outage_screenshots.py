"""Screenshots of an OPC-UA outage and of a Modbus outage (grid tab and field-devices tab, light theme,
1366 x 768) against the simulated community (``energynet sim world`` in a process of its own), for looking at:

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.e2e.outage_screenshots OUT_DIR

The console reaches the World's two servers through two TCP relays of this script; closing a relay (and
every connection through it) is an outage of that protocol alone, the World running on.
Shots: ``grid-opcua-outage``, ``devices-opcua-outage``, ``grid-opcua-back`` (the gap after it came back),
``grid-modbus-outage``, ``devices-modbus-down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.desktop_screenshots import HEIGHT, WIDTH, main


class Relay:
    """A TCP relay from a port of its own to ``target``; ``stop`` closes it and every connection through it."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def shoot(out: Path, scale: str) -> None:
    from console.bootstrap import build, build_production
    from console.bootstrap_demo import DEMO_CONFIG, free_port
    from console.config import load
    from console.ui.main_window import MainWindow

    opcua, modbus = free_port(), free_port()
    world = subprocess.Popen([sys.executable, "-m", "console", "sim", "world", "--opcua-port", str(opcua),
                              "--modbus-port", str(modbus)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    relays = {"opcua": Relay(free_port(), opcua), "modbus": Relay(free_port(), modbus)}
    try:
        for r in relays.values():
            await r.start()
        settings = load(DEMO_CONFIG)
        settings = dataclasses.replace(
            settings,
            sources=tuple(dataclasses.replace(s, endpoint=f"opc.tcp://127.0.0.1:{relays['opcua'].port}/energynet/world")
                          for s in settings.sources),
            modbus=tuple(dataclasses.replace(d, port=relays["modbus"].port) for d in settings.modbus),
            historian=dataclasses.replace(settings.historian, enabled=True, url=f"sqlite:///{out / 'outage.db'}",
                                          spool=str(out / "spool")))
        application = build(settings)
        window = MainWindow(settings, application.acquisition, application.monitor, application.historian,
                            application.commands, None, None, application.alarms, application.market,
                            build_production(settings), dr=application.dr, achievements=application.achievements)
        window.resize(WIDTH, HEIGHT)
        window.show()
        window.layout_menus.set_theme("light")
        await application.start()

        async def frames(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:  # the qasync loop runs Qt's events meanwhile
                await asyncio.sleep(0.25)

        def tab(prefix: str) -> None:
            for i in range(window.tabs.count()):
                if window.tabs.tabText(i).lower().startswith(prefix):
                    window.tabs.setCurrentIndex(i)

        async def grab(prefix: str, name: str) -> None:
            tab(prefix)
            await frames(2.0)
            window.layout_menus.message.setText("")
            window.grab().save(str(out / f"{name}.png"))
            print("saved", name, flush=True)

        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                frequency = application.acquisition.snapshot().frequency
                if frequency is not None and frequency.quality.usable:
                    break
                await frames(0.5)
            tab("grid")
            await frames(25)  # trends with some history
            await relays["opcua"].stop()
            await frames(12)  # the session notices, the stale-data alarm's 5 s pass
            await grab("grid", "grid-opcua-outage")
            await grab("field", "devices-opcua-outage")
            await relays["opcua"].start()
            tab("grid")
            await frames(15)
            await grab("grid", "grid-opcua-back")
            await relays["modbus"].stop()
            await frames(15)
            await grab("grid", "grid-modbus-outage")
            await grab("field", "devices-modbus-down")
        finally:
            window.timer.stop()
            await application.stop()
    finally:
        for r in relays.values():
            await r.stop()
        world.terminate()
        world.wait(20)


if __name__ == "__main__":
    import tests.e2e.desktop_screenshots as desktop

    desktop.shoot = shoot  # the same Qt set-up (settings folder of its own, qasync loop), these shots
    main()
