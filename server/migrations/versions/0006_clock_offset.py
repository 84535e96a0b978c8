"""The desks' clock offsets (docs/clock.md): per event the measured offset and the desk's own read
time when the server corrected it; per reader the latest offset.

Revision ID: 0006
Revises: 0004 (0005 is written on another branch; the chain is re-linked when they merge)
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EVENT_COLUMNS = (("clock_offset_s", sa.Float()), ("desk_occurred_at", sa.DateTime(timezone=True)))
READER_COLUMNS = (("clock_offset_s", sa.Float()), ("clock_offset_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    for table, columns in (("checkin_event", EVENT_COLUMNS), ("reader", READER_COLUMNS)):
        with op.batch_alter_table(table) as batch:
            for name, kind in columns:
                batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for table, columns in (("checkin_event", EVENT_COLUMNS), ("reader", READER_COLUMNS)):
        with op.batch_alter_table(table) as batch:
            for name, _kind in columns:
                batch.drop_column(name)
