"""The counting rules of docs/counting.md, one test per rule, on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text, update
from srvhelpers import auth, make_settings

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from server.app import create_app
from server.db import Reader, init_db, make_engine
from server.officer import Scope, build_view
from server.report import Period, build_report
from server.store import Activity, EventStore, distinct
from server.store.areas import Area, figures_by
from server.store.base import FACILITY
from server.store.distinct import KINDS, calendar_period, facility_scopes, rebuild_counters

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


def test_a_facility_moved_to_another_district_keeps_its_earlier_check_ins_and_citizens_in_the_old_one(store):
    """Check-ins, distinct citizens and weekly coverage follow one rule: an event counts in the
    district (and under the type) its facility had when it was stored, so after a move the
    earlier figures stay where they were."""
    store.store([_event("34002", datetime(2026, 10, 7, 9, tzinfo=VN), 1),
                 _event("34002", datetime(2026, 10, 8, 9, tzinfo=VN), 2),
                 _event("34002", datetime(2026, 10, 9, 9, tzinfo=VN), 2, TrustLevel.INVALID)])
    store.import_facilities("code,name,type,province,district,commune\n"
                            "34002,Trạm y tế B,hospital,Thái Bình,Vũ Thư,\n")  # Kiến Xương -> Vũ Thư, a hospital
    store.store([_event("34002", datetime(2026, 11, 3, 9, tzinfo=VN), 3)])

    def by_district(period: str) -> dict[str, tuple[int, int, int | None]]:
        return {r.label: (r.checkins, r.rejected, r.citizens) for r in _report(store, period).by_district
                if r.checkins or r.rejected or r.citizens}

    assert by_district("2026-10") == {"Kiến Xương": (2, 1, 2)}
    assert by_district("2026-11") == {"Vũ Thư": (1, 0, 1)}
    assert by_district("2026-Q4") == {"Kiến Xương": (2, 1, 2), "Vũ Thư": (1, 0, 1)}
    with store.engine.connect() as conn:  # the country, by province and for the province: all of them
        country = figures_by(conn, Area(), FACILITY.c.province, date(2026, 10, 1), date(2026, 12, 31))
        district = figures_by(conn, Area("Thái Bình", "Kiến Xương"), None, date(2026, 10, 1), date(2026, 12, 31))
    assert [(f.label, f.checkins, f.rejected, f.citizens) for f in country] == [("Thái Bình", 3, 1, 3)]
    assert [(f.checkins, f.rejected, f.citizens) for f in district] == [(2, 1, 2)]

    def by_type(period: str) -> dict[str, tuple[int, int, int | None]]:
        return {r.label: (r.checkins, r.rejected, r.citizens) for r in _report(store, period).by_type
                if r.checkins or r.rejected or r.citizens}

    assert by_type("2026-10") == {"Trạm y tế": (2, 1, 2)} and by_type("2026-11") == {"Bệnh viện": (1, 0, 1)}
    from server.store.areas import coverage_series

    weeks = [(date(2026, 10, 5), date(2026, 10, 11)), (date(2026, 11, 2), date(2026, 11, 8))]
    with store.engine.connect() as conn:
        old, new = (coverage_series(conn, Area("Thái Bình", d), weeks) for d in ("Kiến Xương", "Vũ Thư"))
    assert [w.used for w in old] == [1, 0] and [w.used for w in new] == [0, 1]


def test_covered_facility_in_a_period_stored_a_card_read_and_live_coverage_needs_a_reader_heard(store):
    at = datetime(2026, 11, 5, 8, 0, tzinfo=VN)
    store.store([_event("34001", at, 1), _event("34002", at, 2, TrustLevel.INVALID)])
    store.store([], [Activity("34003", "desk-1", "heartbeat", datetime.now(UTC))])
    report = _report(store)
    assert (report.total.with_reader, report.total.facilities) == (2, 3)  # a rejected read is use; a heartbeat is not
    assert [m.code for m in report.without_reader] == ["34003"]
    live = store.coverage("province", days=7)
    assert live.total.covered == 1  # today: only 34003's reader was heard within 7 days
    # the whole country, with no area filter: every facility counts (the totals once counted one row)
    with store.engine.connect() as conn:
        country = build_report(conn, Period.parse("2026-11"), Area())
        view = build_view(conn, Scope.parse({"period": "month", "date": "2026-11-05"}, date(2026, 11, 5)),
                          timezone="Asia/Ho_Chi_Minh", coverage_days=7, offline_after=timedelta(minutes=15))
    assert (country.total.with_reader, country.total.facilities) == (2, 3)
    assert (view.totals.with_reader, view.totals.facilities, view.live_facilities, view.live_covered) == (2, 3, 3, 1)


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


# ---------------------------------------------------------------------- distinct citizens: exact at any scale
# Four facilities: two in one district (34002, 34003), one in another district of the same province, one in
# another province; types mixed so that the report's "by facility type" rows have counters of their own.
FACILITIES = {"34001": ("Thái Bình", "Vũ Thư", "hospital"), "34002": ("Thái Bình", "Kiến Xương", "health_station"),
              "34003": ("Thái Bình", "Kiến Xương", "health_station"), "35001": ("Hà Nam", "Lý Nhân", "hospital")}
#: Days around a quarter's (and a month's) end: 15 September to 25 October 2026.
WINDOW = date(2026, 9, 15)


@pytest.fixture
def fleet(database_url: str) -> EventStore:
    engine = make_engine(database_url)
    init_db(engine)
    s = EventStore(engine)
    s.import_facilities("code,name,type,province,district,commune\n" + "".join(
        f"{c},Cơ sở {c},{t},{p},{d},\n" for c, (p, d, t) in FACILITIES.items()))
    for code in FACILITIES:
        s.add_reader(code, "desk-1")
    return s


def _wipe(store: EventStore) -> None:
    with store.engine.begin() as conn:
        for table in ("checkin_event", "daily_usage", "area_daily_usage", "daily_citizen", "area_distinct",
                      "facility_period", "area_coverage", "type_daily_usage", "facility_month_usage"):
            conn.execute(text(f"DELETE FROM {table}"))


def _brute(events: list[CheckInEvent], codes: set[str], start: date, end: date) -> int:
    """count(DISTINCT pseudonym) by hand: accepted reads at these facilities on these local days."""
    return len({e.citizen_pseudonym for e in events if e.facility_code in codes and e.trust_level != TrustLevel.INVALID
                and start <= e.occurred_at.astimezone(VN).date() <= end})


def _codes(province: str | None = None, district: str | None = None, kind: str | None = None) -> set[str]:
    return {c for c, (p, d, t) in FACILITIES.items()
            if province in (None, p) and district in (None, d) and kind in (None, t)}


def _counters(store: EventStore) -> dict[tuple[str, str, date], int]:
    with store.engine.connect() as conn:
        return {(s, k, p if isinstance(p, date) else date.fromisoformat(p)): n for s, k, p, n in
                conn.execute(text("SELECT scope, kind, period_start, citizens FROM area_distinct"))}


reads = st.lists(st.tuples(st.sampled_from(sorted(FACILITIES)), st.integers(0, 40), st.integers(0, 6),
                           st.integers(0, 9)), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reads=reads, order=st.randoms(use_true_random=False), cuts=st.lists(st.integers(1, 40), max_size=4))
def test_distinct_citizens_are_exact_against_a_brute_force_count_whatever_the_order_and_repeats(
        fleet, reads, order, cuts):
    """Random reads (the same citizen at two facilities of one district, across the end of a
    quarter, some rejected) arrive in random order, in random batches, some delivered twice:
    every counter, every page's and the API's figure equals count(DISTINCT) done by hand, and a
    rebuild from daily_citizen (the migration's backfill) finds the same counters."""
    _wipe(fleet)
    events = [_event(code, datetime.combine(WINDOW + timedelta(days=day), time(8 + hour % 9), tzinfo=VN), citizen,
                     TrustLevel.INVALID if hour == 9 else TrustLevel.CHIP_VERIFIED)
              for code, day, citizen, hour in reads]
    arrival = events + [e for e in events if order.random() < 0.3]  # the outbox delivers some again
    order.shuffle(arrival)  # late and out of order
    bounds = sorted({0, len(arrival), *(c for c in cuts if c < len(arrival))})
    for a, b in itertools.pairwise(bounds):
        fleet.store(arrival[a:b])
    counted = _counters(fleet)
    expected: dict[tuple[str, str, date], int] = {}
    for e in events:
        if e.trust_level == TrustLevel.INVALID:
            continue
        for s in facility_scopes(e.facility_code, *FACILITIES[e.facility_code]):
            for kind in KINDS:
                first, last = calendar_period(kind, e.occurred_at.astimezone(VN).date())
                members = {c for c in FACILITIES if s in facility_scopes(c, *FACILITIES[c])}
                expected[(s, kind, first)] = _brute(events, members, first, last)
    assert counted == expected
    with fleet.engine.begin() as conn:
        rebuild_counters(conn)
    assert _counters(fleet) == expected
    # the pages and the API: the report's quarter by district and type, a week series, a custom range
    with fleet.engine.connect() as conn:
        q4 = build_report(conn, Period.parse("2026-Q3"), Area("Thái Bình"))
    tb = _codes("Thái Bình")
    assert q4.total.citizens == _brute(events, tb, date(2026, 7, 1), date(2026, 9, 30))
    assert {r.label: r.citizens for r in q4.by_district if r.citizens} == {
        d: n for d in ("Vũ Thư", "Kiến Xương") if (n := _brute(events, _codes("Thái Bình", d), date(2026, 7, 1),
                                                               date(2026, 9, 30)))}
    assert {r.label for r in q4.by_type if r.citizens} <= {"Bệnh viện", "Trạm y tế"}
    weekly = fleet.usage(None, date(2026, 9, 16), date(2026, 10, 20), group_by="week", province="Thái Bình",
                         district="Kiến Xương")
    kx = _codes("Thái Bình", "Kiến Xương")
    for p in weekly.periods:
        first = date.fromisoformat(p.period)
        assert p.distinct_citizens == _brute(events, kx, max(first, date(2026, 9, 16)),
                                             min(first + timedelta(days=6), date(2026, 10, 20))), p.period
    assert weekly.distinct_citizens == _brute(events, kx, date(2026, 9, 16), date(2026, 10, 20))
    everywhere = fleet.usage(None, date(2026, 9, 1), date(2026, 9, 30), group_by="month")
    assert everywhere.distinct_citizens == _brute(events, set(FACILITIES), date(2026, 9, 1), date(2026, 9, 30))


def test_a_range_too_costly_to_count_exactly_answers_null_with_the_reason_never_an_error(fleet, monkeypatch):
    """50,000 citizen-days over a range that is no calendar period, with no time to spare: the
    figure is None/null with the reason (API 200), the calendar figures beside it are still
    exact, and the connection stays usable."""
    days = [date(2026, 9, 3) + timedelta(days=i) for i in range(20)]
    with fleet.engine.begin() as conn:
        conn.execute(text("INSERT INTO daily_citizen (facility_code, day, citizen_pseudonym) VALUES (:f, :d, :p)"),
                     [{"f": "34002", "d": d, "p": f"{i:064x}"} for d in days for i in range(2500)])
    fleet.store([_event("34002", datetime(2026, 9, 10, 8, tzinfo=VN), 10**6)])  # not among those rows
    monkeypatch.setattr(distinct, "EXACT_BUDGET_S", 0.0)
    custom = fleet.usage(None, date(2026, 9, 3), date(2026, 9, 22), group_by="month", province="Thái Bình")
    assert custom.distinct_citizens is None and custom.distinct_citizens_note == distinct.OVER_BUDGET
    one_day = fleet.usage(None, date(2026, 9, 10), date(2026, 9, 10), province="Thái Bình", district="Kiến Xương")
    assert one_day.distinct_citizens == 1  # a calendar day: its counter, which only the writer raised
    with fleet.engine.connect() as conn:
        figures = figures_by(conn, Area("Thái Bình"), FACILITY.c.district, date(2026, 9, 3), date(2026, 9, 22))
        assert {f.label: f.citizens for f in figures} == {"Kiến Xương": None, "Vũ Thư": None}
        assert conn.execute(text("SELECT count(*) FROM facility")).scalar_one() == 4  # still usable
    app = create_app(make_settings(str(fleet.engine.url.render_as_string(hide_password=False))), ingest=False)
    with TestClient(app) as client:
        answer = client.get("/api/v1/citizens", params={"from": "2026-09-03", "to": "2026-09-22", "province":
                                                        "Thái Bình", "group_by": "week"}, headers=auth())
    assert answer.status_code == 200
    assert answer.json()["distinct_citizens"] is None and "calendar" in answer.json()["distinct_citizens_note"]


def test_country_report_by_district_counts_a_district_name_shared_by_two_provinces_once_per_citizen(fleet):
    """At country level the report groups by district name: a name only one province has reads
    that district's counter; a name two provinces share is counted exactly across both."""
    fleet.import_facilities("code,name,type,province,district,commune\n"
                            "36001,Cơ sở X,hospital,Nam Định,Vũ Thư,\n")  # Vũ Thư: now in two provinces
    fleet.add_reader("36001", "desk-1")
    at = datetime(2026, 10, 7, 9, tzinfo=VN)
    fleet.store([_event("34001", at, 1), _event("36001", at, 1), _event("36001", at, 2), _event("34002", at, 1),
                 _event("35001", at, 3)])
    with fleet.engine.connect() as conn:
        report = build_report(conn, Period.parse("2026-Q4"), Area())
    assert report.total.citizens == 3
    assert {r.label: r.citizens for r in report.by_district} == {"Vũ Thư": 2, "Kiến Xương": 1, "Lý Nhân": 1}
    assert {r.label: r.citizens for r in report.by_type} == {"Bệnh viện": 3, "Trạm y tế": 1}


def test_the_exact_counts_of_one_request_share_one_budget_so_a_costly_range_cannot_multiply_it(fleet, monkeypatch):
    """A custom range cut at both ends needs three exact counts (two cut weeks and the total). Each
    that runs out of time spends the whole remaining budget; those after it must answer None at
    once, without running, so the request never spends more than one budget on exact counts."""
    clock = [1000.0]
    monkeypatch.setattr(distinct.time, "monotonic", lambda: clock[0])
    ran: list[float] = []

    real_budget = distinct.time_budget

    def spending_budget(conn, seconds):  # each exact count takes all the time it is given
        ran.append(seconds)
        clock[0] += seconds
        return real_budget(conn, 0.0)

    monkeypatch.setattr(distinct, "time_budget", spending_budget)
    fleet.store([_event("34002", datetime(2026, 9, 10, 8, tzinfo=VN), 7)])
    usage = fleet.usage(None, date(2026, 9, 3), date(2026, 9, 22), group_by="week", province="Thái Bình")
    assert usage.distinct_citizens is None and usage.distinct_citizens_note == distinct.OVER_BUDGET
    assert ran == [pytest.approx(distinct.EXACT_BUDGET_S)]  # the first spent it all; the others never ran
    ran.clear()
    # a new request: a new budget
    again = fleet.usage(None, date(2026, 9, 3), date(2026, 9, 22), group_by="week", province="Thái Bình")
    assert again.distinct_citizens is None and ran == [pytest.approx(distinct.EXACT_BUDGET_S)]


def test_weekly_coverage_counts_each_facility_once_per_week_it_read_a_card_out_of_all_in_the_area(fleet):
    """Three ISO weeks in Thái Bình (3 facilities): 34001 reads twice in week 1; 34001 and 34002 in
    week 2, with Hà Nam's 35001 outside the area; nothing in week 3."""
    from server.store.areas import coverage_series

    monday = date(2026, 9, 14)
    at = lambda d, h=9: datetime.combine(monday + timedelta(days=d), time(h), tzinfo=VN)  # noqa: E731
    fleet.store([_event("34001", at(0), 1), _event("34001", at(6, 16), 2),
                 _event("34001", at(7), 3), _event("34002", at(13), 4), _event("35001", at(8), 5)])
    weeks = [(monday + timedelta(weeks=i), monday + timedelta(weeks=i, days=6)) for i in range(3)]
    with fleet.engine.connect() as conn:
        series = coverage_series(conn, Area("Thái Bình"), weeks)
        country = coverage_series(conn, Area(), weeks)
    expected = [(start, used, 3) for (start, _), used in zip(weeks, [1, 2, 0], strict=True)]
    assert [(w.start, w.used, w.facilities) for w in series] == expected
    assert [w.used for w in country] == [1, 3, 0] and {w.facilities for w in country} == {4}


def _covered(store: EventStore) -> set[tuple[str, date, str]]:
    with store.engine.connect() as conn:
        return {(k, p if isinstance(p, date) else date.fromisoformat(p), f) for k, p, f in
                conn.execute(text("SELECT kind, period_start, facility_code FROM facility_period"))}


def _area_coverage(store: EventStore) -> dict[tuple[str, date, str, str], int]:
    with store.engine.connect() as conn:
        return {(k, p if isinstance(p, date) else date.fromisoformat(p), prov, d): n for k, p, prov, d, n in
                conn.execute(text("SELECT kind, period_start, province, district, facilities FROM area_coverage"))}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reads=reads, order=st.randoms(use_true_random=False), cuts=st.lists(st.integers(1, 40), max_size=4))
