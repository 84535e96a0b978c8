"""``/api/v1/fleet`` on both databases: PostgreSQL refused its version count (found by the HTTP
fleet benchmark at 40,000 readers: a 500), SQLite had hidden it; the offline filter, written as
plain column tests for PostgreSQL's planner, takes the same readers as the state it reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from srvhelpers import auth, make_settings, register_fleet

from server.app import create_app
from server.store.base import READER


def test_the_fleet_api_counts_versions_on_sqlite_and_postgresql(database_url):
    app = create_app(make_settings(database_url), ingest=False)
    register_fleet(app.state.store, 3)
    with TestClient(app) as client:
        answer = client.get("/api/v1/fleet", headers=auth())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 3 and body["versions"] == [{"version": "", "readers": 3}]


def test_the_offline_filter_takes_exactly_the_readers_whose_state_is_not_online(database_url):
    app = create_app(make_settings(database_url), ingest=False)
    codes = register_fleet(app.state.store, 6)
    now = datetime.now(UTC)
    rows = {codes[0]: {"status": "offline", "last_seen_at": now},  # its last will
            codes[1]: {"status": None, "last_seen_at": now - timedelta(hours=2)},  # silent too long
            codes[2]: {"status": None, "last_seen_at": now},  # heard, no status yet: online
            codes[3]: {"status": "online", "last_seen_at": now},
            codes[5]: {"status": "stopped", "last_seen_at": now}}  # a clean stop; codes[4]: never seen
    with app.state.store.engine.begin() as conn:
        for code, values in rows.items():
            conn.execute(update(READER).where(READER.c.facility_code == code).values(**values))
    with TestClient(app) as client:
        every = client.get("/api/v1/fleet", params={"limit": 50}, headers=auth()).json()["readers"]
        offline = client.get("/api/v1/fleet", params={"state": "offline", "limit": 50}, headers=auth()).json()
    expected = {r["facility_code"] for r in every if r["state"] != "online"}
    assert expected == {codes[0], codes[1], codes[4], codes[5]}
    assert {r["facility_code"] for r in offline["readers"]} == expected and offline["total"] == 4
