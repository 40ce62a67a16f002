"""10-second rollups: a day of history in pixel buckets without scanning raw rows.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "samples_10s",
        sa.Column("point_id", sa.Integer, sa.ForeignKey("points.id"), primary_key=True),
        sa.Column("bucket_us", sa.BigInteger, primary_key=True),
        sa.Column("vmin", sa.Float), sa.Column("vmax", sa.Float), sa.Column("vavg", sa.Float),
        sa.Column("vlast", sa.Float),
        sa.Column("n", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("samples_10s")
