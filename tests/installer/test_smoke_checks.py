"""The smoke test's own checks (fast): which log lines fail a bundle, when a screenshot counts as blank,
and how the frozen entry takes the interpreter forms the demo starts its helpers with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from installer import entry, smoke

pytestmark = pytest.mark.unit


def test_tracebacks_error_records_and_the_missing_chain_fail_but_warnings_do_not() -> None:
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
        # No chain: no settlement, participant API or trader fleet in the demo, so no longer excused.
        "2026-12-01 10:00:01,000 ERROR energynet: demo chain not started (anvil not found); the console runs",
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


def test_watch_reads_the_chain_folder_the_api_and_the_participants_count_from_the_demo_log() -> None:
    w = smoke.DemoWatch()
    log = "\n".join([
        "2026-12-03 06:25:34,704 INFO console.bootstrap_demo: demo chain on http://127.0.0.1:27941, contracts in "
        "/tmp/energynet-demo-mz8cv4am/31337.json",
        "2026-12-03 06:25:40,000 INFO console.api.participants: participants file /tmp/energynet-demo-mz8cv4am/"
        "api-participants.toml read again: 0 participants",
    ])
    smoke.watch_demo(w, log, os.getpid(), Path(sys.executable))
    assert w.chain_dir == Path("/tmp/energynet-demo-mz8cv4am")
    assert w.api_url is None and w.api_participants is None  # an empty file is not the fleet's
    log += ("\n2026-12-03 06:25:41,000 INFO console.api.participants: participants file /tmp/x/api-participants.toml"
            " read again: 44 participants")
    smoke.watch_demo(w, log, os.getpid(), Path(sys.executable))
    assert w.api_participants == 44
    assert not w.done


def test_children_finds_a_child_process_with_its_executable_and_argv() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        found = [c for c in smoke.children(os.getpid()) if c[0] == child.pid]
        assert len(found) == 1
        _, exe, argv = found[0]
        assert argv == ["sleep", "30"]
        assert exe is not None and exe.name in ("sleep", "coreutils")
    finally:
        child.kill()
        child.wait()


def test_the_smoke_tests_household_token_is_the_one_the_fleet_sends(tmp_path: Path) -> None:
    from eth_account import Account

    from drivers.sim.traders.households import load

    key = bytes(range(1, 33))
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "h1.json").write_text(json.dumps(Account.encrypt(key, "pw", kdf="scrypt", iterations=2)))
    doc = {"format": "energynet.participants/1", "keystores": {"demo_password": "pw"},
           "participants": [{"id": "meterless"}, {"id": "h1", "wallet": Account.from_key(key).address,
                                                   "keystore": "keys/h1.json"}]}
    (tmp_path / "participants.json").write_text(json.dumps(doc))
    tokens = smoke.household_tokens(tmp_path / "participants.json")
    assert tokens == [("h1", load(tmp_path / "participants.json")[0].api_token)]
    assert len(tokens[0][1]) == 64  # keccak-256, hex


def test_the_grid_counts_as_live_once_the_apis_timestamp_has_advanced_3_s(tmp_path: Path) -> None:
    import http.server
    import threading

    from console.net_ports import free_port

    answers = iter([{"ts": None, "frequency_hz": None, "band": None, "voltages_pct": {}},  # before the first values
                    {"ts": 100.0, "frequency_hz": 50.01, "band": "normal", "voltages_pct": {}},
                    {"ts": 102.5, "frequency_hz": 50.02, "band": "normal", "voltages_pct": {}},  # 2.5 s: not yet
                    {"ts": 103.0, "frequency_hz": 49.99, "band": "normal", "voltages_pct": {}}])  # 3.0 s: live

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"chainId": 31337} if self.path == "/api/v1/domain" else next(answers)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        w = smoke.DemoWatch()
        log = f"2026-12-03 06:35:59,052 INFO console.app: demo: participant API on http://127.0.0.1:{port}\n"
        seen = []
        for _ in range(4):
            smoke.watch_demo(w, log, os.getpid(), Path(sys.executable))
            seen.append((w.grid_first and w.grid_first["ts"], w.grid and w.grid["ts"]))
        assert w.domain == {"chainId": 31337}
        assert seen == [(None, None), (100.0, None), (100.0, None), (100.0, 103.0)]
    finally:
        server.shutdown()
        server.server_close()
