"""``/api/v1/fleet`` on both databases: PostgreSQL refused its version count (found by the HTTP
fleet benchmark at 40,000 readers: a 500), SQLite had hidden it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from srvhelpers import auth, make_settings, register_fleet

from server.app import create_app


def test_the_fleet_api_counts_versions_on_sqlite_and_postgresql(database_url):
    app = create_app(make_settings(database_url), ingest=False)
    register_fleet(app.state.store, 3)
    with TestClient(app) as client:
        answer = client.get("/api/v1/fleet", headers=auth())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 3 and body["versions"] == [{"version": "", "readers": 3}]
