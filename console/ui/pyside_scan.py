"""PySide6 reads the whole source of every module imported after it, and linecache keeps it all.

Once PySide6 is loaded, shiboken's feature support (``PySide6.support.feature``, PYSIDE-2029) calls
``feature_imported(module)`` after every import; that asks ``_mod_uses_pyside(module)``, which runs
``inspect.getsource(module)`` and looks for "PySide6" in it. ``inspect.getsource`` reads through
``linecache``, and linecache keeps what it read: in the console that was every line of the ~740 modules
imported after PySide6 (~315,000 lines, ~41 MiB of str objects, the largest single site in a soak's
tracemalloc snapshot, 2026-12-03), more with every module imported lazily later, and ~0.2 s of CPU per
1,000 modules at start-up. :func:`install` keeps the check and its answer (the module's source file
mentions "PySide6") but reads the file's bytes once and keeps nothing.
"""

from __future__ import annotations

import logging
from types import ModuleType

log = logging.getLogger(__name__)


def uses_pyside(module: ModuleType) -> bool:
    """Whether the module's source file mentions PySide6 (the answer PySide6's own check gives).

    Modules without a ``.py`` source (built-in, extension, frozen, or imported from an archive) count as
    not using PySide6, as in PySide6's check, where ``inspect.getsource`` raises for them.
    """
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if not isinstance(origin, str) or not origin.endswith(".py"):
        return False
    try:
        with open(origin, "rb") as f:
            return b"PySide6" in f.read()
    except OSError:
        return False


def install() -> bool:
    """Replace PySide6's per-import source check by :func:`uses_pyside`; False when PySide6 has none."""
    try:
        from PySide6.support import feature  # type: ignore[attr-defined]
    except ImportError:
        return False
    if not callable(getattr(feature, "_mod_uses_pyside", None)):
        log.info("PySide6 has no per-import source check (PySide6.support.feature._mod_uses_pyside)")
        return False
    feature._mod_uses_pyside = uses_pyside  # looked up as a global on every import
    return True
