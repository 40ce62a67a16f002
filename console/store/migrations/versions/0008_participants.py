"""Participants as the admin keeps them (issue 18): identity, bus, meters and devices, wallet, tariff, DR
enrolment, suspension, the hashed API token and the chain commands of the newest registration.

Its own table, participant_register: 0001's ``participants`` skeleton (id, name, account, role; the
``devices`` table points at it) was never used and stays as it is.

Revision ID: 0008
Revises: 0006 (the integrator rechains it after 0007)
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participant_register",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("bus", sa.String(64), nullable=False),
        sa.Column("wallet", sa.String(42), nullable=False, unique=True),
        sa.Column("meters", sa.Text, nullable=False),
        sa.Column("devices", sa.Text, nullable=False),
        sa.Column("tariff", sa.String(64), nullable=False),
        sa.Column("dr_enrolled", sa.SmallInteger, nullable=False),
        sa.Column("suspended", sa.SmallInteger, nullable=False),
        sa.Column("suspended_reason", sa.Text, nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=True, unique=True),
        sa.Column("token_rotated_us", sa.BigInteger, nullable=True),
        sa.Column("chain_keys", sa.Text, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("participant_register")
