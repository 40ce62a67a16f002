"""Alarm journal: every alarm event and operator action, and each alarm's latest state.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("alarm", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("isa", sa.String(32), nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("position", sa.String(100), nullable=False),
        sa.Column("point", sa.String(200), nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("user", sa.String(100), nullable=True),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.Text, nullable=False),
    )
    op.create_index("ix_alarm_events_ts", "alarm_events", ["ts"])
    op.create_index("ix_alarm_events_alarm_ts", "alarm_events", ["alarm", "ts"])
    op.create_index("ix_alarm_events_point_ts", "alarm_events", ["point", "ts"])
    op.create_index("ix_alarm_events_priority_ts", "alarm_events", ["priority", "ts"])
    op.create_index("ix_alarm_events_user_ts", "alarm_events", ["user", "ts"])
    op.create_table(
        "alarm_latest",
        sa.Column("alarm", sa.String(200), primary_key=True),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alarm_latest")
    op.drop_table("alarm_events")
