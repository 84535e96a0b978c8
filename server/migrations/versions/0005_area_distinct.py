"""Distinct citizens per area and calendar period, kept at ingest (exact), and the writer's index.

The dashboard, the report and the API read a province's or the country's distinct
citizens for a month or a quarter from one row here instead of a count(DISTINCT) over
every citizen-day of the range (seconds to minutes at 10 M events). The writer keeps the
counters in the same transaction as the events (server/store/distinct.py); its check
"has this citizen another row in this area and period" reads daily_citizen by pseudonym
and day, hence the index. Backfilled here from daily_citizen, on SQLite and PostgreSQL.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from server.store.distinct import rebuild_counters

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "area_distinct",
        sa.Column("scope", sa.String(320), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("citizens", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_daily_citizen_pseudonym_day", "daily_citizen", ["citizen_pseudonym", "day"])
    rebuild_counters(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_daily_citizen_pseudonym_day", "daily_citizen")
    op.drop_table("area_distinct")
