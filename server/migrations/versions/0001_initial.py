"""Initial schema: registry, events, daily rollups, refusals.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
# SQLite: the event and rollup tables are clustered on their primary key (WITHOUT ROWID):
# one B-tree per table instead of a table plus a key index, half the writes per event.


def upgrade() -> None:
    op.create_table(
        "facility",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("province", sa.String(100), nullable=False),
        sa.Column("district", sa.String(100), nullable=False),
        sa.Column("commune", sa.String(100), nullable=False),
    )
    op.create_index("ix_facility_area", "facility", ["province", "district"])
    op.create_table(
        "reader",
        sa.Column("facility_code", sa.String(32), sa.ForeignKey("facility.code"), primary_key=True),
        sa.Column("reader_id", sa.String(64), primary_key=True),
        sa.Column("mqtt_username", sa.String(128), unique=True),
        sa.Column("password_hash", sa.String(300)),
        sa.Column("registered_at", TZ, nullable=False),
        sa.Column("last_checkin_at", TZ),
        sa.Column("last_heartbeat_at", TZ),
        sa.Column("last_seen_at", TZ),
        sa.Column("status", sa.String(8)),
        sa.Column("status_at", TZ),
    )
    op.create_table(
        "checkin_event",
        sa.Column("event_id", sa.String(26), primary_key=True),
        sa.Column("facility_code", sa.String(32), nullable=False),
        sa.Column("reader_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("local_day", sa.Date, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("trust_level", sa.String(32), nullable=False),
        sa.Column("citizen_pseudonym", sa.String(64), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "daily_usage",
        sa.Column("facility_code", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("method", sa.String(8), primary_key=True),
        sa.Column("trust_level", sa.String(32), primary_key=True),
        sa.Column("checkins", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_daily_usage_day", "daily_usage", ["day"])
    op.create_table(
        "daily_citizen",
        sa.Column("facility_code", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("citizen_pseudonym", sa.String(64), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "refused_daily",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("refused_daily", "daily_citizen", "daily_usage", "checkin_event", "reader", "facility"):
        op.drop_table(table)
