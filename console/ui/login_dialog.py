"""The login dialog: user name and password, checked by the user service off the event loop.

The dialog knows nothing of hashing or throttling: it shows what :class:`UserService.authenticate` answers
(wrong name or password, try again in N s, locked), and emits ``signed_in`` with the user on success.
Opened with ``open()`` (window-modal), never ``exec()``: a nested event loop inside qasync's would run
asyncio callbacks re-entrantly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from console.services.users import LoginRefused, UserService
from core.access import User

Authenticate = Callable[[str, str], Awaitable[User]]


class LoginDialog(QDialog):
    signed_in = Signal(object)  # the User

    def __init__(self, authenticate: Authenticate, title: str = "EnergyNet Console",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.authenticate = authenticate
        self.setWindowTitle(f"{title}: sign in")
        self.setMinimumWidth(380)
        self.name = QLineEdit()
        self.name.setObjectName("login-name")
        self.password = QLineEdit()
        self.password.setObjectName("login-password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = QLabel("")
        self.message.setObjectName("login-message")
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("User", self.name)
        form.addRow("Password", self.password)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.sign_in = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_in.setText("Sign in")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.task: asyncio.Task[None] | None = None

    def submit(self) -> None:
        """Check the credentials in the background; the button is off meanwhile (one attempt at a time)."""
        if self.task is not None and not self.task.done():
            return
        name, password = self.name.text().strip(), self.password.text()
        if not name or not password:
            self.message.setText("enter your user name and password")
            return
        self.sign_in.setEnabled(False)
        self.message.setText("checking…")
        self.task = asyncio.get_running_loop().create_task(self._check(name, password))

    async def _check(self, name: str, password: str) -> None:
        try:
            user = await self.authenticate(name, password)
        except LoginRefused as exc:
            self.message.setText(str(exc))
            self.password.clear()
            self.password.setFocus()
            return
        except Exception as exc:  # the dialog must end with a message, whatever failed (a database down)
            self.message.setText(f"sign-in not possible now: {type(exc).__name__}: {exc}")
            return
        finally:
            self.sign_in.setEnabled(True)
        self.message.setText(f"signed in as {user.name} ({user.role.value})")
        self.signed_in.emit(user)
        self.accept()


class SessionGuard(QObject):
    """Who is signed in at this window, the login at start and the idle lock.

    With users in the database the window opens locked (its tabs disabled, live data still shown) and the
    login dialog asks; after ``idle_lock_s`` without keyboard or mouse input it locks again and the dialog
    asks again (the same or another user; every attempt audited by the user service). Ctrl+L locks at once.
    ``on_user`` is told each signed-in user (the composition root hands it to the services as their actor).
    Without users the window acts as ``fallback`` (an operator; see docs/security.md).
    """

    changed = Signal(object)  # the User now acting, or None while locked

    def __init__(self, window: QMainWindow, users: UserService, fallback: User, idle_lock_s: float,
                 on_user: Callable[[User], None] = lambda u: None, clock: Callable[[], float] = time.monotonic,
                 check_every_ms: int = 5000) -> None:
        super().__init__(window)
        self.window, self.users, self.fallback = window, users, fallback
        self.idle_lock_s, self.on_user, self.clock = idle_lock_s, on_user, clock
        self.user: User | None = None
        self.required = False
        self.dialog: LoginDialog | None = None
        self.last_input = clock()
        self.label = QLabel("")
        self.label.setObjectName("session-user")
        window.statusBar().addPermanentWidget(self.label)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.timer = QTimer(self)
        self.timer.setInterval(check_every_ms)
        self.timer.timeout.connect(self.check_idle)
        QShortcut(QKeySequence("Ctrl+L"), window, self.lock)

    async def begin(self, auto: tuple[str, str] | None = None) -> None:
        """Ask for a login when users exist (else act as the fallback user). ``auto``: the demo's account,
        signed in without the dialog."""
        self.required = await self.users.has_users() or auto is not None
        if not self.required:
            self._signed_in(self.fallback, note=" — no console users: create an admin (energynet users create-admin)")
            return
        if auto is not None:
            self._signed_in(await self.users.authenticate(*auto), note=" (demo account, signed in automatically)")
            self.timer.start()
            return
        self.lock()
        self.timer.start()

    def lock(self) -> None:
        """Lock the window and ask who is there."""
        if not self.required:
            return
        previous = self.user
        self.user = None
        self._content(False)
        self._show("LOCKED — sign in (Ctrl+L)")
        self.changed.emit(None)
        if self.dialog is not None and self.dialog.isVisible():
            return
        self.dialog = LoginDialog(self._authenticate, parent=self.window)
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.message.setText("sign in to operate; the screens keep updating behind this dialog")
        if previous is not None:
            self.dialog.name.setText(previous.name)
            self.dialog.password.setFocus()
            self.dialog.message.setText(f"locked after {self.idle_lock_s / 60:.0f} min without input; sign in again")
        self.dialog.signed_in.connect(self._signed_in)
        self.dialog.open()

    def check_idle(self) -> None:
        if self.user is not None and self.required and self.clock() - self.last_input >= self.idle_lock_s:
            self.lock()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT:
            self.last_input = self.clock()
        return False

    async def _authenticate(self, name: str, password: str) -> User:
        return await self.users.authenticate(name, password)

    def _signed_in(self, user: User, note: str = "") -> None:
        self.user = user
        self.last_input = self.clock()
        self._content(True)
        self._show(f"{user.name} ({user.role.value}){note}")
        self.on_user(user)
        self.changed.emit(user)

    def _show(self, text: str) -> None:
        self.label.setText(text)
        self.label.setMinimumWidth(self.label.sizeHint().width())  # the status bar does not grow it by itself

    def _content(self, enabled: bool) -> None:
        central = self.window.centralWidget()
        if central is not None:
            central.setEnabled(enabled)


_INPUT = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel}


def act_as(user: User, *services: object, alarms_view: object | None = None) -> None:
    """Make ``user`` the acting user of the window's services (command, chain: their ``actor``) and of the
    alarm screen, so every command the window sends is checked and audited as theirs."""
    for service in services:
        if service is not None and hasattr(service, "actor"):
            setattr(service, "actor", user)  # noqa: B010 (services of several types)
            setattr(service, "user", user.name)  # noqa: B010
    if alarms_view is not None and hasattr(alarms_view, "_user"):
        # AlarmService checks a User's role when it is given one (a bare name counts as an operator).
        setattr(alarms_view, "_user", lambda: user)  # noqa: B010