def test_covered_facilities_per_period_are_exact_against_a_brute_force_whatever_the_order_and_repeats(
        fleet, reads, order, cuts):
    """Random reads (rejected ones included: a read proves the reader works) across a month's and a
    quarter's end, and reads of a facility missing from the registry, arrive out of order, in random
    batches, some twice: each facility's weeks, months, quarters and years in ``facility_period``,
    the weekly coverage, the report's facilities with a working reader by district and a custom
    range's all equal the set of facilities with a read, worked out by hand; a rebuild from
    daily_usage (the migration's backfill) finds the same rows."""
    from server.store.areas import coverage_series
    from server.store.periods import PERIOD_KINDS, rebuild_coverage, rebuild_periods

    _wipe(fleet)
    events = [_event("99999" if citizen == 9 else code,
                     datetime.combine(WINDOW + timedelta(days=day), time(8 + hour % 9), tzinfo=VN), citizen,
                     TrustLevel.INVALID if hour == 9 else TrustLevel.CHIP_VERIFIED)
              for code, day, citizen, hour in reads]
    arrival = events + [e for e in events if order.random() < 0.3]
    order.shuffle(arrival)
    bounds = sorted({0, len(arrival), *(c for c in cuts if c < len(arrival))})
    for a, b in itertools.pairwise(bounds):
        fleet.store(arrival[a:b])
    registered = [e for e in events if e.facility_code in FACILITIES]
    expected = {(kind, calendar_period(kind, e.occurred_at.astimezone(VN).date())[0], e.facility_code)
                for e in registered for kind in PERIOD_KINDS}
    district_counts: dict[tuple[str, date, str, str], int] = {}
    for kind, first, code in expected:
        key = (kind, first, *FACILITIES[code][:2])
        district_counts[key] = district_counts.get(key, 0) + 1
    assert (_covered(fleet), _area_coverage(fleet)) == (expected, district_counts)
    with fleet.engine.begin() as conn:
        rebuild_periods(conn)
        rebuild_coverage(conn)
    assert (_covered(fleet), _area_coverage(fleet)) == (expected, district_counts)

    def used(codes: set[str], start: date, end: date) -> int:
        return len({e.facility_code for e in registered if e.facility_code in codes
                    and start <= e.occurred_at.astimezone(VN).date() <= end})

    monday = WINDOW - timedelta(days=WINDOW.weekday())
    weeks = [(monday + timedelta(weeks=i), monday + timedelta(weeks=i, days=6)) for i in range(7)]
    with fleet.engine.connect() as conn:
        for area, codes in ((Area(), set(FACILITIES)), (Area("Thái Bình"), _codes("Thái Bình")),
                            (Area("Thái Bình", "Kiến Xương"), _codes("Thái Bình", "Kiến Xương"))):
            assert [w.used for w in coverage_series(conn, area, weeks)] == [used(codes, s, e) for s, e in weeks]
        q3 = build_report(conn, Period.parse("2026-Q3"), Area("Thái Bình"))
        october = build_report(conn, Period.parse("2026-10"), Area())
        kx_q3 = build_report(conn, Period.parse("2026-Q3"), Area("Thái Bình", "Kiến Xương"))  # a probe each
        custom = figures_by(conn, Area("Thái Bình"), None, date(2026, 9, 20), date(2026, 10, 3))
    assert {r.label: r.with_reader for r in q3.by_district} == {
        d: used(_codes("Thái Bình", d), date(2026, 7, 1), date(2026, 9, 30)) for d in ("Vũ Thư", "Kiến Xương")}
    assert october.total.with_reader == used(set(FACILITIES), date(2026, 10, 1), date(2026, 10, 31))
    assert kx_q3.total.with_reader == used(_codes("Thái Bình", "Kiến Xương"), date(2026, 7, 1), date(2026, 9, 30))
    assert [m.code for m in kx_q3.without_reader] == sorted(
        _codes("Thái Bình", "Kiến Xương") - {e.facility_code for e in registered
                                             if e.occurred_at.astimezone(VN).date() <= date(2026, 9, 30)})
    assert custom[0].with_reader == used(_codes("Thái Bình"), date(2026, 9, 20), date(2026, 10, 3))
    checkins = {t: sum(1 for e in registered if e.trust_level != TrustLevel.INVALID
                       and FACILITIES[e.facility_code][0] == "Thái Bình" and FACILITIES[e.facility_code][2] == t
                       and e.occurred_at.astimezone(VN).date() <= date(2026, 9, 30))
                for t in ("hospital", "health_station")}
    assert {r.label: r.checkins for r in q3.by_type if r.checkins} == {
        {"hospital": "Bệnh viện", "health_station": "Trạm y tế"}[t]: n for t, n in checkins.items() if n}


