"""Screenshots of the setup wizard's pages on the real checks (a new SQLite file, a real anvil with the suite,
the demo keystore), for looking at and for docs/screenshots/:

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.e2e.first_run_screenshots OUT_DIR [light]

With ``light`` the pictures are of the light theme (``light-setup-*.png``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWizard

from console.bootstrap_chain import DEMO_PASSWORD, chain_up
from console.bootstrap_setup import first_run
from console.ui.first_run_wizard import FirstRunWizard
from tests.conftest import free_port
from widgets import theme


def wait(app: QApplication, done: Callable[[], object], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the wizard's check did not answer")
        app.processEvents()
        time.sleep(0.02)
    app.processEvents()


def shoot(out: Path, shown: str = theme.DARK) -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    theme.apply(shown, [])
    prefix = "" if shown == theme.DARK else f"{shown}-"
    work = Path(tempfile.gettempdir()) / "energynet-site"  # a readable path in the pictures
    shutil.rmtree(work, ignore_errors=True)
    up = chain_up(free_port(), work / "deployments", houses=False)
    try:
        wizard = FirstRunWizard(first_run(), Path("/home/operator/.config/energynet/energynet.toml"))
        wizard.resize(820, 560)
        wizard.show()

        def grab(name: str) -> None:
            app.processEvents()
            wizard.grab().save(str(out / f"{prefix}{name}"))

        grab("setup-1-config.png")
        wizard.location.path.setText(str(work / "energynet.toml"))
        wizard.next()
        page = wizard.database_page
        page.file.setText(str(work / "data" / "historian.sqlite"))  # not the tests' temporary data folder
        page.postgresql.setChecked(True)
        page.url.setText(f"postgresql://energynet@127.0.0.1:{free_port()}/energynet")
        page.run_test()
        wait(app, lambda: page.status.property("state") == "alert")
        grab("setup-2-database-error.png")
        page.sqlite.setChecked(True)
        page.file.setText(str(work / "data" / "historian.sqlite"))
        page.run_test()
        wait(app, lambda: page.probe is not None)
        grab("setup-2-database.png")
        wizard.next()
        chain = wizard.chain_page
        chain.on.setChecked(True)
        chain.rpc.setText(up.anvil.url)
        chain.deployment.setText(str(up.deployment_path))
        chain.keystore.setText(str(up.keystore))
        chain.password.setText(DEMO_PASSWORD)
        chain.run_test()
        wait(app, lambda: chain.choice is not None)
        grab("setup-3-chain.png")
        wizard.next()
        admin = wizard.admin_page
        admin.password.setText("correct horse")
        admin.again.setText("correct horsf")
        grab("setup-4-admin-mismatch.png")
        admin.again.setText("correct horse")
        grab("setup-4-admin.png")
        wizard.next()
        grab("setup-5-summary.png")
        wizard.button(QWizard.WizardButton.FinishButton).click()
        wait(app, lambda: wizard.finished_with is not None or wizard.summary_page.status.property("state") == "alert")
        print(wizard.finished_with or wizard.summary_page.status.text())
    finally:
        up.anvil.stop()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    target.mkdir(parents=True, exist_ok=True)
    shoot(target, sys.argv[2] if len(sys.argv) > 2 else theme.DARK)
