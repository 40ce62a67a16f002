"""The login dialog against the real user service on SQLite: a wrong password, throttled, then signed in."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from console.bootstrap_security import user_service
from console.ui.login_dialog import LoginDialog
from core.access import Role, User
from tests.conftest import until
from tests.e2e.test_alarms_view import run

pytestmark = pytest.mark.e2e
SCREENSHOT = os.environ.get("ENERGYNET_SCREENSHOT_DIR")


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_630_000.0

    def __call__(self) -> float:
        return self.now


def test_sign_in_after_a_wrong_password_and_the_throttle(qapp: Any, qtbot: Any, tmp_path: Path) -> None:
    clock = Clock()

    async def scenario() -> None:
        with user_service(f"sqlite:///{tmp_path / 'h.sqlite'}") as users:
            users.clock = clock
            await users.create_admin("root", "correct horse battery")
            window = QWidget()  # the console's window behind it: closing the dialog must not end the app
            qtbot.addWidget(window)
            window.show()
            dialog = LoginDialog(users.authenticate, parent=window)
            got: list[User] = []
            dialog.signed_in.connect(got.append)
            dialog.open()
            QTest.keyClicks(dialog.name, "root")
            QTest.keyClicks(dialog.password, "wrong password")
            QTest.mouseClick(dialog.sign_in, Qt.MouseButton.LeftButton)
            await until(lambda: dialog.message.text() == "wrong user name or password")
            assert dialog.password.text() == "" and dialog.sign_in.isEnabled()
            QTest.keyClicks(dialog.password, "correct horse battery")
            QTest.mouseClick(dialog.sign_in, Qt.MouseButton.LeftButton)
            await until(lambda: dialog.message.text() != "checking…")
            assert dialog.message.text() == "too many failed logins for root: try again in 1 s"
            if SCREENSHOT:
                dialog.grab().save(str(Path(SCREENSHOT) / "login-dialog.png"))
            clock.now += 1.0
            QTest.keyClicks(dialog.password, "correct horse battery")
            QTest.mouseClick(dialog.sign_in, Qt.MouseButton.LeftButton)
            await until(lambda: bool(got))
            assert got == [User("root", Role.ADMIN)] and not dialog.isVisible()
            await asyncio.sleep(0)

    run(qapp, scenario())
