"""The market's write-ahead journal (market_events) and its derived query tables (market_orders, market_fills).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_events",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(80), nullable=True),
        sa.Column("participant", sa.String(80), nullable=True),
        sa.Column("product", sa.BigInteger, nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "market_orders",
        sa.Column("order_id", sa.String(80), primary_key=True),
        sa.Column("participant", sa.String(80), nullable=False),
        sa.Column("product", sa.BigInteger, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted", sa.BigInteger, nullable=False),
        sa.Column("filled", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("accepted_seq", sa.BigInteger, nullable=False),
        sa.Column("updated_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_market_orders_participant", "market_orders", ["participant", "accepted_seq"])
    op.create_table(
        "market_fills",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("product", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("buy_id", sa.String(80), nullable=False),
        sa.Column("sell_id", sa.String(80), nullable=False),
        sa.Column("buyer", sa.String(80), nullable=False),
        sa.Column("seller", sa.String(80), nullable=False),
        sa.Column("aggressor", sa.String(8), nullable=False),
    )
    op.create_index("ix_market_fills_ts", "market_fills", ["ts"])
    op.create_index("ix_market_fills_buyer", "market_fills", ["buyer", "seq"])
    op.create_index("ix_market_fills_seller", "market_fills", ["seller", "seq"])


def downgrade() -> None:
    op.drop_table("market_fills")
    op.drop_table("market_orders")
    op.drop_table("market_events")
