"""The admin screen (F8): participants and console users, each a table with its actions in dialogs.

Nothing here decides: every button goes to the participant administration or the user service, which check
the acting user's role (admins only), store, audit and tell the chain; the screen shows what they answer —
a refusal or a problem list in the dialog, the chain transactions' results in the table as they change.
Dialogs open with ``open()`` (window-modal), never ``exec()`` (no nested loop inside qasync's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from console.services.participants_admin import ParticipantsAdmin
from console.services.trust import TrustEntryView, TrustService
from console.services.users import UserRecord, UserService
from core.access import Action, Role, User, may
from core.chain import TxRecord, TxState
from core.participant_registry import (
    ParticipantDraft,
    ParticipantInvalid,
    ParticipantRecord,
    ParticipantType,
    format_meters,
    parse_list,
    parse_meters,
)
from widgets.cells import keep_state_on_selection

Actor = Callable[[], User | None]
PARTICIPANT_COLUMNS = ("id", "name", "type", "bus", "wallet", "meters", "devices", "tariff", "DR", "state",
                       "on chain", "API token")
USER_COLUMNS = ("name", "role", "failed logins", "state")
TRUST_COLUMNS = ("endpoint", "state", "certificate", "SHA-256", "valid until", "decided by")


def chain_text(results: list[tuple[str, TxRecord | None]]) -> tuple[str, bool]:
    """The newest chain commands of a participant in a few words, and whether one failed (shown abnormal)."""
    if not results:
        return "—", False
    records = [rec for _, rec in results]
    if all(rec is not None and rec.state is TxState.CONFIRMED for rec in records):
        return "confirmed " + ", ".join(f"#{rec.block}" for rec in records if rec is not None), False
    parts, failed = [], False
    for rec in records:
        if rec is None:
            parts.append("unknown")
        elif rec.state is TxState.CONFIRMED:
            parts.append(f"confirmed #{rec.block}")
        elif rec.state.done:
            failed = True
            parts.append(f"{rec.state.value}: {rec.error or ''}".rstrip(": "))
        else:
            parts.append(rec.state.value)
    return ", ".join(parts), failed


def _short(address: str) -> str:
    """0x1234…abcd: enough to tell wallets apart at a glance (the tooltip has all of it)."""
    return address[:6] + "…" + address[-4:]


def _ago(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%d %b %H:%M", time.localtime(ts))


def _item(text: str, abnormal: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if abnormal:  # ISA-101: colour only for what is not normal
        item.setForeground(Qt.GlobalColor.darkRed)
    return item


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(list(columns))
    t.verticalHeader().setVisible(False)
    t.setWordWrap(False)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    keep_state_on_selection(t)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


class _AsyncDialog(QDialog):
    """A form whose OK runs a coroutine; a refusal or a problem list stays in the dialog, which stays open."""

    def __init__(self, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.form = QFormLayout()
        self.message = QLabel("")
        self.message.setObjectName("dialog-message")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.action: Callable[[], Awaitable[str]] | None = None
        self.done_text = ""
        self.task: asyncio.Task[None] | None = None
        self.on_done: Callable[[str], None] = lambda text: None

    def submit(self) -> None:
        if self.action is None or (self.task is not None and not self.task.done()):
            return
        self.ok.setEnabled(False)
        self.message.setText("working…")
        self.task = asyncio.get_running_loop().create_task(self._run(self.action))

    async def _run(self, action: Callable[[], Awaitable[str]]) -> None:
        try:
            text = await action()
        except ParticipantInvalid as exc:
            self.message.setText("\n".join(exc.problems))
            return
        except Exception as exc:  # a refusal (PermissionDenied), a conflict, a database down: said, not hidden
            self.message.setText(str(exc) or type(exc).__name__)
            return
        finally:
            self.ok.setEnabled(True)
        self.message.setText(text)
        self.on_done(text)
        self.accept()


class ParticipantDialog(_AsyncDialog):
    """Create or edit a participant."""

    def __init__(self, record: ParticipantRecord | None, tariffs: list[str], parent: QWidget | None) -> None:
        super().__init__("Edit participant" if record else "New participant", parent)
        self.pid = QLineEdit(record.id if record else "")
        self.pid.setEnabled(record is None)
        self.name = QLineEdit(record.name if record else "")
        self.type = QComboBox()
        self.type.addItems([t.value for t in ParticipantType])
        if record:
            self.type.setCurrentText(record.type.value)
        self.bus = QLineEdit(record.bus if record else "")
        self.wallet = QLineEdit(record.wallet if record else "")
        self.wallet.setPlaceholderText("0x… the key that signs its orders")
        self.meters = QLineEdit(format_meters(record.meters) if record else "")
        self.meters.setPlaceholderText("meter-device[=0x device account], …")
        self.devices = QLineEdit(", ".join(record.devices) if record else "")
        self.devices.setPlaceholderText("inverter, battery … (config device names)")
        self.tariff = QComboBox()
        self.tariff.setEditable(not tariffs)
        self.tariff.addItems(tariffs or ["standard"])
        if record:
            self.tariff.setCurrentText(record.tariff)
        self.dr = QCheckBox("enrolled in demand response")
        self.dr.setChecked(bool(record and record.dr_enrolled))
        for label, w in (("Id", self.pid), ("Name", self.name), ("Type", self.type), ("Bus", self.bus),
                         ("Wallet", self.wallet), ("Meters", self.meters), ("Devices", self.devices),
                         ("Tariff", self.tariff), ("DR", self.dr)):
            w.setObjectName(f"participant-{label.lower()}")
            self.form.addRow(label, w)

    def draft(self) -> ParticipantDraft:
        return ParticipantDraft(self.pid.text().strip(), self.name.text(), ParticipantType(self.type.currentText()),
                                self.bus.text(), self.wallet.text().strip(), parse_meters(self.meters.text()),
                                parse_list(self.devices.text()), self.tariff.currentText().strip(),
                                self.dr.isChecked())


class TextDialog(_AsyncDialog):
    """One line of text (a suspension's reason)."""

    def __init__(self, title: str, label: str, parent: QWidget | None) -> None:
        super().__init__(title, parent)
        self.text = QLineEdit()
        self.text.setObjectName("dialog-text")
        self.form.addRow(label, self.text)


class UserDialog(_AsyncDialog):
    def __init__(self, parent: QWidget | None, name: str | None = None) -> None:
        super().__init__("Reset password" if name else "New user", parent)
        self.name = QLineEdit(name or "")
        self.name.setEnabled(name is None)
        self.role = QComboBox()
        self.role.addItems([r.value for r in Role])
        self.password = QLineEdit()
        self.again = QLineEdit()
        for w in (self.password, self.again):
            w.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow("Name", self.name)
        if name is None:
            self.form.addRow("Role", self.role)
        self.form.addRow("Password", self.password)
        self.form.addRow("Again", self.again)


class TokenDialog(QDialog):
    """A new API token, shown once (only its hash is stored)."""

    def __init__(self, participant: str, token: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"API token of {participant}")
        self.token = QLineEdit(token)
        self.token.setReadOnly(True)
        self.token.setObjectName("token")
        self.token.setMinimumWidth(420)
        note = QLabel("Shown once: only its hash is stored. Give it to the participant over a trusted channel; "
                      "the previous token no longer works.")
        note.setWordWrap(True)
        ok = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        ok.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.token)
        layout.addWidget(note)
        layout.addWidget(ok)


