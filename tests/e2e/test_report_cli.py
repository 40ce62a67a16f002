"""``energynet report`` end to end: samples written through the SQL historian's normal record path, the
report read back from the files it writes (CSV figures, XLSX charts, PDF pages)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest

from console.cli import main
from console.store.historian import SqlHistorian
from core.points import Quality, Sample

PROFILE = Path(__file__).resolve().parents[2] / "drivers" / "profiles" / "eastron_sdm630.toml"
T0 = 1_764_547_200.0  # 2025-12-01 00:00 UTC
FROM, TO = "2025-12-01T00:00:00Z", "2025-12-01T03:00:00Z"


def _config(tmp: Path, db: Path) -> Path:
    cfg = tmp / "sunny-hill.toml"
    cfg.write_text(f"""
[historian]
url = "sqlite:///{db}"

[[sources]]
name = "grid"
protocol = "opcua"
endpoint = "opc.tcp://127.0.0.1:1/none"

  [[sources.points]]
  id = "grid.frequency"
  node = "ns=2;s=F"
  unit = "Hz"
  kind = "frequency"
  nominal = 50.0

  [[sources.points]]
  id = "grid.v1"
  node = "ns=2;s=V1"
  unit = "V"
  kind = "voltage"
  nominal = 230.0
  bus = "Feeder 1"

[[modbus]]
name = "house-01"
participant = "house-01"
asset = "meter"
host = "127.0.0.1"
port = 1
device_id = 1
profile = "{PROFILE}"

[[modbus]]
name = "house-01-pv"
participant = "house-01"
asset = "pv"
host = "127.0.0.1"
port = 1
device_id = 101
profile = "sunspec"
""")
    return cfg


def _sample(point: str, value: float, ts: float, unit: str) -> Sample:
    return Sample(point, value, unit, Quality.GOOD, ts, ts)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours, 00:00–03:00 UTC:
    - frequency every second, 50.0 Hz but 49.7 Hz from 01:00 for 18 min (1080 s = 10 % of 10800 s);
    - bus voltage every 10 s at 230 V, 258 V (+12 %) in the window 02:00–02:10: 1 of 18 windows outside,
      17/18 = 94.4 % < 95 % → not compliant;
    - PV 2 kW and meter 0 W every minute: 6 kWh generated and used at home.
    """
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "historian.sqlite"
    cfg = _config(tmp, db)
    h = SqlHistorian(f"sqlite:///{db}", tmp / "spool", batch_rows=20_000)
    h.start()
    hz = [_sample("grid.frequency", 49.7 if 3600 <= s < 3600 + 1080 else 50.0, T0 + s, "Hz") for s in range(10800)]
    volts = [_sample("grid.v1", 258.0 if 7200 <= s < 7800 else 230.0, T0 + s, "V") for s in range(0, 10800, 10)]
    pv = "house-01-pv.inverter_three_phase.W"  # a SunSpec model 103 inverter's power
    power = [x for s in range(0, 10801, 60)
             for x in (_sample(pv, 2000.0, T0 + s, "W"), _sample("house-01.power", 0.0, T0 + s, "W"))]
    for chunk in (hz, volts, power):
        h.record(chunk)
    h.stop()  # writes everything queued
    return cfg


def _run(*args: str) -> int:
    try:
        return main(["--log-level", "warning", "report", *args])
    except SystemExit as exc:  # argparse's own usage errors
        return int(exc.code or 0)


def _tables(path: Path) -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if row and row[0].startswith("# ") and len(row) == 1:
                current = tables.setdefault(row[0][2:], [])
            elif row and current is not None:
                current.append(row)
    return tables


