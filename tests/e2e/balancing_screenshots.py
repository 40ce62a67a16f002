"""Screenshots of the balancing panel (grid-connected) and the emergency panel (islanded, one stage shed by
the operator) against the World in a process of its own, for looking at:

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.e2e.balancing_screenshots docs/screenshots
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

from tests.e2e.test_alarms_view import run
from tests.e2e.test_emergency_panel import islanded_console
from widgets import theme


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    app.setStyleSheet(theme.style_sheet(theme.DARK))  # as the console styles itself (without it: unstyled chrome)
    with tempfile.TemporaryDirectory() as tmp:
        figures: dict[str, float] = {}

        async def go() -> None:
            figures.update(await islanded_console(Path(tmp), None, shots=out))

        run(app, go())
    print(f"emergency panel {figures['panel_after_sample_s'] * 1000:.0f} ms after the island sample")
    print(f"saved {out / 'balancing-normal.png'} and {out / 'emergency-islanded.png'}")


if __name__ == "__main__":
    main()
