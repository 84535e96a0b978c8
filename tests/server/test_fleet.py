"""The technician's fleet view: heartbeats through the real broker and ingest onto the registry,
the API filtered and paged by the database, and the page in Chromium filtered to offline
readers (screenshots to $CCCD_SCREENSHOT_DIR or the test's tmp dir)."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from srvhelpers import READ_TOKEN, auth, make_settings, register_fleet, serving, wait_until
from test_ingest import _publish

from contract.heartbeat import Heartbeat
from contract.topics import heartbeat_topic
from server.app import create_app
from server.store import Activity, EventStore
from server.store.base import READER
from tests.browser import CHROMIUM, CHROMIUM_ARGS


def _beat(version: str, depth: int, age: float | None = None, errors: tuple[str, ...] = ()) -> bytes:
    return json.dumps({"schema_version": 1, "software_version": version, "readers": ["ACS ACR1252 00", "camera0"],
                       "outbox_depth": depth, "outbox_oldest_age_s": age, "errors": list(errors)}).encode()


def test_a_heartbeat_through_the_broker_lands_on_the_readers_row_and_in_the_fleet_api(broker, tmp_path):
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url))
    codes = register_fleet(app.state.store, 2)
    with TestClient(app) as client:
        wait_until(lambda: app.state.ingestor.connected, 10, "the ingest to connect")
        _publish(broker.port, heartbeat_topic(codes[0], "desk-1"),
                 _beat("0.3.1", 17, 420.0, ("pcsc: reader removed\x1b[31m",)))
        _publish(broker.port, heartbeat_topic(codes[1], "desk-1"), b"{not json")  # alive, no figures
        body: dict = {}

        def arrived() -> bool:
            nonlocal body
            body = client.get("/api/v1/fleet", params={"state": "online"}, headers=auth()).json()
            return body["total"] == 2

        wait_until(arrived, 20, "both heartbeats")
        rows = {r["facility_code"]: r for r in body["readers"]}
        first = rows[codes[0]]
        assert (first["software_version"], first["outbox_depth"], first["outbox_oldest_age_s"]) == ("0.3.1", 17, 420.0)
        assert first["readers_attached"] == 2 and first["last_error"] == "pcsc: reader removed[31m"  # no escape
        assert rows[codes[1]]["software_version"] is None
        assert {"version": "0.3.1", "readers": 1} in body["versions"]
        metrics = client.get("/metrics", headers=auth()).text
        assert f'cccd_reader_outbox_depth{{facility="{codes[0]}",reader="desk-1"}} 17.0' in metrics


def _fleet(store: EventStore) -> list[str]:
    """60 readers: 40 online on 0.3.1 or 0.2.9, 8 reported offline, 8 silent for a day, 4 never seen."""
    codes = register_fleet(store, 60)
    now = datetime.now(UTC)
    beats = [Activity(c, "desk-1", "heartbeat", now,
                      health=Heartbeat.parse(_beat("0.3.1" if i % 4 else "0.2.9", i % 7 * 10, 60.0 * i)))
             for i, c in enumerate(codes[:56])]
    store.store([], beats)
    store.store([], [Activity(c, "desk-1", "status", now, "offline") for c in codes[40:48]])
    with store.engine.begin() as conn:
        conn.execute(update(READER).where(READER.c.facility_code.in_(codes[48:56]))
                     .values(last_seen_at=now - timedelta(days=1), last_heartbeat_at=now - timedelta(days=1)))
        conn.execute(update(READER).where(READER.c.facility_code.in_(codes[56:]))
                     .values(last_seen_at=None, last_heartbeat_at=None, software_version=None, outbox_depth=None))
    return codes


def test_the_fleet_api_filters_and_pages_in_the_database(tmp_path):
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}"), ingest=False)
    _fleet(app.state.store)
    with TestClient(app) as client:
        def get(**params: object) -> dict:
            answer = client.get("/api/v1/fleet", params=params, headers=auth())
            assert answer.status_code == 200, answer.text
            return answer.json()

        assert get()["total"] == 60
        offline = get(state="offline", limit=5)
        assert offline["total"] == 20 and len(offline["readers"]) == 5
        assert {r["state"] for r in get(state="offline", limit=50)["readers"]} == {
            "last_will", "missed_heartbeats", "never_seen"}
        assert get(state="never_seen")["total"] == 4
        pages = [r["facility_code"] for off in (0, 7, 14) for r in get(state="offline", limit=7, offset=off)["readers"]]
        assert len(pages) == len(set(pages)) == 20  # pages neither overlap nor skip
        big = get(min_outbox=50)
        assert big["total"] == sum(1 for i in range(56) if i % 7 * 10 >= 50)
        assert all(r["outbox_depth"] >= 50 for r in big["readers"])
        old = get(version_not="0.3.1")
        assert old["total"] == 14 + 4  # the 0.2.9 readers and those that never sent a version
        for bad in ({"state": "asleep"}, {"limit": 0}, {"limit": 501}, {"min_outbox": -1}, {"offset": -5},
                    {"province": "x" * 101}):
            assert client.get("/api/v1/fleet", params=bad, headers=auth()).status_code == 422, bad
        assert client.get("/api/v1/fleet").status_code == 401


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)")
def test_the_fleet_page_filtered_to_offline_readers_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}"), ingest=False)
    _fleet(app.state.store)
    shots = Path(os.environ.get("CCCD_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with serving(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
            page = context.new_page()
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"{url}/dashboard/fleet")
            page.fill("#token", READ_TOKEN)
            page.click("button[type=submit]")
            page.goto(f"{url}/dashboard/fleet")
            assert page.inner_text("[data-testid=fleet-count]") == "50/60"
            page.select_option("[data-testid=state]", "offline")
            page.click("[data-testid=apply]")
            assert "state=offline" in page.url
            assert page.inner_text("[data-testid=fleet-count]") == "20/20"
            states = {b.get_attribute("data-state") for b in page.locator("[data-testid=fleet-row] .badge").all()}
            assert states == {"last_will", "missed_heartbeats", "never_seen"}
            assert "GMT+07:00" in page.inner_text("[data-testid=fleet-table]")
            page.screenshot(path=str(shots / "fleet-offline-1280.png"), full_page=True)
            for width in (390, 1920):
                page.set_viewport_size({"width": width, "height": 900})
                assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
                page.screenshot(path=str(shots / f"fleet-offline-{width}.png"), full_page=True)
            page.goto(f"{url}/dashboard/fleet?min_outbox=50&limit=2")
            assert page.locator("[data-testid=fleet-row]").count() == 2
            page.click("[data-testid=page-next]")
            assert "offset=2" in page.url
            xlsx = page.request.get(f"{url}/dashboard/fleet/export.xlsx?state=offline").body()
            sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
            assert sheet["E1"].value == "Tình trạng" and sheet.max_row == 21
        finally:
            browser.close()
