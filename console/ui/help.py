"""Help at hand: the operator and user guides (docs/*.md, rendered), the keyboard map and the about box
(versions, where the data lives)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path

from platformdirs import user_data_dir
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from console.config import Settings

# The guides sit in docs/ beside the packages: in the source tree and, keeping that relative path, in the
# PyInstaller bundle (installer/energynet.spec).
DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = {"Operator guide": "operator-guide.md", "User guide": "user-guide.md"}
PACKAGES = ("energynet-console", "pyqtgraph", "qasync", "asyncua", "pymodbus", "web3", "sqlalchemy", "alembic",
            "fastapi", "pandapower")


def guide_text(name: str) -> str:
    path = DOCS / GUIDES[name]
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"# {name}\n\nThe guide could not be read from `{path}` ({exc.strerror}). It is `docs/{GUIDES[name]}` " \
               "in the source tree and in the installed program's folder."


def versions() -> list[tuple[str, str]]:
    rows = [("Python", f"{platform.python_version()} ({sys.platform})"),
            ("Qt / PySide6", f"{qVersion()} / {pyside_version}")]
    for pkg in PACKAGES:
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    return rows


def data_folder() -> Path:
    """The folder console.store.database.default_data_dir() keeps the historian in (the UI may not import the
    store; tests/widgets/test_help.py checks that both name the same folder)."""
    return Path(user_data_dir("energynet", appauthor=False))


def about_rows(settings: Settings) -> list[tuple[str, str]]:
    return [
        ("Configuration", str(settings.path) if settings.path else "built-in defaults"),
        ("Historian", settings.historian.url or f"sqlite:///{data_folder() / 'historian.sqlite'} (default)"),
        ("Data folder", str(data_folder())),
        *versions(),
    ]


class GuideDialog(QDialog):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(name)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(guide_text(name))
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(820, 640)


class AboutDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About EnergyNet Console")
        rows = "".join(f"<tr><td style='color:#9aa0a6; padding-right:12px'>{k}</td><td>{v}</td></tr>"
                       for k, v in about_rows(settings))
        self.text = QLabel(f"<b>EnergyNet Console</b><br>Grid operator console for a peer-to-peer energy "
                           f"community.<br><br><table>{rows}</table>")
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class ShortcutsDialog(QDialog):
    """Every keyed entry of the command palette: the keyboard map is never out of date."""

    def __init__(self, keyed: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = "".join(f"<tr><td style='padding-right:16px'><b>{key}</b></td><td>{label}</td></tr>"
                       for key, label in [("Ctrl+K", "Command palette: any action or point by name"), *keyed])
        self.text = QLabel(f"<table>{rows}</table>")
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
