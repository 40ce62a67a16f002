"""Tables of the historian and of the console's records (SQLAlchemy 2 Core).

Samples are narrow: (point_id, ts_us, value, quality), unique on point+ts so a
replayed batch is a no-op. Time is integer microseconds since the epoch: exact
(idempotent inserts need exact keys) and cheap to bucket with integer division.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

points = Table(
    "points", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
)

samples = Table(
    "samples", metadata,
    Column("point_id", Integer, ForeignKey("points.id"), primary_key=True),
    Column("ts_us", BigInteger, primary_key=True),
    Column("value", Float, nullable=True),
    Column("quality", SmallInteger, nullable=False),
)


def _rollup(name: str) -> Table:
    return Table(
        name, metadata,
        Column("point_id", Integer, ForeignKey("points.id"), primary_key=True),
        Column("bucket_us", BigInteger, primary_key=True),
        Column("vmin", Float), Column("vmax", Float), Column("vavg", Float), Column("vlast", Float),
        Column("n", Integer, nullable=False),
    )


samples_10s = _rollup("samples_10s")
samples_1m = _rollup("samples_1m")
samples_1h = _rollup("samples_1h")

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts_us", BigInteger, nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("source", String(200), nullable=False),
    Column("severity", SmallInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("state", String(32), nullable=False, server_default="active"),
)

participants = Table(
    "participants", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("account", String(64), nullable=True),
    Column("role", String(32), nullable=False, server_default="prosumer"),
)

devices = Table(
    "devices", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", Integer, ForeignKey("participants.id"), nullable=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("protocol", String(16), nullable=False),
    Column("address", String(200), nullable=False),
    Column("profile", String(200), nullable=True),
    Column("serial", String(100), nullable=True),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts_us", BigInteger, nullable=False, index=True),
    Column("user", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(200), nullable=False),
    Column("old", Text, nullable=True),
    Column("new", Text, nullable=True),
    Column("result", String(200), nullable=False),
)

orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chain_id", Integer, nullable=False),
    Column("offer_id", BigInteger, nullable=False),
    Column("participant", String(64), nullable=False),
    Column("is_selling", SmallInteger, nullable=False),
    Column("amount_wh", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("block", BigInteger, nullable=False),
    UniqueConstraint("chain_id", "offer_id"),
)

trades = Table(
    "trades", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chain_id", Integer, nullable=False),
    Column("offer_id", BigInteger, nullable=False),
    Column("buyer", String(64), nullable=False),
    Column("seller", String(64), nullable=False),
    Column("amount_wh", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("tx_hash", String(80), nullable=False),
    Column("log_index", Integer, nullable=False),
    UniqueConstraint("tx_hash", "log_index"),
)
