"""The HTTP API: tokens, registry, coverage against the 100% target, usage per period, CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from srvhelpers import ADMIN_TOKEN, READ_TOKEN, auth, facilities_csv, make_settings, register_fleet

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from server.app import create_app
from server.store import Activity

VN = timezone(timedelta(hours=7))


def _ev(facility: str, when: datetime, citizen: int, method: Method = Method.QR,
        trust: TrustLevel = TrustLevel.QR_ONLY) -> CheckInEvent:
    return CheckInEvent(event_id=new_event_id(), facility_code=facility, reader_id="desk-1", occurred_at=when,
                        method=method, trust_level=trust, citizen_pseudonym=f"{citizen:064x}")


@pytest.fixture
def app(database_url):
    app = create_app(make_settings(database_url), ingest=False)
    yield app


def test_nothing_answers_without_a_token_except_health(app):
    with TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
        for path in ("/api/v1/facilities", "/api/v1/readers", "/api/v1/coverage", "/metrics",
                     "/api/v1/openapi.json", "/api/v1/usage?from=2026-01-01&to=2026-01-02", "/dashboard"):
            assert client.get(path, follow_redirects=False).status_code in (401, 303), path
            assert client.get(path, headers=auth("x" * 20), follow_redirects=False).status_code in (401, 303), path
        # the dashboard sends a viewer without a token to its login form, which shows no data
        assert client.get("/dashboard", follow_redirects=False).headers["location"] == "/dashboard/login"
        login = client.post("/dashboard/login", data={"token": READ_TOKEN})
        assert "Tình hình sử dụng đầu đọc" in login.text
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404
        spec = client.get("/api/v1/openapi.json", headers=auth()).json()
        assert "/api/v1/coverage" in spec["paths"] and "/api/v1/usage" in spec["paths"]


def test_facility_import_needs_an_admin_token(app):
    body = facilities_csv(["34001", "34002"])
    with TestClient(app) as client:
        headers = {"Content-Type": "text/csv"}
        assert client.post("/api/v1/facilities/import", content=body, headers=headers | auth()).status_code == 403
        r = client.post("/api/v1/facilities/import", content=body, headers=headers | auth(ADMIN_TOKEN))
        assert r.json() == {"imported": 2}
        bad = client.post("/api/v1/facilities/import", content="code,name\nX,Y\n", headers=headers | auth(ADMIN_TOKEN))
        assert bad.status_code == 422
        rows = client.get("/api/v1/facilities", headers=auth()).json()
        assert [(r["code"], r["type"]) for r in rows] == [("34002", "health_station"), ("34001", "hospital")]


def test_coverage_counts_facilities_with_a_reader_heard_within_the_window(app):
    store = app.state.store
    codes = register_fleet(store, 6, extra=3)  # 9 facilities in 3 districts; 3 have no reader
    now = datetime.now(VN)
    store.store([_ev(codes[0], now, 1), _ev(codes[1], now - timedelta(days=2), 2)])
    store.store([_ev(codes[2], now - timedelta(days=10), 3)])  # too long ago
    store.store([], [Activity(codes[3], "desk-1", "heartbeat", now)])  # heartbeat only: covered
    store.store([], [Activity(codes[4], "desk-1", "status", now, "offline")])  # a last will: not covered
    with TestClient(app) as client:
        cov = client.get("/api/v1/coverage", params={"level": "province"}, headers=auth()).json()
        assert cov["total"] == {"facilities": 9, "covered": 3, "ratio": 0.3333, "missing_to_target": 6}
        assert cov["target_ratio"] == 1.0
        by_district = client.get("/api/v1/coverage", params={"level": "district"}, headers=auth()).json()
        assert sum(a["covered"] for a in by_district["areas"]) == 3
        assert {a["district"] for a in by_district["areas"]} == {"Vũ Thư", "Kiến Xương", "Tiền Hải"}
        wide = client.get("/api/v1/coverage", params={"level": "province", "days": 30}, headers=auth()).json()
        assert wide["total"]["covered"] == 4
        uncovered = client.get("/api/v1/coverage/uncovered", headers=auth()).json()
        assert len(uncovered) == 6
        offline = client.get("/api/v1/readers", params={"offline": "true"}, headers=auth()).json()
        reasons = {r["facility_code"]: r["offline_reason"] for r in offline}
        assert reasons[codes[4]] == "last_will" and reasons[codes[5]] == "never_seen"
        assert codes[0] not in reasons and codes[3] not in reasons
        text = client.get("/api/v1/coverage", params={"level": "district", "format": "csv"}, headers=auth()).text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 3 and set(rows[0]) >= {"province", "district", "facilities", "covered", "ratio"}


def test_usage_by_week_and_month_with_method_trust_mix_and_distinct_citizens(app):
    store = app.state.store
    codes = register_fleet(store, 3)
    monday = datetime(2026, 3, 2, 9, tzinfo=VN)
    events = [
        _ev(codes[0], monday, 1, Method.CHIP, TrustLevel.CHIP_VERIFIED),
        _ev(codes[0], monday + timedelta(days=1), 1),  # same citizen again, same week
        _ev(codes[1], monday + timedelta(days=2), 1),  # same citizen, another facility
        _ev(codes[1], monday + timedelta(days=8), 2, Method.QR_AND_CHIP, TrustLevel.CHIP_VERIFIED_CLONE_CHECKED),
        _ev(codes[2], datetime(2026, 4, 1, 8, tzinfo=VN), 3),
    ]
    result = store.store(events + events[:2])  # a redelivery inside the batch
    assert (result.stored, result.duplicates) == (5, 2)
    assert store.store(events).duplicates == 5
    with TestClient(app) as client:
        q = {"from": "2026-03-01", "to": "2026-04-30"}
        week = client.get("/api/v1/usage", params=q | {"group_by": "week"}, headers=auth()).json()
        assert [(p["period"], p["checkins"], p["distinct_citizens"]) for p in week["periods"]] == [
            ("2026-03-02", 3, 1), ("2026-03-09", 1, 1), ("2026-03-30", 1, 1)]
        assert week["total_checkins"] == 5 and week["distinct_citizens"] == 3
        assert week["by_method"] == {"chip": 1, "qr": 3, "qr+chip": 1}
        assert week["by_trust"]["chip_verified"] == 1
        month = client.get("/api/v1/usage", params=q | {"group_by": "month"}, headers=auth()).json()
        assert [(p["period"], p["checkins"]) for p in month["periods"]] == [("2026-03-01", 4), ("2026-04-01", 1)]
        one = client.get("/api/v1/usage", params=q | {"facility": codes[0]}, headers=auth()).json()
        assert one["days"] == [{"day": "2026-03-02", "checkins": 1, "distinct_citizens": 1},
                               {"day": "2026-03-03", "checkins": 1, "distinct_citizens": 1}]
        assert one["distinct_citizens"] == 1
        district = client.get("/api/v1/usage", params=q | {"district": "Vũ Thư", "breakdown": "district"},
                              headers=auth()).json()
        assert district["total_checkins"] == 2  # codes[0] is the only facility of Vũ Thư
        assert {b["district"]: b["checkins"] for b in district["breakdown"]} == {
            "Vũ Thư": 2, "Kiến Xương": 2, "Tiền Hải": 1}
        per_facility = client.get("/api/v1/usage", params=q | {"breakdown": "facility", "format": "csv"},
                                  headers=auth()).text
        assert {r["code"]: r["checkins"] for r in csv.DictReader(io.StringIO(per_facility))} == {
            codes[0]: "2", codes[1]: "2", codes[2]: "1"}
        citizens = client.get("/api/v1/citizens", params=q, headers=auth()).json()
        assert [(p["period"], p["distinct_citizens"]) for p in citizens["periods"]] == [
            ("2026-03-01", 2), ("2026-04-01", 1)]
        usage_csv = client.get("/api/v1/usage", params=q | {"format": "csv"}, headers=auth()).text
        assert usage_csv.splitlines()[0].startswith("period,checkins,distinct_citizens")
        assert client.get("/api/v1/usage", params={"from": "2026-03-02", "to": "2026-03-01"},
                          headers=auth()).status_code == 422


def test_weekly_and_monthly_distinct_citizens_agree_between_short_and_long_ranges(app):
    # SQLite counts a few periods with one query each and many in one grouped pass: same answers.
    store = app.state.store
    codes = register_fleet(store, 2)
    sunday = datetime(2026, 3, 8, 22, tzinfo=VN)  # the last day of the ISO week of Monday 2 March
    store.store([_ev(codes[0], sunday, 1), _ev(codes[1], sunday + timedelta(hours=3), 2),  # Monday 9 March
                 _ev(codes[0], sunday + timedelta(days=1), 1), _ev(codes[1], datetime(2026, 4, 30, 9, tzinfo=VN), 1)])
    with TestClient(app) as client:
        for group_by in ("week", "month"):
            short = client.get("/api/v1/citizens", params={"from": "2026-03-01", "to": "2026-04-30",
                                                           "group_by": group_by}, headers=auth()).json()
            long = client.get("/api/v1/citizens", params={"from": "2024-01-01", "to": "2027-12-31",
                                                          "group_by": group_by}, headers=auth()).json()
            assert short["periods"] == long["periods"], group_by
        weeks = {p["period"]: p["distinct_citizens"] for p in long_weeks(client)}
        assert weeks == {"2026-03-02": 1, "2026-03-09": 2, "2026-04-27": 1}


def long_weeks(client):  # type: ignore[no-untyped-def]
    return client.get("/api/v1/citizens", params={"from": "2024-01-01", "to": "2027-12-31", "group_by": "week"},
                      headers=auth()).json()["periods"]
