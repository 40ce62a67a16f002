"""Signed-order settlement: the signed orders (settlement_orders), every match's settlement state
(settlement_matches) and the chain-event cursor of the settlement tracker (settlement_cursor).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_orders",
        sa.Column("order_id", sa.String(80), primary_key=True),
        sa.Column("participant", sa.String(42), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("signature", sa.String(140), nullable=False),
        sa.Column("nonce", sa.String(80), nullable=False),  # uint256 as decimal text
        sa.Column("stored", sa.Float, nullable=False),
    )
    op.create_index("ix_settlement_orders_nonce", "settlement_orders", ["participant", "nonce"])
    op.create_table(
        "settlement_matches",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("product", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("buy_id", sa.String(80), nullable=False),
        sa.Column("sell_id", sa.String(80), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("batch", sa.String(80), nullable=True),
        sa.Column("trade_id", sa.BigInteger, nullable=True),
        sa.Column("value", sa.BigInteger, nullable=True),
        sa.Column("delivery_end", sa.BigInteger, nullable=True),
        sa.Column("delivered_wh", sa.BigInteger, nullable=True),
        sa.Column("tx_hash", sa.String(80), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("recorded", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("ix_settlement_matches_state", "settlement_matches", ["state", "seq"])
    op.create_index("ix_settlement_matches_trade", "settlement_matches", ["trade_id"])
    op.create_table(
        "settlement_cursor",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("log_index", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settlement_cursor")
    op.drop_table("settlement_matches")
    op.drop_table("settlement_orders")
