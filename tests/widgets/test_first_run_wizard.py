"""The setup wizard driven page by page (offscreen) on the real checks: a real anvil with the suite, the
demo's keystore, a new SQLite file; Finish writes a config that `energynet check-config` passes and an
admin who can sign in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from console import cli
from console.bootstrap_chain import DEMO_PASSWORD, ChainUp, chain_up
from console.bootstrap_security import user_service
from console.bootstrap_setup import first_run
from console.ui.first_run_wizard import FirstRunWizard
from tests.conftest import free_port

pytestmark = [pytest.mark.widgets, pytest.mark.timeout(180)]

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainUp]:
    up = chain_up(free_port(), tmp_path_factory.mktemp("chain"), houses=False)
    try:
        yield up
    finally:
        up.anvil.stop()


def next_page(qtbot, wizard: FirstRunWizard) -> None:  # type: ignore[no-untyped-def]
    before = wizard.currentId()
    qtbot.waitUntil(lambda: wizard.button(QWizard.WizardButton.NextButton).isEnabled(), timeout=30_000)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == before + 1, wizard.currentPage().findChild(object, "setupStatus")


def test_wizard_pages_to_finish_write_the_config_and_the_admin(qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               chain: ChainUp) -> None:
    config, db = tmp_path / "cfg" / "energynet.toml", tmp_path / "data" / "historian.sqlite"
    wizard = FirstRunWizard(first_run(), config)
    qtbot.addWidget(wizard)
    wizard.show()
    assert wizard.location.path.text() == str(config) and wizard.location.world.isChecked()
    next_page(qtbot, wizard)

    page = wizard.database_page  # (b): Next waits for a passed test of what is typed
    page.file.setText(str(db))
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    page.postgresql.setChecked(True)
    page.url.setText(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    qtbot.mouseClick(page.test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.status.property("state") == "alert", timeout=30_000)
    assert "Connection refused" in page.status.text() and "'nothing'" in page.status.text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    page.sqlite.setChecked(True)
    qtbot.mouseClick(page.test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.probe is not None, timeout=30_000)
    assert "empty; created at migration" in page.status.text() and not db.exists()
    next_page(qtbot, wizard)

    page = wizard.chain_page  # (c)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # "no chain" is a complete answer
    page.on.setChecked(True)
    page.rpc.setText(chain.anvil.url)
    page.deployment.setText(str(chain.deployment_path))
    page.keystore.setText(str(chain.keystore))
    page.password.setText("wrong password")
    qtbot.mouseClick(page.test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.status.property("state") == "alert", timeout=30_000)
    assert "wrong password" in page.status.text()
    page.password.setText(DEMO_PASSWORD)
    qtbot.mouseClick(page.test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.choice is not None, timeout=30_000)
    assert "chain id 31337" in page.status.text() and "decrypts" in page.status.text()
    next_page(qtbot, wizard)

    page = wizard.admin_page  # (d): the users service's rules, live
    page.name.setText("chief")
    page.password.setText("short")
    assert "at least 12 characters (got 5)" in page.status.text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    page.password.setText(PASSWORD)
    page.again.setText(PASSWORD)
    next_page(qtbot, wizard)

    summary = dict(wizard.service.summary(wizard.choices()))  # (e)
    assert summary["Admin account"] == "chief" and summary["Chain RPC"] == chain.anvil.url
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    with qtbot.waitSignal(wizard.accepted, timeout=60_000):
        qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    assert wizard.finished_with is not None and wizard.finished_with.config_path == config
    assert cli.main(["--log-level", "error", "check-config", str(config)]) == 0
    assert f'keystore = "{chain.keystore}"' in config.read_text()

    async def role() -> str:
        with user_service(f"sqlite:///{db}") as users:
            return (await users.authenticate("chief", PASSWORD, "cli")).role.value

    assert asyncio.run(role()) == "admin"


def test_an_existing_config_is_replaced_only_when_ticked(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "energynet.toml"
    config.write_text("# mine\n")
    wizard = FirstRunWizard(first_run(), config)
    qtbot.addWidget(wizard)
    wizard.show()
    assert wizard.location.replace.isVisible()
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)
    assert wizard.currentPage() is wizard.location
    assert "exists: tick 'Replace the existing file on Finish'" in wizard.location.status.text()
    wizard.location.replace.setChecked(True)
    next_page(qtbot, wizard)
    assert wizard.overwrite and config.read_text() == "# mine\n"


def test_the_console_menu_opens_the_wizard_for_its_config(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMainWindow

    from console.app import install_setup_menu

    window = QMainWindow()
    qtbot.addWidget(window)
    window.menuBar().addMenu("&Help")
    install_setup_menu(window, tmp_path / "site.toml")  # type: ignore[arg-type]  # any QMainWindow will do
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Help"]  # File first, as menus go
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Setup wizard…")
    action.trigger()
    wizard = window.findChild(FirstRunWizard)
    assert wizard is not None and wizard.isVisible() and wizard.config_path == tmp_path / "site.toml"
    wizard.reject()
