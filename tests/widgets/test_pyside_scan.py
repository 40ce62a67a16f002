"""PySide6's per-import "does this module use PySide6?" check, without linecache keeping the source."""

from __future__ import annotations

import importlib
import linecache
import sys
from pathlib import Path

import pytest

from console.ui import pyside_scan


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("scan_probe_qt", "scan_probe_plain"):
        sys.modules.pop(name, None)


def test_modules_imported_after_install_are_classified_and_their_source_is_not_kept(module_dir: Path) -> None:
    from PySide6.support import feature  # type: ignore[attr-defined]

    assert pyside_scan.install() is True
    qt = module_dir / "scan_probe_qt.py"
    plain = module_dir / "scan_probe_plain.py"
    qt.write_text("from PySide6.QtCore import QObject\n" + "x = 1\n" * 5000, encoding="utf-8")
    plain.write_text("import json\n" + "y = 2\n" * 5000, encoding="utf-8")
    importlib.invalidate_caches()
    import PySide6.QtCore  # noqa: F401 - PySide6 hooks the import statement once QtCore is loaded

    # The import statement, as the console's modules are imported (importlib.import_module is not hooked).
    exec("import scan_probe_qt, scan_probe_plain", {})
    # PySide6's meaning of the entries: 0 = uses PySide6 (follows feature switches), -1 = ignored.
    assert feature.pyside_feature_dict["scan_probe_qt"] == 0
    assert feature.pyside_feature_dict["scan_probe_plain"] == -1
    assert str(qt) not in linecache.cache and str(plain) not in linecache.cache


def test_modules_without_a_python_source_do_not_use_pyside() -> None:
    import _json
    import math

    assert pyside_scan.uses_pyside(math) is False  # extension module: no .py source
    assert pyside_scan.uses_pyside(_json) is False
    assert pyside_scan.uses_pyside(sys) is False  # built in


def test_a_source_file_gone_since_the_import_counts_as_not_using_pyside(module_dir: Path) -> None:
    gone = module_dir / "scan_probe_plain.py"
    gone.write_text("import PySide6\n", encoding="utf-8")
    importlib.invalidate_caches()
    module = importlib.import_module("scan_probe_plain")
    assert pyside_scan.uses_pyside(module) is True
    gone.unlink()
    assert pyside_scan.uses_pyside(module) is False
