"""The audit log read back for the command history, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

from console.services.commands import AuditEntry
from console.store.audit_read import recent_audit
from console.store.historian import SqlHistorian


def test_newest_first_and_limited(tmp_path: Path) -> None:
    historian = SqlHistorian(f"sqlite:///{tmp_path / 'h.db'}", tmp_path / "spool")
    historian.start()
    try:
        historian.record_audit(100.0, "ann", "write", "b.storage_basic.StorCtl_Mod", None, "2", "confirmed: …")
        historian.record_audit(100.5, "ann", "command", "b", None, "b battery: discharge at 2.0 kW", "confirmed: …")
        historian.record_audit(200.25, "bob", "command", "pv", None, "pv PV: remove the limit", "rejected: refused")
        assert recent_audit(historian.engine, 2) == [
            AuditEntry(200.25, "bob", "command", "pv", None, "pv PV: remove the limit", "rejected: refused"),
            AuditEntry(100.5, "ann", "command", "b", None, "b battery: discharge at 2.0 kW", "confirmed: …")]
        assert [e.action for e in recent_audit(historian.engine, 10)] == ["command", "command", "write"]
    finally:
        historian.stop()
