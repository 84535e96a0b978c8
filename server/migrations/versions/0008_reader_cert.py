"""The TLS client certificates issued to readers by the device CA (serial, validity, revocation).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reader_cert",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("facility_code", sa.String(32), nullable=False),
        sa.Column("reader_id", sa.String(64), nullable=False),
        sa.Column("common_name", sa.String(128), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["facility_code", "reader_id"], ["reader.facility_code", "reader.reader_id"]),
    )
    op.create_index("ix_reader_cert_reader", "reader_cert", ["facility_code", "reader_id"])


def downgrade() -> None:
    op.drop_index("ix_reader_cert_reader", table_name="reader_cert")
    op.drop_table("reader_cert")
