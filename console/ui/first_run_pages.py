"""The setup wizard's pages: (a) config file and field devices, (b) database, (c) chain, (d) admin account,
(e) summary. Each turns its fields into the service's inputs and shows the service's answers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from console.services.first_run import (
    PASSWORD_ENV,
    WORLD,
    AdminChoice,
    ChainChoice,
    DatabaseProbe,
    Finished,
    SetupError,
    default_sqlite_path,
    shown_url,
)
from console.services.users import MIN_PASSWORD_LENGTH
from console.ui.first_run_parts import SetupPage, browse_row, hint, show_status, status_label

if TYPE_CHECKING:
    from console.ui.first_run_wizard import FirstRunWizard


class LocationPage(SetupPage):
    """(a) Where the config goes and which field devices it starts with."""

    def __init__(self, wizard: FirstRunWizard, target: Path) -> None:
        super().__init__(wizard, "Config file and field devices",
                         "Where the console's configuration is written, and the field devices it starts with.")
        self.path = QLineEdit(str(target))
        self.path.setObjectName("config-path")
        self.world = QRadioButton("&Simulated community (energynet sim world: 1 substation, Modbus devices)")
        self.imported = QRadioButton("&Import an existing config file")
        self.world.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.world)
        group.addButton(self.imported)
        self.source = QLineEdit()
        self.source.setObjectName("import-path")
        self.source.setPlaceholderText("/etc/energynet/site.toml")
        self.replace = QCheckBox("&Replace the existing file on Finish")
        self.replace.hide()
        self.status = status_label("config status")
        form = QFormLayout()
        form.addRow("Config fi&le", browse_row(self.path, lambda: QFileDialog.getSaveFileName(
            self, "Config file", self.path.text(), "TOML (*.toml)",
            options=QFileDialog.Option.DontConfirmOverwrite)[0]))
        form.addRow("", self.replace)
        form.addRow("Field devices", self.world)
        form.addRow("", self.imported)
        self.source_row = browse_row(self.source, lambda: QFileDialog.getOpenFileName(
            self, "Config to import", "", "TOML (*.toml)")[0])
        form.addRow("Import fro&m", self.source_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint("The file is read from this place at every start (energynet run). The simulated "
                               "community needs `energynet sim world` running; an imported file keeps its "
                               "sources, devices, alarms and settings, and gets the database and chain chosen "
                               "here."))
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.path.textChanged.connect(self._location_changed)
        self.imported.toggled.connect(self.source_row.setEnabled)  # the field and its Browse button
        self.source_row.setEnabled(False)
        self._location_changed()

    def _location_changed(self) -> None:
        try:
            exists = self.w.service.check_location(Path(self.path.text()))
        except SetupError:
            exists = False
        self.replace.setVisible(exists)
        if not exists:
            self.replace.setChecked(False)

    def validatePage(self) -> bool:
        path = Path(self.path.text()).expanduser().absolute()
        try:
            if self.w.service.check_location(path) and not self.replace.isChecked():
                raise SetupError(f"{path} exists: tick 'Replace the existing file on Finish', or choose another "
                                 "file name")
            devices = WORLD if self.world.isChecked() else self.source.text().strip()
            if not devices:
                raise SetupError("give the config file to import, or choose the simulated community")
            summary = self.w.service.devices(devices)
        except SetupError as exc:
            show_status(self.status, str(exc), alert=True)
            return False
        self.w.config_path, self.w.devices, self.w.overwrite = path, devices, self.replace.isChecked()
        show_status(self.status, summary.message())
        return True


class DatabasePage(SetupPage):
    """(b) SQLite in the data directory, or a PostgreSQL URL; tested on the spot."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__(wizard, "Database",
                         "The historian, the journals, the users and the audit log live in one database.")
        self.sqlite = QRadioButton("S&QLite file (one workstation)")
        self.postgresql = QRadioButton("&PostgreSQL (a server shared by the control room)")
        self.sqlite.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.sqlite)
        group.addButton(self.postgresql)
        self.file = QLineEdit(str(default_sqlite_path()))
        self.file.setObjectName("sqlite-path")
        self.url = QLineEdit()
        self.url.setObjectName("postgresql-url")
        self.url.setPlaceholderText("postgresql://energynet@db.example:5432/energynet")
        self.test = QPushButton("&Test connection")
        self.test.setObjectName("test-database")
        self.status = status_label("database status")
        form = QFormLayout()
        form.addRow("", self.sqlite)
        self.file_row = browse_row(self.file, lambda: QFileDialog.getSaveFileName(
            self, "SQLite database", self.file.text(), "SQLite (*.sqlite *.db)",
            options=QFileDialog.Option.DontConfirmOverwrite)[0])
        form.addRow("Fi&le", self.file_row)
        form.addRow("", self.postgresql)
        form.addRow("&URL", self.url)
        row = QHBoxLayout()
        row.addWidget(self.test)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(hint("The test connects and reads the database's migration and its admin accounts; it "
                               "writes nothing. Finish creates or migrates it. A PostgreSQL password goes in "
                               "~/.pgpass (or USER:PASSWORD@ in the URL, which the config file then holds)."))
        layout.addStretch(1)
        self.probe: DatabaseProbe | None = None
        self.test.clicked.connect(self.run_test)
        self.url.returnPressed.connect(self.run_test)
        self.file.returnPressed.connect(self.run_test)
        for edit in (self.file, self.url):
            edit.textChanged.connect(self._changed)
        self.sqlite.toggled.connect(self._changed)
        self._changed()

    def url_text(self) -> str:
        if self.sqlite.isChecked():
            return self.w.service.sqlite_url(Path(self.file.text().strip()))
        return self.w.service.postgresql_url(self.url.text())

    def _changed(self) -> None:
        self.file_row.setEnabled(self.sqlite.isChecked())
        self.url.setEnabled(self.postgresql.isChecked())
        self.probe = None
        show_status(self.status, "")
        self.completeChanged.emit()

    def run_test(self) -> None:
        try:
            url = self.url_text()
        except SetupError as exc:
            show_status(self.status, str(exc), alert=True)
            return
        self.run(lambda: self.w.service.test_database(url), self._tested, self.status,
                 f"connecting to {shown_url(url)} …")  # never the password on the screen

    def _tested(self, outcome: DatabaseProbe | SetupError) -> None:
        if isinstance(outcome, SetupError):
            show_status(self.status, str(outcome), alert=True)
            return
        self.probe = outcome
        self.w.database = outcome
        show_status(self.status, outcome.message())
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.probe is not None and not self.w.busy


