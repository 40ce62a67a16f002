"""The smoke test's own checks (fast): which log lines fail a bundle, when a screenshot counts as blank,
and how the frozen entry takes the interpreter forms the demo starts its helpers with."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from installer import entry, smoke

pytestmark = pytest.mark.unit


def test_tracebacks_and_error_records_fail_but_warnings_and_the_missing_chain_do_not() -> None:
    log = "\n".join([
        "2026-12-01 10:00:00,000 INFO energynet: grid simulator on 127.0.0.1:4840 (pid 12)",
        "2026-12-01 10:00:01,000 ERROR energynet: demo chain not started (anvil not found); the console runs",
        "Traceback (most recent call last):",
        "2026-12-01 10:00:02,000 ERROR console.app: could not write the screenshot to out.png",
        "2026-12-01 10:00:03,000 WARNING pymodbus.logging: ERROR: received pdu without a corresponding request",
        "2026-12-01 10:00:04,000 CRITICAL energynet: the loop died",
        "ERROR: a line from a library that logs without our format",
    ])
    assert smoke.log_problems(log) == [
        "Traceback (most recent call last):",
        "2026-12-01 10:00:02,000 ERROR console.app: could not write the screenshot to out.png",
        "2026-12-01 10:00:04,000 CRITICAL energynet: the loop died",
        "ERROR: a line from a library that logs without our format",
    ]


def test_blank_screenshot_has_no_spread_and_a_half_black_half_white_one_has_127_5(tmp_path: Path) -> None:
    blank = QImage(400, 200, QImage.Format.Format_RGB32)
    blank.fill(QColor(200, 200, 200))
    blank.save(str(tmp_path / "blank.png"))
    assert smoke.image_spread(tmp_path / "blank.png") == (400, 200, 0.0, 1)

    # Left half black (grey 0), right half white (grey 255): mean 127.5, every sample 127.5 away from it.
    halves = QImage(400, 200, QImage.Format.Format_RGB32)
    halves.fill(QColor(255, 255, 255))
    for y in range(200):
        for x in range(200):
            halves.setPixelColor(x, y, QColor(0, 0, 0))
    halves.save(str(tmp_path / "halves.png"))
    w, h, stddev, colours = smoke.image_spread(tmp_path / "halves.png")
    assert (w, h, colours) == (400, 200, 2)
    assert stddev == pytest.approx(127.5)

    assert smoke.image_spread(tmp_path / "missing.png") == (0, 0, 0.0, 0)


def test_the_frozen_entry_takes_the_interpreter_forms_other_code_uses_to_start_helpers() -> None:
    exe = "/opt/energynet/energynet"
    assert entry.interpreter_form([exe, "demo", "--quit-after", "5"]) == ("main", ["demo", "--quit-after", "5"])
    assert entry.interpreter_form([exe, "-m", "console", "--log-level", "warning", "sim", "grid"]) == (
        "main", ["--log-level", "warning", "sim", "grid"])
    assert entry.interpreter_form([exe, "-I", "-S", "-c", "print(1)"]) == ("code", ["print(1)"])
    assert entry.interpreter_form([exe, "-c", "print(1)", "x"]) == ("code", ["print(1)", "x"])
    # A flag not followed by -m console / -c is an ordinary (wrong) CLI argument: main reports it.
    assert entry.interpreter_form([exe, "-S", "demo"]) == ("main", ["-S", "demo"])
    assert entry.interpreter_form([exe, "-c"]) == ("main", ["-c"])
