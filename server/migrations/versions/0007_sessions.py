"""Dashboard sessions and failed-authentication counters in the database, shared by every server
process and kept across restarts (server/security.py).

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_session",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dashboard_session_expires_at", "dashboard_session", ["expires_at"])
    op.create_table(
        "failed_auth",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_failed_auth_window_start", "failed_auth", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_failed_auth_window_start", "failed_auth")
    op.drop_table("failed_auth")
    op.drop_index("ix_dashboard_session_expires_at", "dashboard_session")
    op.drop_table("dashboard_session")
