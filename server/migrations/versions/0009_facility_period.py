"""The calendar weeks, months, quarters and years in which each facility stored a card read.

The covered-facility figures (the dashboard's weekly coverage against the target, the
report's facilities with a working reader) read one row per facility and period here
instead of every facility-day of ``daily_usage`` (server/store/periods.py). Backfilled
here from daily_usage, on SQLite and PostgreSQL.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from server.store.periods import rebuild_periods

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facility_period",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("facility_code", sa.String(32), primary_key=True),
        sqlite_with_rowid=False,
    )
    rebuild_periods(op.get_bind())


def downgrade() -> None:
    op.drop_table("facility_period")
