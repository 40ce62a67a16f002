"""The first-run wizard (QWizard): config file, field devices, database, chain, admin account, summary.

It only translates: every check and the writing are :class:`console.services.first_run.FirstRun`'s. Checks
that touch the network or a disk (test connection, RPC, keystore, Finish) run in a worker thread and come
back through a queued signal, so the window stays live and no nested event loop runs inside qasync's (the
wizard is also opened from the running console). Next stays off until a page's inputs have passed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget, QWizard

from console.services.first_run import WORLD, Choices, DatabaseProbe, Finished, FirstRun, user_config_path
from console.ui.first_run_pages import AdminPage, ChainPage, DatabasePage, LocationPage, SummaryPage
from console.ui.first_run_parts import STYLE, CheckResult
from widgets import theme

__all__ = ["FirstRunWizard", "open_wizard", "run_wizard"]


class FirstRunWizard(QWizard):
    """The pages in order; ``finished_with`` holds what Finish wrote (None until then)."""

    def __init__(self, service: FirstRun, target: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.setWindowTitle("EnergyNet Console: setup")
        self.setObjectName("firstRunWizard")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.setStyleSheet(theme.remap_text(STYLE, theme.shown))  # written dark; shown in the theme now on
        self.resize(780, 540)  # a preference, not a minimum: the layouts decide how small it may get (high DPI)
        self.result_signal = CheckResult()
        self.result_signal.done.connect(self._deliver)
        self.busy = False
        self.config_path = (target or user_config_path()).expanduser().absolute()
        self.devices = WORLD
        self.overwrite = False
        self.database: DatabaseProbe | None = None
        self.finished_with: Finished | None = None
        self.told: QMessageBox | None = None  # what was written, when opened from the running console
        self.location = LocationPage(self, self.config_path)
        self.database_page = DatabasePage(self)
        self.chain_page = ChainPage(self)
        self.admin_page = AdminPage(self)
        self.summary_page = SummaryPage(self)
        for page in (self.location, self.database_page, self.chain_page, self.admin_page, self.summary_page):
            self.addPage(page)

    def choices(self) -> Choices:
        assert self.database is not None, "the database page passed"
        return Choices(self.config_path, self.devices, self.database.url, self.chain_page.chosen(),
                       self.admin_page.chosen(), self.overwrite)

    def set_busy(self, busy: bool) -> None:
        """While a check runs: no Next, Back or Finish (one check at a time; its answer belongs to its inputs)."""
        self.busy = busy
        for which in (QWizard.WizardButton.NextButton, QWizard.WizardButton.BackButton,
                      QWizard.WizardButton.FinishButton, QWizard.WizardButton.CancelButton):
            button = self.button(which)
            if button is not None:
                button.setEnabled(not busy)
        page = self.currentPage()
        if page is not None:
            page.setEnabled(not busy)
            if not busy:
                page.completeChanged.emit()

    def _deliver(self, then: Callable[[Any], None], outcome: Any) -> None:
        self.set_busy(False)
        then(outcome)


def run_wizard(service: FirstRun, target: Path | None = None) -> Finished | None:
    """Show the wizard (before the console's own loop exists) and return what it wrote, or None if cancelled."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("EnergyNet Console")
    app.setStyleSheet(theme.style_sheet(theme.current()))
    app.setQuitOnLastWindowClosed(False)  # closing the wizard must not end the application the console runs in
    wizard = FirstRunWizard(service, target)
    wizard.exec()  # no qasync loop exists yet: a modal loop of its own is safe here
    return wizard.finished_with


def open_wizard(parent: QWidget, service: FirstRun, target: Path) -> FirstRunWizard:
    """The wizard from the running console's menu: window-modal, opened without a nested event loop."""
    wizard = FirstRunWizard(service, target, parent)
    wizard.setWindowModality(Qt.WindowModality.WindowModal)

    def written() -> None:
        done = wizard.finished_with
        if done is None:
            return
        wizard.told = QMessageBox(QMessageBox.Icon.Information, "Setup written",
                                  f"Wrote {done.config_path}; the console reads it at its next start.\n\n"
                                  + "\n".join(f"· {note}" for note in done.notes), parent=parent)
        wizard.told.open()

    wizard.accepted.connect(written)
    wizard.open()
    return wizard
