"""Rollups (1 min, 1 h) and the market's orders/trades mirror; TimescaleDB where present.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _rollup(name: str) -> None:
    op.create_table(
        name,
        sa.Column("point_id", sa.Integer, sa.ForeignKey("points.id"), primary_key=True),
        sa.Column("bucket_us", sa.BigInteger, primary_key=True),
        sa.Column("vmin", sa.Float), sa.Column("vmax", sa.Float), sa.Column("vavg", sa.Float),
        sa.Column("vlast", sa.Float),
        sa.Column("n", sa.Integer, nullable=False),
    )


def upgrade() -> None:
    _rollup("samples_1m")
    _rollup("samples_1h")
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("offer_id", sa.BigInteger, nullable=False),
        sa.Column("participant", sa.String(64), nullable=False),
        sa.Column("is_selling", sa.SmallInteger, nullable=False),
        sa.Column("amount_wh", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("chain_id", "offer_id"),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.Integer, nullable=False),
        sa.Column("offer_id", sa.BigInteger, nullable=False),
        sa.Column("buyer", sa.String(64), nullable=False),
        sa.Column("seller", sa.String(64), nullable=False),
        sa.Column("amount_wh", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("ts_us", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.String(80), nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.UniqueConstraint("tx_hash", "log_index"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        has_timescale = bind.execute(sa.text(
            "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first() is not None
        if has_timescale:
            # Chunks of one day on integer microseconds; compress chunks older than a week.
            op.execute("SELECT create_hypertable('samples', 'ts_us', chunk_time_interval => 86400000000, "
                       "migrate_data => true)")
            op.execute("ALTER TABLE samples SET (timescaledb.compress, timescaledb.compress_segmentby = 'point_id')")
            # Policies on an integer time column need to know "now" in that unit.
            op.execute("CREATE OR REPLACE FUNCTION energynet_now_us() RETURNS BIGINT LANGUAGE SQL STABLE AS "
                       "$$ SELECT (extract(epoch FROM now()) * 1000000)::BIGINT $$")
            op.execute("SELECT set_integer_now_func('samples', 'energynet_now_us')")
            op.execute("SELECT add_compression_policy('samples', BIGINT '604800000000')")


def downgrade() -> None:
    for table in ("trades", "orders", "samples_1h", "samples_1m"):
        op.drop_table(table)
