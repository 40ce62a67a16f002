"""The real window on a real X server (Xvfb): it opens, keys typed on the X server switch its tabs, and the
screen shows it. Skipped with the reason where Xvfb or xdotool is missing (Debian: xvfb, xdotool)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

GRAB = ("import sys\nfrom PySide6.QtGui import QGuiApplication\napp = QGuiApplication([])\n"
        "sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)\n")


@pytest.fixture
def xserver(tmp_path: Path) -> Iterator[str]:
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian package {tool.lower()}); the real-window test needs it")
    display = next(f":{n}" for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    probe = subprocess.run([sys.executable, "-c", "from PySide6.QtGui import QGuiApplication; QGuiApplication([])"],
                           env={**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        proc.terminate()
        pytest.skip("Qt's xcb platform plugin does not load (Debian: libxcb-cursor0, libxcb-icccm4, "
                    f"libxcb-keysyms1, libxkbcommon-x11-0): {probe.stderr.strip()[-300:]}")
    yield display
    proc.terminate()
    proc.wait(10)


def grab(display: str, path: Path) -> np.ndarray:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    subprocess.run([sys.executable, "-c", GRAB, str(path)], env=env, check=True, timeout=30)
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, :img.width() * 3].copy()  # a copy: the buffer dies with the QImage


def changed(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.any(a.reshape(a.shape[0], -1, 3) != b.reshape(b.shape[0], -1, 3), axis=2)))


def test_real_window_opens_and_switches_tabs_by_keys(xserver: str, tmp_path: Path) -> None:
    """``energynet demo`` as a user starts it (simulators, chain and console), on the X server."""
    env = {**os.environ, "DISPLAY": xserver, "QT_QPA_PLATFORM": "xcb", "XDG_DATA_HOME": str(tmp_path / "data")}
    xdo = {**os.environ, "DISPLAY": xserver}
    ports = [str(free_port()) for _ in range(3)]
    console = subprocess.Popen([sys.executable, "-m", "console", "demo", "--port", ports[0], "--modbus-port", ports[1],
                                "--chain-port", ports[2], "--quit-after", "100"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert console.stdout is not None
    stdout = console.stdout
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True)
    reader.start()
    try:
        # The chain tab exists once the demo chain is deployed (1-3 s on a quiet machine, more under load).
        deadline = time.monotonic() + 120
        while not any("demo chain on" in line for line in lines):
            assert not any("demo chain not started" in line for line in lines), "".join(lines)[-3000:]
            assert console.poll() is None and time.monotonic() < deadline, "".join(lines)[-3000:]
            time.sleep(0.2)
        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "EnergyNet"],
                               env=xdo, capture_output=True, text=True, timeout=60)
        window = found.stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=xdo, check=True, timeout=10)
        time.sleep(3)  # first live frames drawn
        shots = {"grid": grab(xserver, tmp_path / "f1.png")}
        for key, name in (("F2", "devices"), ("F3", "chain"), ("F5", "alarms"), ("F1", "grid again")):
            subprocess.run(["xdotool", "key", key], env=xdo, check=True, timeout=10)
            time.sleep(1.0)
            shots[name] = grab(xserver, tmp_path / f"{name.replace(' ', '_')}.png")
        frame = shots["grid"]
        assert frame.std() > 10, "the screen is blank: no window was drawn"
        assert changed(shots["grid"], shots["devices"]) > 0.2, "F2 did not switch to the devices tab"
        assert changed(shots["devices"], shots["chain"]) > 0.2, "F3 did not switch to the chain tab"
        assert changed(shots["chain"], shots["alarms"]) > 0.2, "F5 did not switch to the alarm summary"
        # Back on F1 only live values (readouts, trend ends) differ from the first grid screenshot.
        assert changed(shots["grid"], shots["grid again"]) < changed(shots["grid"], shots["devices"]) / 2
        console.send_signal(signal.SIGTERM)
        console.wait(60)
        reader.join(10)
        out = "".join(lines)
        assert console.returncode == 0, out[-3000:]
        at = out.find("Traceback")
        assert at < 0, out[max(0, at - 600):at + 3000]  # the traceback itself, not the shutdown's last lines
    finally:
        if console.poll() is None:
            console.kill()
            console.wait(10)
