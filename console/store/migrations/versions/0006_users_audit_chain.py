"""Users with passwords and login throttling; the audit log as a hash chain (existing entries chained).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from console.store.audit_chain import backfill

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
        batch.add_column(sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_failed_us", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("locked", sa.SmallInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    with op.batch_alter_table("users") as batch:
        for column in ("locked", "last_failed_us", "failed_logins", "password_hash"):
            batch.drop_column(column)