class AdminView(QWidget):
    def __init__(self, participants: ParticipantsAdmin | None, users: UserService | None, actor: Actor,
                 tariffs: list[str] | None = None, trust: TrustService | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.admin, self.users, self.actor, self.tariffs = participants, users, actor, tariffs or []
        self.trust = trust
        self._trust_rows: list[tuple[str, TrustEntryView]] = []
        self.message = QLabel("")
        self.message.setObjectName("admin-message")
        self.message.setWordWrap(True)
        self.dialog: QDialog | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._user_rows: list[UserRecord] = []

        self.ptable = _table(PARTICIPANT_COLUMNS, "participants-table")
        self.p_new, self.p_edit = QPushButton("New participant…"), QPushButton("Edit…")
        self.p_suspend, self.p_reinstate = QPushButton("Suspend…"), QPushButton("Reinstate")
        self.p_token = QPushButton("New API token…")
        pbox = self._box("Participants", self.ptable, (self.p_new, self.p_edit, self.p_suspend, self.p_reinstate,
                                                       self.p_token))
        self.p_new.clicked.connect(self.new_participant)
        self.p_edit.clicked.connect(self.edit_participant)
        self.p_suspend.clicked.connect(self.suspend_participant)
        self.p_reinstate.clicked.connect(self.reinstate_participant)
        self.p_token.clicked.connect(self.rotate_token)

        self.utable = _table(USER_COLUMNS, "users-table")
        self.u_new, self.u_unlock, self.u_password = QPushButton("New user…"), QPushButton("Unlock"), QPushButton(
            "Reset password…")
        ubox = self._box("Console users", self.utable, (self.u_new, self.u_unlock, self.u_password))
        self.u_new.clicked.connect(self.new_user)
        self.u_unlock.clicked.connect(self.unlock_user)
        self.u_password.clicked.connect(self.reset_password)

        self.ttable = _table(TRUST_COLUMNS, "trust-table")
        self.t_accept, self.t_reject, self.t_forget = QPushButton("Accept…"), QPushButton("Reject"), QPushButton(
            "Stop trusting")
        tbox = self._box("OPC-UA server certificates", self.ttable, (self.t_accept, self.t_reject, self.t_forget))
        self.t_accept.clicked.connect(self.accept_certificate)
        self.t_reject.clicked.connect(lambda: self._trust_decision("reject"))
        self.t_forget.clicked.connect(lambda: self._trust_decision("forget"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(pbox, 3)
        layout.addWidget(ubox, 2)
        layout.addWidget(tbox, 2)
        layout.addWidget(self.message)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.refresh_participants)  # the chain column follows the transactions

    def _box(self, title: str, table: QTableWidget, buttons: tuple[QPushButton, ...]) -> QGroupBox:
        box = QGroupBox(title)
        row = QHBoxLayout()
        for b in buttons:
            row.addWidget(b)
        row.addStretch(1)
        v = QVBoxLayout(box)
        v.addLayout(row)
        v.addWidget(table)
        return box

    # ---- refresh -------------------------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.timer.stop()

    def refresh(self) -> None:
        user = self.actor()
        allowed = user is not None and may(user, Action.USER_ADMIN)
        for b in (self.p_new, self.p_edit, self.p_suspend, self.p_reinstate, self.p_token, self.u_new,
                  self.u_unlock, self.u_password):
            b.setEnabled(allowed)
            b.setToolTip("" if allowed else "admins only (admin.users_participants)")
        config = user is not None and may(user, Action.CONFIG_CHANGE)
        for b in (self.t_accept, self.t_reject, self.t_forget):
            b.setEnabled(config and self.trust is not None)
            b.setToolTip("" if config else "engineers and admins (config.change)")
        if self.trust is not None:
            self._spawn(self._load_trust())
        self.refresh_participants()
        if self.users is not None and user is not None and allowed:
            self._spawn(self._load_users(user))
        elif not allowed:
            self.utable.setRowCount(0)
            self.message.setText("Only admins manage participants and users; you see the register read-only.")

    def refresh_participants(self) -> None:
        if self.admin is None:
            self.ptable.setRowCount(0)
            return
        records = self.admin.records()
        selected = self._selected_participant()
        self.ptable.setRowCount(len(records))
        for row, r in enumerate(records):
            chain, failed = chain_text(self.admin.chain_results(r.id))
            state = f"SUSPENDED: {r.suspended_reason}" if r.suspended else "active"
            meters = ", ".join(m.device + (f" → {_short(m.account)}" if m.account else "") for m in r.meters)
            cells = (r.id, r.name, r.type.value, r.bus, _short(r.wallet), meters or "—", ", ".join(r.devices) or "—",
                     r.tariff,
                     "yes" if r.dr_enrolled else "no", state, chain, _ago(r.token_rotated))
            for col, text in enumerate(cells):
                abnormal = (col == 9 and r.suspended) or (col == 10 and failed)
                item = _item(text, abnormal)
                if col == 4:
                    item.setToolTip(r.wallet)
                if col == 5:
                    item.setToolTip(format_meters(r.meters))
                self.ptable.setItem(row, col, item)
            if r.id == selected:
                self.ptable.selectRow(row)

    async def _load_users(self, by: User) -> None:
        assert self.users is not None
        try:
            rows = await self.users.users(by)
        except Exception as exc:
            self.message.setText(f"users not shown: {exc}")
            return
        self._user_rows = rows
        self.utable.setRowCount(len(rows))
        for i, u in enumerate(rows):
            state = "LOCKED" if u.locked else "ok"
            for col, text in enumerate((u.name, u.role.value, str(u.failed_logins), state)):
                self.utable.setItem(i, col, _item(text, abnormal=(col == 3 and u.locked)))

    async def _load_trust(self) -> None:
        assert self.trust is not None
        try:
            pending, trusted = await self.trust.pending(), await self.trust.trusted()
        except Exception as exc:
            self.message.setText(f"OPC-UA trust list not shown: {exc}")
            return
        rows = [("CHANGED — waiting" if e.previous else "waiting", e) for e in pending]
        rows += [("trusted", e) for e in trusted]
        self._trust_rows = rows
        self.ttable.setRowCount(len(rows))
        for i, (state, e) in enumerate(rows):
            cells = (e.endpoint, state, e.cert.subject, e.cert.fingerprint, e.cert.not_after[:10], e.by or "—")
            for col, text in enumerate(cells):
                self.ttable.setItem(i, col, _item(text, abnormal=(col == 1 and state != "trusted")))

    def _selected_trust(self) -> tuple[str, TrustEntryView] | None:
        row = self.ttable.currentRow()
        return self._trust_rows[row] if 0 <= row < len(self._trust_rows) else None

    def accept_certificate(self) -> None:
        chosen, user = self._selected_trust(), self.actor()
        if self.trust is None or user is None or chosen is None or chosen[0] == "trusted":
            self.message.setText("select a certificate waiting for a decision")
            return
        trust, entry = self.trust, chosen[1]
        dialog = _AsyncDialog(f"Trust the server at {entry.endpoint}?", self)
        dialog.setMinimumWidth(640)
        dialog.ok.setText("Accept")

        def halves(fp: str | None) -> str:  # 32 bytes on two lines of 16, as a server's display shows them
            return "—" if fp is None else fp[:47] + "\n" + fp[48:]

        for label, text in (("Certificate", entry.cert.subject), ("SHA-256", halves(entry.cert.fingerprint)),
                            ("Valid until", entry.cert.not_after[:19].replace("T", " ") + " UTC"),
                            ("Trusted before", halves(entry.previous))):
            value = QLabel(text)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if label in ("SHA-256", "Trusted before"):
                value.setStyleSheet("font-family: monospace")
            dialog.form.addRow(label, value)
        dialog.message.setText("Compare the fingerprint with the one shown on the server itself (its display or "
                               "its administrator) before accepting." + (
                                   " The server's certificate CHANGED since it was trusted." if entry.previous else ""))

        async def accept() -> str:
            done = await trust.accept(user, entry.endpoint, entry.cert.fingerprint)
            return f"trusted {done.endpoint} ({done.cert.fingerprint[:23]}…); its source connects at its next retry"

        dialog.action = accept
        self._open(dialog)

    def _trust_decision(self, what: str) -> None:
        chosen, user = self._selected_trust(), self.actor()
        if self.trust is None or user is None or chosen is None:
            self.message.setText("select a certificate first")
            return
        trust, endpoint = self.trust, chosen[1].endpoint

        async def decide() -> None:
            try:
                done = await (trust.reject if what == "reject" else trust.forget)(user, endpoint)
            except Exception as exc:
                self.message.setText(str(exc))
                return
            self._done(f"{endpoint}: {'rejected' if what == 'reject' else 'no longer trusted'}" if done
                       else f"{endpoint}: nothing to {what}")

        self._spawn(decide())

    # ---- participant actions -------------------------------------------------------------------------

    def _selected_participant(self) -> str | None:
        row = self.ptable.currentRow()
        item = self.ptable.item(row, 0) if row >= 0 else None
        return item.text() if item is not None else None

    def _need(self) -> tuple[ParticipantsAdmin, User] | None:
        user = self.actor()
        if self.admin is None or user is None:
            self.message.setText("participant administration needs the historian database and a signed-in user")
            return None
        return self.admin, user

    def _open(self, dialog: _AsyncDialog) -> None:
        dialog.on_done = self._done
        self.dialog = dialog
        dialog.open()

    def _done(self, text: str) -> None:
        self.message.setText(text)
        self.refresh()

    def new_participant(self) -> None:
        need = self._need()
        if need is None:
            return
        admin, user = need
        dialog = ParticipantDialog(None, self.tariffs, self)

        async def create() -> str:
            rec, token = await admin.create(user, dialog.draft())
            self._show_token(rec.id, token)
            return f"participant {rec.id} created; registration on chain: {len(rec.chain_keys)} transaction(s) queued"

        dialog.action = create
        self._open(dialog)

    def edit_participant(self) -> None:
        need, pid = self._need(), self._selected_participant()
        if need is None or pid is None:
            self.message.setText("select a participant first")
            return
        admin, user = need
        rec = admin.get(pid)
        if rec is None:
            return
        dialog = ParticipantDialog(rec, self.tariffs, self)

        async def edit() -> str:
            new = await admin.edit(user, pid, dialog.draft())
            return f"participant {new.id} changed"

        dialog.action = edit
        self._open(dialog)

    def suspend_participant(self) -> None:
        need, pid = self._need(), self._selected_participant()
        if need is None or pid is None:
            self.message.setText("select a participant first")
            return
        admin, user = need
        dialog = TextDialog(f"Suspend {pid}", "Reason (shown to them)", self)

        async def suspend() -> str:
            await admin.suspend(user, pid, dialog.text.text())
            return f"{pid} suspended: orders refused, open orders cancelled, removal from the registry queued on chain"

        dialog.action = suspend
        self._open(dialog)

    def reinstate_participant(self) -> None:
        need, pid = self._need(), self._selected_participant()
        if need is None or pid is None:
            self.message.setText("select a participant first")
            return
        admin, user = need

        async def reinstate() -> None:
            try:
                await admin.reinstate(user, pid)
            except Exception as exc:
                self.message.setText(str(exc))
                return
            self._done(f"{pid} reinstated; registration on chain queued")

        self._spawn(reinstate())

    def rotate_token(self) -> None:
        need, pid = self._need(), self._selected_participant()
        if need is None or pid is None:
            self.message.setText("select a participant first")
            return
        admin, user = need

        async def rotate() -> None:
            try:
                token = await admin.rotate_token(user, pid)
            except Exception as exc:
                self.message.setText(str(exc))
                return
            self._show_token(pid, token)
            self._done(f"new API token for {pid}; the previous one no longer works")

        self._spawn(rotate())

    def _show_token(self, pid: str, token: str) -> None:
        dialog = TokenDialog(pid, token, self)
        self.token_dialog = dialog
        dialog.open()

    # ---- user actions --------------------------------------------------------------------------------

    def _selected_user(self) -> str | None:
        row = self.utable.currentRow()
        item = self.utable.item(row, 0) if row >= 0 else None
        return item.text() if item is not None else None

    def new_user(self) -> None:
        user = self.actor()
        if self.users is None or user is None:
            return
        users = self.users
        dialog = UserDialog(self)

        async def create() -> str:
            if dialog.password.text() != dialog.again.text():
                raise ValueError("the passwords differ")
            made = await users.create_user(user, dialog.name.text(), Role(dialog.role.currentText()),
                                           dialog.password.text())
            return f"user {made.name} created ({made.role.value})"

        dialog.action = create
        self._open(dialog)

    def reset_password(self) -> None:
        user, name = self.actor(), self._selected_user()
        if self.users is None or user is None or name is None:
            self.message.setText("select a user first")
            return
        users = self.users
        dialog = UserDialog(self, name)

        async def reset() -> str:
            if dialog.password.text() != dialog.again.text():
                raise ValueError("the passwords differ")
            await users.set_password(user, name, dialog.password.text())
            return f"password of {name} set"

        dialog.action = reset
        self._open(dialog)

    def unlock_user(self) -> None:
        user, name = self.actor(), self._selected_user()
        if self.users is None or user is None or name is None:
            self.message.setText("select a user first")
            return
        users = self.users

        async def unlock() -> None:
            try:
                await users.unlock(user, name)
            except Exception as exc:
                self.message.setText(str(exc))
                return
            self._done(f"{name} unlocked")

        self._spawn(unlock())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def install_admin_view(window: QMainWindow, tabs: QTabWidget, participants: ParticipantsAdmin | None,
                       users: UserService | None, actor: Actor, tariffs: list[str] | None = None,
                       trust: TrustService | None = None) -> AdminView:
    """Add the admin screen as a tab, on F8 (main_window/app call this once)."""
    view = AdminView(participants, users, actor, tariffs, trust)
    tabs.addTab(view, "Admin  (F8)")
    QShortcut(QKeySequence(Qt.Key.Key_F8), window, lambda: tabs.setCurrentWidget(view))
    return view
