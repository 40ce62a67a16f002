"""Tables of the historian and of the console's records (SQLAlchemy 2 Core).

Samples are narrow: (point_id, ts_us, value, quality), unique on point+ts so a
replayed batch is a no-op. Time is integer microseconds since the epoch: exact
(idempotent inserts need exact keys) and cheap to bucket with integer division.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
    # 0006: argon2 hash (None: no password set, cannot log in), login throttling, lock
    Column("password_hash", String(200), nullable=True),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("last_failed_us", BigInteger, nullable=True),
    Column("locked", SmallInteger, nullable=False, server_default="0"),
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
    # 0006: the hash chain (console/store/audit_chain.py): the previous entry's hash and this entry's own
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
)

# One row (id 1): the newest audit entry's hash and the count of entries. Writers lock it (FOR UPDATE on
# PostgreSQL, the database write lock on SQLite) so entries chain one after the other; verify compares the
# chain's end with it, so a deleted last entry is found too.
audit_chain_head = Table(
    "audit_chain_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
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

# ---- alarm journal (core.alarms.ports.AlarmJournal; console/store/alarm_journal.py) -------------------
# Alarm times are float seconds (double precision), unlike samples: an AlarmEvent's ``ts`` and the times
# inside its state must come back bit for bit, so a restart restores the live list exactly and a search
# bounded by an event's own time finds that event.

alarm_events = Table(
    "alarm_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("ts", Double, nullable=False),
    Column("alarm", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("isa", String(32), nullable=False),  # IsaState after the event, for state searches
    Column("priority", SmallInteger, nullable=False),
    Column("position", String(100), nullable=False),
    Column("point", String(200), nullable=False),
    Column("value", Double, nullable=True),  # NULL for NaN (no value)
    Column("user", String(100), nullable=True),
    Column("comment", Text, nullable=False, server_default=""),
    Column("message", Text, nullable=False, server_default=""),  # the definition's text when it happened
    Column("state", Text, nullable=False),  # the whole AlarmState after the event, JSON
    Index("ix_alarm_events_ts", "ts"),
    Index("ix_alarm_events_alarm_ts", "alarm", "ts"),
    Index("ix_alarm_events_point_ts", "point", "ts"),
    Index("ix_alarm_events_priority_ts", "priority", "ts"),
    Index("ix_alarm_events_user_ts", "user", "ts"),
)

# One row per alarm: its newest event's state, rewritten in the same transaction as the events, so a
# restart reads one row per alarm instead of scanning the journal.
alarm_latest = Table(
    "alarm_latest", metadata,
    Column("alarm", String(200), primary_key=True),
    Column("ts", Double, nullable=False),
    Column("state", Text, nullable=False),
)

# -- the market's write-ahead journal (migration 0005_market_journal) ---------------------------------------
# market_events is the source of truth (the book is a replay of it); market_orders and market_fills are
# derived in the same transaction for queries ("my orders", "history") and checked against the replay at start.

market_events = Table(
    "market_events", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("order_id", String(80), nullable=True),
    Column("participant", String(80), nullable=True),
    Column("product", BigInteger, nullable=True),
    Column("payload", Text, nullable=False),  # JSON (core.market.codec)
)

market_orders = Table(
    "market_orders", metadata,
    Column("order_id", String(80), primary_key=True),
    Column("participant", String(80), nullable=False),
    Column("product", BigInteger, nullable=False),
    Column("side", String(8), nullable=False),
    Column("price", BigInteger, nullable=True),
    Column("status", String(16), nullable=False),
    Column("submitted", BigInteger, nullable=False),
    Column("filled", BigInteger, nullable=False),
    Column("cancelled", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("accepted_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    Index("ix_market_orders_participant", "participant", "accepted_seq"),
)

market_fills = Table(
    "market_fills", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("product", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("buy_id", String(80), nullable=False),
    Column("sell_id", String(80), nullable=False),
    Column("buyer", String(80), nullable=False),
    Column("seller", String(80), nullable=False),
    Column("aggressor", String(8), nullable=False),
    Index("ix_market_fills_ts", "ts"),
    Index("ix_market_fills_buyer", "buyer", "seq"),
    Index("ix_market_fills_seller", "seller", "seq"),
    Index("ix_market_fills_product", "product", "seq"),  # a restart reads the open products' trades (0011)
)

# The restart checkpoint (migration 0011): the market's open state at journal position ``seq`` (every product
# closed before it compacted and its orders' rows verified), so a start replays only the events from ``seq`` on.
# One row is kept (the newest); ``state`` is JSON (core.market.checkpoint and the service's own state),
# ``forgotten`` the Bloom filter of the forgotten order ids (zlib).
market_checkpoints = Table(
    "market_checkpoints", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("written", Double, nullable=False),
    Column("state", Text, nullable=False),
    Column("forgotten", LargeBinary, nullable=False),
)

# -- demand-response events (migration 0010_dr_events) ------------------------------------------------------
# The chain's events are the source of truth of what happened (requested, opted in, verified, claimed); these
# rows keep what the chain does not: the operator's OpenADR-shaped metadata of each request (keyed by its chain
# command key, which links it to the DemandResponseRequested event through the transaction hash) and the
# console's M&V figure per participant with the recordDelivery command that stated it.

dr_events = Table(
    "dr_events", metadata,
    Column("key", String(40), primary_key=True),          # the requestDemandResponse command key
    Column("created", Double, nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("target_kw", Double, nullable=False),
    Column("duration_s", Double, nullable=False),
    Column("price_per_kwh", BigInteger, nullable=False),  # token base units per verified kWh
    Column("compensation", BigInteger, nullable=False),   # escrowed, token base units
    Column("signal", String(16), nullable=False),
    Column("level", Double, nullable=False),
    Column("targets", Text, nullable=False),              # JSON list of participant or group names
    Column("note", Text, nullable=False, server_default=""),
)

dr_deliveries = Table(
    "dr_deliveries", metadata,
    Column("event_key", String(40), primary_key=True),    # dr_events.key, or chain-<id> (another console)
    Column("participant", String(42), primary_key=True),  # checksummed address
    Column("name", String(80), nullable=False),
    Column("baseline_wh", BigInteger, nullable=True),     # unused, NULL: the stated baseline before
    #                                                       recordDelivery took the verified Wh (kept: 0010)
    Column("verified_wh", BigInteger, nullable=True),     # the M&V over the event's intervals, stated on chain
    Column("command_key", String(80), nullable=True),     # the recordDelivery command
    Column("problem", Text, nullable=True),               # why there is no figure
    Column("computed", Double, nullable=False),
)

# -- signed-order settlement (migration 0007_settlement): console/store/settlement_store.py ----------------

settlement_orders = Table(
    "settlement_orders", metadata,
    Column("order_id", String(80), primary_key=True),
    Column("participant", String(42), nullable=False),
    Column("message", Text, nullable=False),
    Column("signature", String(140), nullable=False),
    Column("nonce", String(80), nullable=False),
    Column("stored", Float, nullable=False),
    Index("ix_settlement_orders_nonce", "participant", "nonce"),
)
settlement_matches = Table(
    "settlement_matches", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("product", BigInteger, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("buy_id", String(80), nullable=False),
    Column("sell_id", String(80), nullable=False),
    Column("state", String(16), nullable=False),
    Column("batch", String(80)),
    Column("trade_id", BigInteger),
    Column("value", BigInteger),
    Column("delivery_end", BigInteger),
    Column("delivered_wh", BigInteger),
    Column("tx_hash", String(80)),
    Column("error", Text),
    Column("recorded", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Index("ix_settlement_matches_state", "state", "seq"),
    Index("ix_settlement_matches_trade", "trade_id"),
)
settlement_cursor = Table(
    "settlement_cursor", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("block", BigInteger, nullable=False),
    Column("log_index", BigInteger, nullable=False),
)

# -- the participant register (migration 0008_participants): console/store/participants_store.py reads and
# writes it (not the historian's older `participants` table above) -----------------------------------------

participant_register = Table(
    "participant_register", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("type", String(16), nullable=False),
    Column("bus", String(64), nullable=False),
    Column("wallet", String(42), nullable=False, unique=True),
    Column("meters", Text, nullable=False),  # JSON [[device, account|null], …]
    Column("devices", Text, nullable=False),  # JSON [device, …]
    Column("tariff", String(64), nullable=False),
    Column("dr_enrolled", SmallInteger, nullable=False),
    Column("suspended", SmallInteger, nullable=False),
    Column("suspended_reason", Text, nullable=True),
    Column("token_sha256", String(64), nullable=True, unique=True),
    Column("token_rotated_us", BigInteger, nullable=True),
    Column("chain_keys", Text, nullable=False),  # JSON [key, …]
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)