def test_whole_months_are_read_from_their_month_rows_and_any_other_range_is_not():
    """A quarter, a year or any run of whole months is its months (February of a leap year
    included); a range cut inside a month, or reversed, is none."""
    from server.store.periods import whole_months

    assert whole_months(date(2028, 1, 1), date(2028, 3, 31)) == [date(2028, 1, 1), date(2028, 2, 1), date(2028, 3, 1)]
    assert len(whole_months(date(2026, 1, 1), date(2026, 12, 31)) or []) == 12
    assert whole_months(date(2028, 2, 1), date(2028, 2, 29)) == [date(2028, 2, 1)]
    assert whole_months(date(2028, 2, 1), date(2028, 2, 28)) is None  # a day short of the leap month
    assert whole_months(date(2026, 1, 2), date(2026, 1, 31)) is None
    assert whole_months(date(2026, 3, 1), date(2026, 1, 31)) is None


def test_a_per_facility_breakdown_too_costly_for_its_budget_answers_422_with_the_reason(fleet, monkeypatch):
    """20,000 more facilities to list: /api/v1/usage?breakdown=facility answers 422 naming what to
    ask instead (more than 10,000 facilities, or no time left to sum their days), never a 500 or
    seconds of CPU; with its budget the same request for one province lists every facility of it,
    its five years of days summed."""
    from server.store import queries
    from server.store.writer import rebuild_month_usage

    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(2000)]
    with fleet.engine.begin() as conn:
        conn.execute(text("INSERT INTO daily_usage (facility_code, day, method, trust_level, checkins) "
                          "VALUES (:f, :d, :m, 'chip_verified', 1)"),
                     [{"f": f, "d": d, "m": m} for d in days for f in ("34001", "34002", "34003", "35001")
                      for m in ("qr", "chip", "qr+chip")])
        rebuild_month_usage(conn)  # as the writer would have kept it
        conn.execute(text("INSERT INTO facility (code, name, type, province, district, commune) "
                          "VALUES (:c, :c, 'health_station', 'Hà Giang', 'Mèo Vạc', '')"),
                     [{"c": f"1{i:05d}"} for i in range(20_000)])
    app = create_app(make_settings(str(fleet.engine.url.render_as_string(hide_password=False))), ingest=False)
    query = {"from": "2020-01-01", "to": "2025-06-22", "breakdown": "facility"}
    with TestClient(app) as client:
        too_many = client.get("/api/v1/usage", params=query, headers=auth())  # 20,004 facilities listed
        monkeypatch.setattr(queries, "MAX_BREAKDOWN_FACILITIES", 100_000)
        monkeypatch.setattr(queries, "BREAKDOWN_BUDGET_S", 0.0)
        refused = client.get("/api/v1/usage", params=query, headers=auth())
        monkeypatch.setattr(queries, "BREAKDOWN_BUDGET_S", 30.0)
        served = client.get("/api/v1/usage", params=query | {"province": "Thái Bình"}, headers=auth())
    assert too_many.status_code == 422 and "20004 facilities" in too_many.json()["detail"]
    assert refused.status_code == 422 and refused.json()["detail"] == queries.BREAKDOWN_OVER_BUDGET
    assert served.status_code == 200
    assert {b["code"]: b["checkins"] for b in served.json()["breakdown"]} == dict.fromkeys(("34001", "34002", "34003"),
                                                                                            3 * 2000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reads=reads, cuts=st.lists(st.integers(1, 40), max_size=3), first=st.integers(0, 70),
       length=st.integers(0, 75))
