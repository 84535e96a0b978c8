"""The latest heartbeat's figures on each reader's row: software version, outbox, card readers, last error.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("software_version", sa.String(64)),
    ("outbox_depth", sa.Integer()),
    ("outbox_oldest_age_s", sa.Float()),
    ("readers_attached", sa.Integer()),
    ("last_error", sa.String(200)),
)


def upgrade() -> None:
    with op.batch_alter_table("reader") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reader") as batch:
        for name, _kind in COLUMNS:
            batch.drop_column(name)
