"""The ``energynet`` command as the end-to-end tests run it, and a vendor OPC-UA layout mapped only through the
config (the plant the tests' foreign server publishes, tests/support/opcua_server.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def energynet(*args: str, timeout: float = 90, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    if data_dir is not None:
        env["XDG_DATA_HOME"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def plant_config(endpoint: str, extra: str = "") -> str:
    """A vendor layout unlike the simulator's, mapped only through the config."""
    return f"""
[[sources]]
name = "plant7"
endpoint = "{endpoint}"
  [[sources.points]]
  id = "plant7.frequency"
  node = "ns=3;i=1001"       # published in mHz
  unit = "Hz"
  kind = "frequency"
  scale = 0.001
  [[sources.points]]
  id = "plant7.bay_a.voltage"
  browse_path = ["3:Plant7", "3:Bay_A", "3:U_kV"]   # published in kV
  unit = "V"
  kind = "voltage"
  nominal = 20000
  scale = 1000
  [[sources.points]]
  id = "plant7.bay_a.power"
  node = "ns=3;i=1102"       # published in kW
  unit = "W"
  scale = 1000
  [[sources.points]]
  id = "plant7.breaker"
  node = "ns=3;s=Bay_A.Breaker"
  unit = "1"
{extra}"""