class ChainPage(SetupPage):
    """(c) A JSON-RPC node, the deployment on it and the operator keystore, or no chain."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__(wizard, "Chain", "The settlement contracts: the node, their deployment and the operator's "
                         "key. Without a chain the console runs without the chain panel.")
        self.off = QRadioButton("No c&hain")
        self.on = QRadioButton("Connect to a &chain")
        self.off.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.off)
        group.addButton(self.on)
        self.rpc = QLineEdit("http://127.0.0.1:8545")
        self.rpc.setObjectName("rpc-url")
        self.deployment = QLineEdit(str(Path("deployments/31337.json").absolute()))
        self.deployment.setObjectName("deployment-path")
        self.existing = QRadioButton("E&xisting keystore")
        self.new_key = QRadioButton("Ne&w operator key")
        self.existing.setChecked(True)
        keys = QButtonGroup(self)
        keys.addButton(self.existing)
        keys.addButton(self.new_key)
        self.keystore = QLineEdit(str(Path("deployments/31337-operator.keystore.json").absolute()))
        self.keystore.setObjectName("keystore-path")
        self.password = QLineEdit()
        self.password.setObjectName("keystore-password")
        self.again = QLineEdit()
        self.again.setObjectName("keystore-again")
        for edit in (self.password, self.again):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.env = QLineEdit(PASSWORD_ENV)
        self.env.setObjectName("password-env")
        self.test = QPushButton("&Test chain")
        self.test.setObjectName("test-chain")
        self.status = status_label("chain status")
        self.fields = QWidget()
        self.form = grid = QFormLayout(self.fields)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addRow("&RPC URL", self.rpc)
        grid.addRow("&Deployment", browse_row(self.deployment, lambda: QFileDialog.getOpenFileName(
            self, "Deployment file", self.deployment.text(), "JSON (*.json)")[0]))
        keyrow = QHBoxLayout()
        keyrow.addWidget(self.existing)
        keyrow.addWidget(self.new_key)
        keyrow.addStretch(1)
        grid.addRow("Operator key", keyrow)
        grid.addRow("&Keystore file", browse_row(self.keystore, lambda: QFileDialog.getOpenFileName(
            self, "Keystore", self.keystore.text(), "JSON (*.json)")[0]))
        grid.addRow("P&assword", self.password)
        grid.addRow("A&gain", self.again)
        grid.addRow("Password from $", self.env)
        row = QHBoxLayout()
        row.addWidget(self.test)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.off)
        top.addWidget(self.on)
        top.addStretch(1)
        layout.addLayout(top)
        layout.addWidget(self.fields)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(hint("The test asks the node for its chain id and block, checks that the deployment's "
                               "contracts have code on it and decrypts the keystore (or checks the new key's file "
                               "and password). The config names the password's environment variable, never the "
                               "password."))
        layout.addStretch(1)
        self.choice: ChainChoice | None = None
        self.test.clicked.connect(self.run_test)
        for edit in (self.rpc, self.deployment, self.keystore, self.password, self.again, self.env):
            edit.textChanged.connect(self._changed)
        for button in (self.on, self.new_key):
            button.toggled.connect(self._changed)
        self._changed()

    def _changed(self) -> None:
        self.fields.setEnabled(self.on.isChecked())
        self.test.setEnabled(self.on.isChecked())
        self.form.setRowVisible(self.again, self.new_key.isChecked())  # a second password only for a new key
        self.choice = None
        show_status(self.status, "")
        self.completeChanged.emit()

    def run_test(self) -> None:
        choice = ChainChoice(self.rpc.text().strip(), Path(self.deployment.text().strip()),
                             Path(self.keystore.text().strip()), self.password.text(), self.new_key.isChecked(),
                             self.env.text().strip())
        again = self.again.text()
        service = self.w.service

        def work() -> tuple[ChainChoice, str]:
            service.check_password_env(choice.password_env)
            rpc = service.test_rpc(choice.rpc)
            deployment = service.test_deployment(choice.deployment, rpc)
            lines = [f"RPC         {rpc.message()}", f"deployment  {deployment.message()}"]
            if choice.create_keystore:
                service.check_new_keystore(choice.keystore, choice.password, again)
                lines.append(f"keystore    {choice.keystore}: new; a fresh key is encrypted into it on Finish")
            else:
                lines.append(f"keystore    {service.test_keystore(choice.keystore, choice.password).message()}")
            return choice, "\n".join(lines)

        self.run(work, self._tested, self.status, f"asking {choice.rpc} …")

    def _tested(self, outcome: tuple[ChainChoice, str] | SetupError) -> None:
        if isinstance(outcome, SetupError):
            show_status(self.status, str(outcome), alert=True)
            return
        self.choice, text = outcome
        show_status(self.status, text)
        self.completeChanged.emit()

    def chosen(self) -> ChainChoice | None:
        return self.choice if self.on.isChecked() else None

    def isComplete(self) -> bool:
        return not self.w.busy and (self.off.isChecked() or self.choice is not None)


class AdminPage(SetupPage):
    """(d) The first admin account, under the users service's password rules."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__(wizard, "Admin account", "The first user: an admin, who then creates the operators', "
                         "analysts' and engineers' accounts (Admin screen, F8).")
        self.name = QLineEdit("admin")
        self.name.setObjectName("admin-name")
        self.password = QLineEdit()
        self.password.setObjectName("admin-password")
        self.again = QLineEdit()
        self.again.setObjectName("admin-again")
        for edit in (self.password, self.again):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.status = status_label("admin status")
        form = QFormLayout()
        form.addRow("&User name", self.name)
        form.addRow("&Password", self.password)
        form.addRow("A&gain", self.again)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.rules = hint(f"At least {MIN_PASSWORD_LENGTH} characters, typed twice; no spaces in the name. "
                           "Stored as an argon2id hash in the database; every later sign-in is audited.")
        layout.addWidget(self.rules)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.choice: AdminChoice | None = None
        for edit in (self.name, self.password, self.again):
            edit.textChanged.connect(self._changed)

    def initializePage(self) -> None:
        admins = self.w.database.admins if self.w.database is not None else ()
        for edit in (self.name, self.password, self.again):
            edit.setEnabled(not admins)
        if admins:
            show_status(self.status, f"The database has admin accounts already ({', '.join(admins)}): none is created. "
                  "Sign in with one of them.")
        self._changed()

    def _changed(self) -> None:
        self.choice = None
        if self.w.database is not None and self.w.database.admins:
            self.completeChanged.emit()
            return
        try:
            self.choice = self.w.service.check_admin(self.name.text(), self.password.text(), self.again.text())
            show_status(self.status, f"{self.choice.name}: role admin, created on Finish")
        except SetupError as exc:
            typed = bool(self.password.text() or self.again.text())
            show_status(self.status, str(exc) if typed else "", alert=True)
        self.completeChanged.emit()

    def chosen(self) -> AdminChoice | None:
        return None if self.w.database is not None and self.w.database.admins else self.choice

    def isComplete(self) -> bool:
        return bool(self.w.database is not None and self.w.database.admins) or self.choice is not None