def test_csv_figures_match_the_dataset(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    assert _run("all", "--from", FROM, "--to", TO, "--format", "csv", "--out", str(out), "--config", str(site),
                "--import-tariff", "0.30", "--emission-factor", "400") == 0
    t = _tables(out)
    bands = {r[0]: r for r in t["Grid stability: Time in frequency bands (ENTSO-E)"][1:]}
    assert float(bands["alert"][3]) == pytest.approx(10.0)  # 1080 s of 10800 s
    assert float(bands["alert"][2]) == pytest.approx(0.3)  # hours
    events = t["Grid stability: Frequency events (deviation > 0.1 Hz; ends 10 s after it is back within 0.05 Hz)"][1:]
    assert len(events) == 1 and float(events[0][2]) == pytest.approx(49.7)
    bus = t["Grid stability: EN 50160 voltage: 10-minute means within ±10 % of nominal"][1]
    assert bus[0] == "Feeder 1" and bus[2:5] == ["18", "0", repr(100 * 17 / 18)] and bus[7] == "no"
    energy = {r[0]: r for r in t["Production and consumption: Energy per participant (kWh)"][1:]}
    assert float(energy["house-01"][1]) == pytest.approx(6.0)  # PV 2 kW × 3 h
    assert float(energy["house-01"][3]) == pytest.approx(6.0)  # consumption: all of it at home
    saved = {r[0]: r for r in t["Energy savings: Savings against the grid tariff (EUR)"][1:]}
    assert float(saved["house-01"][3]) == pytest.approx(1.80)  # 6 kWh × 0.30
    carbon = {r[0]: r for r in t["Carbon avoided: Carbon avoided"][1:]}
    assert float(carbon["CO2e avoided kg"][1]) == pytest.approx(2.4)  # 6 kWh × 400 g
    eff = {r[0]: r for r in t["Efficiency: Efficiency (%)"][1:]}
    assert float(eff["house-01"][2]) == pytest.approx(100.0)


def test_xlsx_has_tables_and_native_charts(site: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "all.xlsx"
    assert _run("all", "--from", FROM, "--to", TO, "--out", str(out), "--config", str(site)) == 0
    wb = load_workbook(out)
    assert wb.sheetnames == ["Summary", "Grid stability", "Production and consumption", "Energy savings",
                             "Carbon avoided", "Efficiency"]
    assert "2025-12-01 00:00 – 2025-12-01 03:00 UTC" in [c.value for c in wb["Summary"]["B"]]
    ws = wb["Grid stability"]
    assert len(ws._charts) == 2  # frequency envelope, bus voltages
    assert len(wb["Production and consumption"]._charts) == 2
    assert all(len(wb[s]._charts) == 1 for s in ("Energy savings", "Carbon avoided", "Efficiency"))
    cells = {c.value: c for row in ws.iter_rows() for c in row if c.value is not None}
    alert = cells["alert"]
    assert ws.cell(alert.row, alert.column + 3).value == pytest.approx(10.0)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_pdf_renders_to_pages(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.pdf"
    assert _run("all", "--from", FROM, "--to", TO, "--out", str(out), "--config", str(site), "--site",
                "Sunny Hill") == 0
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(out), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 6  # the title page and one page per section
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Sunny Hill" in text and "2025-12-01 00:00 – 2025-12-01 03:00 UTC" in text
    assert "page 1 of" not in text  # the title page has no number
    assert "page 2 of 6" in text and "page 6 of 6" in text


def test_bad_arguments_exit_2_and_an_empty_period_exits_1(site: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "r.pdf")
    assert _run("losses", "--from", FROM, "--to", TO, "--out", out, "--config", str(site)) == 2
    assert "invalid choice: 'losses'" in capsys.readouterr().err
    assert _run("all", "--from", TO, "--to", FROM, "--out", out, "--config", str(site)) == 2
    assert "--to (2025-12-01T00:00:00Z) must be after --from" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "r.pdf"
    assert _run("all", "--from", FROM, "--to", TO, "--out", str(missing), "--config", str(site)) == 2
    assert f"cannot write --out {missing}: its folder" in capsys.readouterr().err
    assert _run("all", "--from", FROM, "--to", TO, "--out", str(tmp_path / "r.doc"), "--config", str(site)) == 2
    assert "give --format pdf, xlsx or csv" in capsys.readouterr().err
    assert _run("stability", "--from", "2025-11-01T00:00:00Z", "--to", "2025-11-02T00:00:00Z", "--out", out,
                "--config", str(site)) == 1
    assert "no data in period" in capsys.readouterr().err
    assert not Path(out).exists()


def test_python_m_console_report_in_a_subprocess(site: Path, tmp_path: Path) -> None:
    # The report runs in a spawned process: from `python -m console` it must not run the CLI a second time.
    import sys

    out = tmp_path / "r.csv"
    done = subprocess.run([sys.executable, "-m", "console", "report", "stability", "--from", FROM, "--to", TO,
                           "--out", str(out), "--config", str(site)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("energynet report: wrote") == 1
    assert "alert" in out.read_text(encoding="utf-8")
