"""Demand-response events: the operator's metadata per request and the M&V figure per participant.

Revision ID: 0010
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dr_events",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("created", sa.Double, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("target_kw", sa.Double, nullable=False),
        sa.Column("duration_s", sa.Double, nullable=False),
        sa.Column("price_per_kwh", sa.BigInteger, nullable=False),
        sa.Column("compensation", sa.BigInteger, nullable=False),
        sa.Column("signal", sa.String(16), nullable=False),
        sa.Column("level", sa.Double, nullable=False),
        sa.Column("targets", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "dr_deliveries",
        sa.Column("event_key", sa.String(40), primary_key=True),
        sa.Column("participant", sa.String(42), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("baseline_wh", sa.BigInteger, nullable=True),
        sa.Column("verified_wh", sa.BigInteger, nullable=True),
        sa.Column("command_key", sa.String(80), nullable=True),
        sa.Column("problem", sa.Text, nullable=True),
        sa.Column("computed", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dr_deliveries")
    op.drop_table("dr_events")