def test_the_per_facility_breakdown_equals_a_brute_force_count_for_any_range_whole_months_or_cut(
        fleet, reads, cuts, first, length):
    """Random reads (rejected ones included: the API's check-ins are every read) in random
    batches, some twice, and a random range from late August to December: whole months come
    from the monthly rollup, cut months' days from the daily one, and every facility's figure
    equals the reads counted by hand (0 for a facility without any)."""
    _wipe(fleet)
    events = [_event(code, datetime.combine(WINDOW + timedelta(days=day), time(8 + hour % 9), tzinfo=VN), citizen,
                     TrustLevel.INVALID if hour == 9 else TrustLevel.CHIP_VERIFIED)
              for code, day, citizen, hour in reads]
    arrival = events + events[: len(events) // 3]  # delivered again: counted once
    bounds = sorted({0, len(arrival), *(c for c in cuts if c < len(arrival))})
    for a, b in itertools.pairwise(bounds):
        fleet.store(arrival[a:b])
    start = date(2026, 8, 25) + timedelta(days=first)
    end = start + timedelta(days=length)
    expected = {c: sum(1 for e in events if e.facility_code == c
                       and start <= e.occurred_at.astimezone(VN).date() <= end) for c in FACILITIES}
    assert {r.code: r.checkins for r in fleet.usage_by_facility(start, end)} == expected
    assert {r.code: r.checkins for r in fleet.usage_by_facility(start, end, province="Thái Bình")} == {
        c: n for c, n in expected.items() if FACILITIES[c][0] == "Thái Bình"}


def _store_at(start: threading.Barrier, writer: EventStore, batch: list[CheckInEvent],
              failures: list[BaseException]) -> None:
    start.wait()
    try:
        writer.store(batch)
    except BaseException as exc:  # the test asserts none: a thread would swallow it
        failures.append(exc)


def test_two_writers_storing_the_same_facility_weeks_at_once_count_each_facility_once(fleet):
    """Two writers (as two ingest members of a shared subscription) store reads of the same
    facilities in the same weeks at the same moment, 12 times: each facility counts once per
    week and month in ``area_coverage`` (the insert's RETURNING decides, not a read before it),
    equal to a rebuild from the stored rows."""
    from server.store.periods import rebuild_coverage, rebuild_periods

    _wipe(fleet)
    second = EventStore(make_engine(str(fleet.engine.url.render_as_string(hide_password=False))))
    failures: list[BaseException] = []
    for round_ in range(12):
        day = WINDOW + timedelta(days=3 * round_)
        batches = [[_event(code, datetime.combine(day, time(9 + w), tzinfo=VN), 100 * round_ + w)
                    for code in sorted(FACILITIES)] for w in range(2)]
        start = threading.Barrier(2)
        threads = [threading.Thread(target=_store_at, args=(start, w, b, failures))
                   for w, b in zip((fleet, second), batches, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures
    kept = (_covered(fleet), _area_coverage(fleet))
    with fleet.engine.begin() as conn:
        rebuild_periods(conn)
        rebuild_coverage(conn)
    assert kept == (_covered(fleet), _area_coverage(fleet))
    assert sum(n for (k, _p, _prov, _d), n in kept[1].items() if k == "week") == len(
        {(k, p, f) for k, p, f in kept[0] if k == "week"})
    second.engine.dispose()
