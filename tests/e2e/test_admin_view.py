"""The login at start, the idle lock and the admin screen, on the real user service and participant
administration (SQLite, a real anvil chain through the gateway). Screenshots go to ENERGYNET_SCREENSHOT_DIR
when it is set (README and docs/security.md use them)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from console.bootstrap_chain import chain_up
from console.bootstrap_security import user_service_for
from console.services.participants_admin import ParticipantsAdmin
from console.services.trust import TrustService
from console.services.users import LoginRefused
from console.store.historian import SqlHistorian
from console.store.participants_store import SqlParticipantStore
from console.ui.admin_view import ParticipantDialog, install_admin_view
from console.ui.login_dialog import SessionGuard
from contracts.anvil import DEV_KEYS
from contracts.deploy import account_from_key
from contracts.gateway import ChainGateway
from contracts.outbox import Outbox
from core.access import Role, User
from core.chain import TxState
from core.participant_registry import MeterLink, ParticipantDraft, ParticipantType
from drivers.opcua.certs import create_client_certificate
from drivers.opcua.trust import TrustList, UntrustedCertificate
from tests.conftest import free_port, until
from tests.e2e.test_alarms_view import run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
SCREENSHOT = os.environ.get("ENERGYNET_SCREENSHOT_DIR")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def shot(widget: QWidget, name: str, dialog: QWidget | None = None) -> None:
    """The widget as a PNG; with ``dialog`` (a separate top-level window, which a grab leaves out) painted
    over its middle, as the operator sees it."""
    if not SCREENSHOT:
        return
    QApplication.processEvents()  # the status bar lays out its changed label
    image = widget.grab()
    if dialog is not None:
        over = dialog.grab()
        painter = QPainter(image)
        x, y = (image.width() - over.width()) // 2, (image.height() - over.height()) // 3
        painter.drawPixmap(x, y, over)
        painter.setPen(QColor("#505050"))  # the frame a window manager would draw
        painter.drawRect(x - 1, y - 1, over.width() + 1, over.height() + 1)
        painter.end()
    image.save(str(Path(SCREENSHOT) / name))


def test_login_at_start_idle_lock_and_admin_screen(qapp: Any, qtbot: Any, tmp_path: Path) -> None:
    up = chain_up(free_port(), tmp_path / "chain", "pw")
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "spool")
    historian.start()
    clock = Clock()

    async def scenario() -> None:
        gateway = ChainGateway(up.anvil.url, account_from_key(DEV_KEYS[0]), up.deployment,
                               Outbox(tmp_path / "ob.db"))
        await gateway.start()
        users = user_service_for(historian)
        admin = ParticipantsAdmin(SqlParticipantStore(historian.engine), chain=gateway, audit=historian,
                                  tariffs=frozenset({"standard", "time-of-use", "flat-export"}))
        await admin.start()
        root = await users.create_admin("root", "correct horse battery")
        await users.create_user(root, "ann", Role.ANALYST, "analyst password 1")
        await users.create_user(root, "otto", Role.OPERATOR, "operator password 1")
        with pytest.raises(LoginRefused):  # one failed login, shown in the users table
            await users.authenticate("otto", "wrong")
        window = QMainWindow()
        qtbot.addWidget(window)
        window.setWindowTitle("EnergyNet Console")
        central = QWidget()
        tabs = QTabWidget()
        QVBoxLayout(central).addWidget(tabs)
        grid = QLabel("grid view (live data keeps updating while locked)")
        tabs.addTab(grid, "Grid  (F1)")
        window.setCentralWidget(central)
        acting: list[User] = []
        guard = SessionGuard(window, users, User("fallback", Role.OPERATOR), idle_lock_s=900, on_user=acting.append,
                             clock=clock, check_every_ms=60_000)
        # Two OPC-UA servers: one trusted already, one seen for the first time (its certificate waiting).
        trust_list = TrustList(tmp_path / "trust.json")
        certs = [create_client_certificate(tmp_path / f"srv{i}", f"urn:plc:{i}", f"plc-{i}") for i in (1, 2)]
        for i, c in enumerate(certs, 1):
            with pytest.raises(UntrustedCertificate):
                trust_list.check(f"opc.tcp://plc-{i}:4840/", c.cert.read_bytes())
        trust_list.accept("opc.tcp://plc-1:4840/", certs[0].info.fingerprint, "eng-2")
        trust = TrustService(trust_list, historian)
        view = install_admin_view(window, tabs, admin, users, lambda: guard.user,
                                  ["flat-export", "standard", "time-of-use"], trust=trust)
        window.resize(1500, 820)
        window.show()

        # Users exist: the window opens locked and asks.
        await guard.begin()
        assert guard.user is None and not central.isEnabled()
        dialog = guard.dialog
        assert dialog is not None and dialog.isVisible()
        assert guard.label.text() == "LOCKED — sign in (Ctrl+L)"
        shot(window, "login-at-start.png", dialog)
        QTest.keyClicks(dialog.name, "root")
        QTest.keyClicks(dialog.password, "correct horse battery")
        QTest.mouseClick(dialog.sign_in, Qt.MouseButton.LeftButton)
        await until(lambda: guard.user is not None)
        assert guard.user == User("root", Role.ADMIN) and acting == [User("root", Role.ADMIN)] and central.isEnabled()
        assert guard.label.text() == "root (admin)"

        # Participants: created (registered on chain), one suspended; the chain column follows.
        # (dev key 8 is chain up's grid-maker, registered already)
        wallets = [Account.from_key(k).address for k in (DEV_KEYS[6], DEV_KEYS[7], "0x" + "42" * 32)]
        a, _ = await admin.create(root, ParticipantDraft(
            "farm-07", "Hofmann farm", ParticipantType.PROSUMER, "bus-12", wallets[0],
            (MeterLink("farm07-meter", Account.from_key(DEV_KEYS[9]).address),), ("farm07-pv", "farm07-bess"),
            "time-of-use", True))
        b, _ = await admin.create(root, ParticipantDraft("school", "Primary school", ParticipantType.CONSUMER, "bus-3",
                                                         wallets[1], (MeterLink("school-meter"),), (), "standard"))
        c, _ = await admin.create(root, ParticipantDraft("bess-1", "Community battery", ParticipantType.STORAGE,
                                                         "bus-1", wallets[2], (), ("bess1",), "flat-export", True))
        for rec in (a, b, c):
            for key in rec.chain_keys:
                assert (await gateway.wait(key, timeout=30)).state is TxState.CONFIRMED
        sus = await admin.suspend(root, "school", "unpaid settlement, 3 periods")
        await gateway.wait(sus.chain_keys[0], timeout=30)
        tabs.setCurrentWidget(view)
        await until(lambda: view.ptable.rowCount() == 3 and view.utable.rowCount() == 3)
        view.refresh_participants()
        cells = {view.ptable.item(r, 0).text(): view.ptable.item(r, 9).text() for r in range(3)}
        assert cells == {"bess-1": "active", "farm-07": "active", "school": "SUSPENDED: unpaid settlement, 3 periods"}
        farm_chain = next(view.ptable.item(r, 10).text() for r in range(3)
                          if view.ptable.item(r, 0).text() == "farm-07")
        assert farm_chain.startswith("confirmed #") and farm_chain.count("#") == 2  # both its transactions
        users_shown = {view.utable.item(r, 0).text(): view.utable.item(r, 2).text() for r in range(3)}
        assert users_shown == {"ann": "0", "otto": "1", "root": "0"}
        await until(lambda: view.ttable.rowCount() == 2)
        assert [(view.ttable.item(r, 0).text(), view.ttable.item(r, 1).text()) for r in range(2)] == [
            ("opc.tcp://plc-2:4840/", "waiting"), ("opc.tcp://plc-1:4840/", "trusted")]
        view.ptable.selectRow(1)
        shot(window, "admin-view.png")
        # The waiting certificate accepted from the screen, its fingerprint shown to compare.
        view.ttable.selectRow(0)
        view.accept_certificate()
        td = view.dialog
        assert td is not None and td.isVisible()
        labels = [w.text() for w in td.findChildren(QLabel)]
        fp = certs[1].info.fingerprint
        assert fp[:47] + "\n" + fp[48:] in labels  # shown whole, in two halves
        shot(td, "trust-dialog.png")
        td.submit()  # type: ignore[attr-defined]
        await until(lambda: not td.isVisible())
        trust_list.check("opc.tcp://plc-2:4840/", certs[1].cert.read_bytes())  # trusted now
        assert view.message.text().startswith("trusted opc.tcp://plc-2:4840/")

        # A bad participant is refused in the dialog, every problem named, nothing stored.
        view.new_participant()
        pd = view.dialog
        assert isinstance(pd, ParticipantDialog)
        QTest.keyClicks(pd.pid, "house 9")
        QTest.keyClicks(pd.name, "House nine")
        pd.type.setCurrentText("prosumer")
        QTest.keyClicks(pd.wallet, "0x1234")
        pd.submit()
        await until(lambda: pd.message.text() not in ("", "working…"))
        assert pd.message.text().split("\n") == [
            "id 'house 9': 1–64 letters, digits, '_', '.', '-'",
            "bus: name the network bus the participant connects at",
            "wallet '0x1234': a 0x-prefixed 20-byte hex address (the key that signs its orders)",
            "meters: a prosumer needs its grid meter"]
        assert pd.isVisible() and len(admin.records()) == 3
        shot(pd, "admin-participant-dialog.png")
        pd.reject()

        # Idle for the configured time: locked again, the same user asked again.
        clock.now += 899
        guard.check_idle()
        assert guard.user is not None
        clock.now += 1
        guard.check_idle()
        assert guard.user is None and not central.isEnabled()
        assert guard.dialog is not None and guard.dialog.name.text() == "root"
        assert guard.dialog.message.text() == "locked after 15 min without input; sign in again"
        shot(window, "idle-lock.png", guard.dialog)
        # Another user signs in: an analyst sees the register read-only.
        guard.dialog.name.clear()
        QTest.keyClicks(guard.dialog.name, "ann")
        QTest.keyClicks(guard.dialog.password, "analyst password 1")
        QTest.mouseClick(guard.dialog.sign_in, Qt.MouseButton.LeftButton)
        await until(lambda: guard.user is not None)
        assert guard.user == User("ann", Role.ANALYST)
        view.refresh()
        assert not view.p_new.isEnabled() and view.p_new.toolTip() == "admins only (admin.users_participants)"
        assert view.utable.rowCount() == 0
        # Not gateway.stop(): on this qasync loop its health-loop task sometimes does not end after its cancel
        # (seen in 2 of 4 runs; reported to the integrator). Cancel, wait a bounded time, close the provider.
        for t in gateway._tasks:
            t.cancel()
        await asyncio.wait(set(gateway._tasks), timeout=5)
        gateway._tasks = []
        await asyncio.wait_for(gateway.w3.provider.disconnect(), 10)

    try:
        run(qapp, scenario())
    finally:
        historian.stop()
        up.anvil.stop()
