"""Daily check-ins per district (and province), method and trust level.

Province- and district-wide usage over months reads this rollup (a few rows per
district and day) instead of summing every facility's daily rows. Maintained in the
same transaction as the events; backfilled here from daily_usage.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "area_daily_usage",
        sa.Column("province", sa.String(100), primary_key=True),
        sa.Column("district", sa.String(100), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("method", sa.String(8), primary_key=True),
        sa.Column("trust_level", sa.String(32), primary_key=True),
        sa.Column("checkins", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_area_daily_usage_day", "area_daily_usage", ["day"])
    op.execute(
        "INSERT INTO area_daily_usage (province, district, day, method, trust_level, checkins) "
        "SELECT f.province, f.district, u.day, u.method, u.trust_level, SUM(u.checkins) "
        "FROM daily_usage u JOIN facility f ON f.code = u.facility_code "
        "GROUP BY f.province, f.district, u.day, u.method, u.trust_level"
    )


def downgrade() -> None:
    op.drop_table("area_daily_usage")
