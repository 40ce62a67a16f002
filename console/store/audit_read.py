"""Reading the audit log back (the command history view); kept apart from the historian's writers."""

from __future__ import annotations

from sqlalchemy import Engine, select

from console.services.commands import AuditEntry
from console.store.schema import audit_log


def recent_audit(engine: Engine, limit: int) -> list[AuditEntry]:
    """The newest ``limit`` audit entries, newest first."""
    query = select(audit_log).order_by(audit_log.c.ts_us.desc(), audit_log.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [AuditEntry(row.ts_us / 1_000_000, row.user, row.action, row.target, row.old, row.new, row.result)
                for row in conn.execute(query)]
