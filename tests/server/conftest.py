"""Fixtures for the server tests: real mosquitto, real PostgreSQL, a registered fleet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.services import Mosquitto, Postgres


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    with Mosquitto() as mosq:  # the shipped in-flight window (was 1000, a test-only value)
        yield mosq


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    if not Postgres.available():
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt install postgresql")
    with Postgres() as pg:
        yield pg


_db_counter = iter(range(10_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: SQLite in tmp_path, or a new database in the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.sqlite'}"
    pg: Postgres = request.getfixturevalue("postgres_server")
    import psycopg

    name = f"t{next(_db_counter)}"
    with psycopg.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/{name}"


