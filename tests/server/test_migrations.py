"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.db import Base, init_db, make_engine


def test_upgrade_head_matches_the_models_and_is_idempotent(database_url):
    engine = make_engine(database_url)
    init_db(engine)
    init_db(engine)  # a restart: nothing to do
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert MigrationContext.configure(conn).get_current_revision() == "0007"
    assert diff == []
    assert {"facility", "reader", "checkin_event", "daily_usage", "area_daily_usage", "daily_citizen",
            "refused_daily", "quarantine", "dashboard_session", "failed_auth",
            "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()