class SummaryPage(SetupPage):
    """(e) What Finish writes; Finish writes it all or nothing."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__(wizard, "Summary", "Finish writes the config file (checked as `energynet check-config` "
                         "would), the new keystore if any, and creates the admin account: all or nothing.")
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.grid.setHorizontalSpacing(12)
        self.status = status_label("finish status")
        layout = QVBoxLayout(self)
        layout.addLayout(self.grid)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.done: Finished | None = None

    def initializePage(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        try:
            rows = self.w.service.summary(self.w.choices())
            if self.w.database is not None:  # what the test connection found, rather than the bare URL
                rows = [(k, self.w.database.message() if k == "Database" else v) for k, v in rows]
        except SetupError as exc:
            show_status(self.status, str(exc), alert=True)
            return
        for i, (key, value) in enumerate(rows):
            name = QLabel(key)
            name.setObjectName("setupHint")
            shown = QLabel(value)
            shown.setWordWrap(True)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.grid.addWidget(name, i, 0, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(shown, i, 1)
        show_status(self.status, "")

    def validatePage(self) -> bool:
        if self.done is not None:
            return True
        choices = self.w.choices()
        self.run(lambda: self.w.service.finish(choices), self._finished, self.status, "writing …")
        return False

    def _finished(self, outcome: Finished | SetupError) -> None:
        if isinstance(outcome, SetupError):
            show_status(self.status, f"Nothing was written.\n{outcome}", alert=True)
            return
        self.done = outcome
        self.w.finished_with = outcome
        show_status(self.status, "Written. Next:\n" + "\n".join(f"  · {n}" for n in outcome.notes))
        self.w.accept()
