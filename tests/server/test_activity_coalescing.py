"""Heartbeats and statuses are coalesced per batch: one write per reader (its newest news),
a fixed number of statements however many messages came, and a retained heartbeat or
status (the broker replaying an old message on subscribe) is no sign of life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text
from srvhelpers import register_fleet

from server.db import init_db, make_engine
from server.store import Activity, EventStore
from simulators.fleet import facility_codes

F = facility_codes(100)  # 100 facilities with 10 readers each, desk-1 to desk-10


@pytest.fixture
def store(database_url):
    store = EventStore(make_engine(database_url))
    init_db(store.engine)
    assert register_fleet(store, 100, readers=10) == F
    yield store
    store.engine.dispose()


def _reader_writes(store: EventStore):  # type: ignore[no-untyped-def]
    """A list that collects (statement, rows) of every UPDATE of the reader table."""
    seen: list[tuple[str, int]] = []

    def before(_conn, _cursor, statement, parameters, _context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE READER"):
            seen.append((statement, len(parameters) if executemany else 1))

    event.listen(store.engine, "before_cursor_execute", before)
    return seen


def _row(store: EventStore, facility: str, reader: str):  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT status, status_at, last_heartbeat_at, last_seen_at FROM reader "
                                 "WHERE facility_code = :f AND reader_id = :r"), {"f": facility, "r": reader}).one()


def test_a_thousand_heartbeats_from_a_thousand_readers_are_one_statement(store):
    writes = _reader_writes(store)
    now = datetime.now(UTC)
    beats = [Activity(code, f"desk-{d}", "heartbeat", now) for code in F for d in range(1, 11)]
    store.store([], beats + beats)  # each twice: still one row per reader
    assert len(writes) == 1 and writes[0][1] == 1000, writes
    assert all(_row(store, F[i], "desk-3").last_heartbeat_at is not None for i in (0, 50, 99))


def test_the_newest_status_wins_and_one_reader_is_written_once(store):
    writes = _reader_writes(store)
    now = datetime.now(UTC)
    store.store([], [Activity(F[1], "desk-1", "status", now, "online"),
                     Activity(F[1], "desk-1", "heartbeat", now),
                     Activity(F[1], "desk-1", "heartbeat", now),
                     Activity(F[1], "desk-1", "status", now, "offline")])
    assert sum(rows for _s, rows in writes) == 1
    row = _row(store, F[1], "desk-1")
    assert row.status == "offline" and row.status_at is not None and row.last_heartbeat_at is not None


def test_a_retained_heartbeat_or_status_is_no_sign_of_life(store):
    old = datetime.now(UTC) - timedelta(days=3)
    store.store([], [Activity(F[2], "desk-2", "heartbeat", old, retained=True),
                     Activity(F[2], "desk-2", "status", old, "online", retained=True)])
    row = _row(store, F[2], "desk-2")
    assert row.status == "online"  # what the broker says the reader last said
    assert row.last_heartbeat_at is None and row.last_seen_at is None and row.status_at is None
    store.store([], [Activity(F[2], "desk-3", "heartbeat", old, retained=True)])
    assert _row(store, F[2], "desk-3").last_seen_at is None
