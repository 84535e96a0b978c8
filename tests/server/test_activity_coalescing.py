"""Heartbeats and statuses are coalesced per batch: one write per reader (its newest news),
a fixed number of statements however many messages came, and a retained heartbeat or
status (the broker replaying an old message on subscribe) is no sign of life."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text
from srvhelpers import register_fleet

from contract.events import CheckInEvent, Method, new_event_id
from contract.heartbeat import Heartbeat, HeartbeatFigures
from contract.levels import TrustLevel
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
    """A list that collects (statement, readers written) of every UPDATE of the reader table
    (an executemany's parameter sets, or the rows of the JSON array a statement carries)."""
    seen: list[tuple[str, int]] = []

    def before(_conn, _cursor, statement, parameters, _context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE READER"):
            if executemany:
                seen.append((statement, len(parameters)))
            else:
                arrays = [p for p in parameters if isinstance(p, str) and p.startswith("[")]
                seen.append((statement, len(json.loads(arrays[0])) if arrays else 1))

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


def _figures(store: EventStore, facility: str, reader: str):  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT software_version, outbox_depth, outbox_oldest_age_s, readers_attached, "
                                 "last_error, last_checkin_at FROM reader WHERE facility_code = :f AND reader_id = :r"),
                            {"f": facility, "r": reader}).one()


def _utc(value: datetime | str) -> datetime:
    """A stored time as read by raw SQL (SQLite gives text, naive in UTC)."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _beat(version: str, depth: int, **more: object) -> bytes:
    return Heartbeat(software_version=version, outbox_depth=depth, readers=["qr", "chip"], **more).to_json_bytes()


def test_a_batch_of_check_ins_heartbeats_and_statuses_is_one_statement_with_each_readers_newest_news(store):
    writes = _reader_writes(store)
    now = datetime.now(UTC)
    events = [CheckInEvent(event_id=new_event_id(), facility_code=F[3], reader_id="desk-1",
                           occurred_at=now - timedelta(minutes=m), method=Method.QR, trust_level=TrustLevel.QR_ONLY,
                           citizen_pseudonym="ab" * 32) for m in (5, 1, 9)]
    store.store(events, [
        Activity(F[3], "desk-1", "heartbeat", now, payload=_beat("0.3.0", 4, outbox_oldest_age_s=12.5)),
        Activity(F[3], "desk-2", "heartbeat", now, payload=b"not json"),  # still a sign of life
        Activity(F[3], "desk-1", "heartbeat", now, payload=_beat("0.3.1", 7, errors=["first", "last\x07"])),
        Activity(F[3], "desk-3", "status", now, "online"),
    ])
    assert len(writes) == 1 and writes[0][1] == 3, writes
    one = _figures(store, F[3], "desk-1")
    assert (one.software_version, one.outbox_depth, one.outbox_oldest_age_s, one.readers_attached,
            one.last_error) == ("0.3.1", 7, None, 2, "last")  # the newest heartbeat's figures, all of them
    assert abs(_utc(one.last_checkin_at) - (now - timedelta(minutes=1))) < timedelta(seconds=1)
    assert _row(store, F[3], "desk-2").last_heartbeat_at is not None
    assert _figures(store, F[3], "desk-2").software_version is None  # figures left as they were
    three = _row(store, F[3], "desk-3")
    assert three.status == "online" and three.last_seen_at is not None and three.last_heartbeat_at is None


def test_only_the_newest_heartbeat_of_a_reader_in_a_batch_is_parsed(store, monkeypatch):
    parsed: list[bytes] = []
    real = HeartbeatFigures.parse.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(HeartbeatFigures, "parse", classmethod(lambda cls, p: parsed.append(p) or real(cls, p)))
    now = datetime.now(UTC)
    store.store([], [Activity(F[4], "desk-1", "heartbeat", now, payload=_beat(f"0.{i}", i)) for i in range(50)])
    assert len(parsed) == 1 and _figures(store, F[4], "desk-1").outbox_depth == 49


def test_an_older_check_in_never_moves_a_readers_last_check_in_back(store):
    now = datetime.now(UTC)

    def event(at: datetime) -> CheckInEvent:
        return CheckInEvent(event_id=new_event_id(), facility_code=F[5], reader_id="desk-1", occurred_at=at,
                            method=Method.QR, trust_level=TrustLevel.QR_ONLY, citizen_pseudonym="cd" * 32)

    store.store([event(now - timedelta(minutes=2))])
    store.store([event(now - timedelta(hours=2))])
    at = _utc(_figures(store, F[5], "desk-1").last_checkin_at)
    assert abs(at - (now - timedelta(minutes=2))) < timedelta(seconds=1)
