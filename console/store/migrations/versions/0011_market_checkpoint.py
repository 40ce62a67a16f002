"""The market's restart checkpoint: its open state at a journal position, and the fills by product.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_checkpoints",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("written", sa.Double, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("forgotten", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_market_fills_product", "market_fills", ["product", "seq"])


def downgrade() -> None:
    op.drop_index("ix_market_fills_product", table_name="market_fills")
    op.drop_table("market_checkpoints")
