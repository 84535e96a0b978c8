"""Ingest through a real mosquitto into SQLite and PostgreSQL: exactly once, registry-checked."""

from __future__ import annotations

import json
import logging
import os
from datetime import date, timedelta

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from srvhelpers import auth, make_settings, register_fleet, wait_until

from contract.events import new_event_id
from contract.topics import checkin_topic, heartbeat_topic
from server.app import create_app
from simulators.fleet import run_checkins


def test_every_checkin_is_stored_once_and_counted_per_day(broker, database_url, tmp_path):
    settings = make_settings(database_url, broker.url, ingest={"batch_size": 200})
    app = create_app(settings)
    register_fleet(app.state.store, 4)
    with TestClient(app) as client:
        wait_until(lambda: app.state.ingestor.connected, 10, "the ingest to connect")
        report = run_checkins(broker.url, 4, 600, seed=7, duplicates=50, state_dir=tmp_path / "fleet")
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.counters["stored"] + ingestor.counters["duplicates"] >= 650, 60, "ingest")
        assert ingestor.counters["stored"] == 600
        assert ingestor.counters["duplicates"] == 50
        assert ingestor.counters["refused"] == 0
        assert app.state.store.event_count() == 600
        today = date.today()
        for code, sent in report.facilities.items():
            body = client.get(
                "/api/v1/usage",
                params={"facility": code, "from": (today - timedelta(days=2)).isoformat(),
                        "to": (today + timedelta(days=2)).isoformat()},
                headers=auth(),
            ).json()
            assert body["total_checkins"] == sent["checkins"]
            assert body["distinct_citizens"] == sent["distinct_citizens"]
            assert {d["day"]: d["checkins"] for d in body["days"]} == sent["by_day"]
            assert set(body) >= {"facility", "from", "to", "days", "total_checkins", "distinct_citizens"}
        metrics = client.get("/metrics", headers=auth()).text
        assert "cccd_ingest_events_total 600.0" in metrics
        assert "cccd_ingest_duplicates_total 50.0" in metrics


def _publish(url_port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{os.getpid()}", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _event(facility: str, reader: str) -> bytes:
    return json.dumps({
        "schema_version": 1, "event_id": new_event_id(), "facility_code": facility, "reader_id": reader,
        "occurred_at": "2026-01-05T08:00:00+07:00", "method": "qr", "trust_level": "qr_only",
        "citizen_pseudonym": "ab" * 32,
    }).encode()


def test_messages_from_unregistered_or_mismatched_readers_are_refused_and_logged_without_payload(
    broker, tmp_path, caplog
):
    settings = make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url)
    app = create_app(settings)
    register_fleet(app.state.store, 2)  # 34001/desk-1 and 34002/desk-1
    caplog.set_level(logging.WARNING, logger="server.ingest")
    with TestClient(app):
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.connected, 10, "the ingest to connect")
        _publish(broker.port, checkin_topic("34001", "desk-9"), _event("34001", "desk-9"))  # not registered
        _publish(broker.port, checkin_topic("34001", "desk-1"), _event("34002", "desk-1"))  # payload elsewhere
        _publish(broker.port, checkin_topic("34001", "desk-1"), b'{"secret": "089202012345"}')  # not an event
        _publish(broker.port, heartbeat_topic("34009", "desk-1"), b"{}")  # unknown facility
        _publish(broker.port, checkin_topic("34001", "desk-1"), _event("34001", "desk-1"))  # the good one
        wait_until(lambda: ingestor.counters["refused"] + ingestor.counters["stored"] >= 5, 20, "ingest")
        assert ingestor.counters["stored"] == 1
        assert ingestor.counters["refused_unregistered_reader"] == 2
        assert ingestor.counters["refused_topic_mismatch"] == 1
        assert ingestor.counters["refused_invalid_event"] == 1
    assert app.state.store.refused_counts() == {"unregistered_reader": 2, "topic_mismatch": 1, "invalid_event": 1}
    assert app.state.store.event_count() == 1
    assert "089202012345" not in caplog.text and "ab" * 32 not in caplog.text
    assert "refused a message on cccd/v1/34001/desk-9/checkin: unregistered_reader" in caplog.text


def test_auto_register_setting_lets_unknown_demo_readers_in(broker, tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url, registry={"auto_register": True})
    app = create_app(settings)
    with TestClient(app):
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.connected, 10, "the ingest to connect")
        run_checkins(broker.url, 2, 20, seed=3, state_dir=tmp_path / "fleet")
        wait_until(lambda: ingestor.counters["stored"] >= 20, 20, "ingest")
    assert {r.facility_code for r in app.state.store.readers(timedelta(minutes=5))} == {"34001", "34002"}


def test_status_and_heartbeats_mark_readers_online_and_the_last_will_offline(broker, tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url)
    app = create_app(settings)
    register_fleet(app.state.store, 1)
    with TestClient(app) as client:
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.connected, 10, "the ingest to connect")
        _publish(broker.port, heartbeat_topic("34001", "desk-1"), b'{"uptime": 5}')

        def reader() -> dict:
            return client.get("/api/v1/readers", headers=auth()).json()[0]

        wait_until(lambda: reader()["last_heartbeat_at"] is not None, 10, "the heartbeat")
        assert reader()["online"] is True
        cov = client.get("/api/v1/coverage", params={"level": "province"}, headers=auth()).json()
        assert cov["total"]["covered"] == 1  # a heartbeat alone covers the facility
        _publish(broker.port, "cccd/v1/34001/desk-1/status", b"offline")  # what the broker sends as the will
        wait_until(lambda: reader()["online"] is False, 10, "the last will")
        assert reader()["offline_reason"] == "last_will"
