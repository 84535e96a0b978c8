"""The counting rules of docs/counting.md, one test per rule, on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from edge.events import CheckInEvent, Method, new_event_id
from edge.trust.levels import TrustLevel
from server.area_queries import Area
from server.db import Reader, init_db, make_engine
from server.report import Period, build_report
from server.store import Activity, EventStore

VN = timezone(timedelta(hours=7))
READER = Reader.__table__


def _event(code: str, at: datetime, citizen: int, trust: TrustLevel = TrustLevel.CHIP_VERIFIED,
           event_id: str | None = None) -> CheckInEvent:
    return CheckInEvent(event_id=event_id or new_event_id(), facility_code=code, reader_id="desk-1", occurred_at=at,
                        method=Method.CHIP, trust_level=trust, citizen_pseudonym=f"{citizen:064x}")


@pytest.fixture
def store(database_url: str) -> EventStore:
    engine = make_engine(database_url)
    init_db(engine)
    s = EventStore(engine)
    s.import_facilities(
        "code,name,type,province,district,commune\n"
        "34001,Bệnh viện A,hospital,Thái Bình,Vũ Thư,\n"
        "34002,Trạm y tế B,health_station,Thái Bình,Kiến Xương,\n"
        "34003,Trạm y tế C,health_station,Thái Bình,Kiến Xương,\n"
    )
    for code in ("34001", "34002", "34003"):
        s.add_reader(code, "desk-1")
    return s


def _report(store: EventStore, period: str = "2026-11"):  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return build_report(conn, Period.parse(period), Area("Thái Bình"))


def test_check_in_is_an_accepted_read_counted_once_by_event_id_on_its_local_day(store):
    first = _event("34001", datetime(2026, 11, 5, 8, 0, tzinfo=VN), 1)
    store.store([first, _event("34001", datetime(2026, 11, 5, 9, 0, tzinfo=VN), 2)])
    store.store([first])  # the outbox delivered it again: absorbed
    # 00:30 on 1 December in Hanoi is 30 November in UTC: it counts in December
    store.store([_event("34001", datetime(2026, 11, 30, 17, 30, tzinfo=UTC), 3)])
    assert _report(store, "2026-11").total.checkins == 2
    assert _report(store, "2026-12").total.checkins == 1


def test_rejected_attempt_is_counted_beside_check_ins_never_inside_them(store):
    at = datetime(2026, 11, 5, 8, 0, tzinfo=VN)
    store.store([_event("34001", at, 1), _event("34001", at, 2, TrustLevel.INVALID),
                 _event("34001", at, 3, TrustLevel.INVALID), _event("34001", at, 4, TrustLevel.QR_ONLY)])
    total = _report(store).total
    assert (total.checkins, total.rejected) == (2, 2)  # qr_only is a check-in: identified, not verified


def test_distinct_citizen_counts_a_person_once_per_period_across_facilities_and_districts(store):
    store.store([_event("34001", datetime(2026, 11, 5, 8, 0, tzinfo=VN), 7),
                 _event("34002", datetime(2026, 11, 6, 8, 0, tzinfo=VN), 7),
                 _event("34002", datetime(2026, 11, 20, 8, 0, tzinfo=VN), 7),
                 _event("34002", datetime(2026, 12, 1, 8, 0, tzinfo=VN), 7)])
    report = _report(store, "2026-11")
    assert report.total.citizens == 1
    assert {d.label: d.citizens for d in report.by_district} == {"Vũ Thư": 1, "Kiến Xương": 1}
    assert _report(store, "2026-Q4").total.citizens == 1  # November and December: still one person


def test_distinct_citizen_excludes_people_seen_only_in_rejected_attempts(store):
    at = datetime(2026, 11, 5, 8, 0, tzinfo=VN)
    store.store([_event("34001", at, 1), _event("34001", at, 2, TrustLevel.INVALID)])
    assert _report(store).total.citizens == 1


def test_covered_facility_in_a_period_stored_a_card_read_and_live_coverage_needs_a_reader_heard(store):
    at = datetime(2026, 11, 5, 8, 0, tzinfo=VN)
    store.store([_event("34001", at, 1), _event("34002", at, 2, TrustLevel.INVALID)])
    store.store([], [Activity("34003", "desk-1", "heartbeat", datetime.now(UTC))])
    report = _report(store)
    assert (report.total.with_reader, report.total.facilities) == (2, 3)  # a rejected read is use; a heartbeat is not
    assert [m.code for m in report.without_reader] == ["34003"]
    live = store.coverage("province", days=7)
    assert live.total.covered == 1  # today: only 34003's reader was heard within 7 days


def test_offline_reader_announced_silent_or_never_seen(store):
    now = datetime.now(UTC)
    store.store([], [Activity("34001", "desk-1", "heartbeat", now), Activity("34002", "desk-1", "heartbeat", now)])
    store.store([], [Activity("34002", "desk-1", "status", now, "offline")])
    with store.engine.begin() as conn:
        conn.execute(update(READER).where(READER.c.facility_code == "34001")
                     .values(last_seen_at=now - timedelta(minutes=16)))
    states = {r.facility_code: (r.online, r.offline_reason) for r in store.readers(timedelta(minutes=15))}
    assert states == {"34001": (False, "missed_heartbeats"), "34002": (False, "last_will"),
                      "34003": (False, "never_seen")}
    # a retained "online" replayed by the broker on the server's reconnect is not a sign of life
    store.store([], [Activity("34003", "desk-1", "status", now, "online", retained=True)])
    assert {r.facility_code: r.online for r in store.readers(timedelta(minutes=15))}["34003"] is False
