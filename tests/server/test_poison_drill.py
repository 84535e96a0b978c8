"""The poison-message drill on the shipped broker configuration and the real server app: one reader
publishes 200 good check-ins while another sends poison. The poison is acknowledged and quarantined
(reason, size, hash; never the payload), the good events are all stored and receipted, health says
degraded while poison arrives and ok after, and a restart changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from srvhelpers import ADMIN_TOKEN, READ_TOKEN, auth, facilities_csv, make_settings, wait_until
from template_broker import SERVER_PASSWORD, SERVER_USER, TemplateBroker

from contract.events import CheckInEvent, Method, Receipt, new_event_id
from contract.levels import TrustLevel
from contract.topics import checkin_topic, receipt_topic
from server.app import create_app
from server.db import init_db, make_engine
from server.store import EventStore
from simulators.services import free_port
from tests.processes import ServerProcess

GOOD = ("reader-34001-desk-a", "good-reader-password-0123", "34001", "desk-a")
BAD = ("reader-34002-desk-b", "bad-reader-password-01234", "34002", "desk-b")


def _event(facility: str, reader: str, when: datetime | None = None) -> CheckInEvent:
    return CheckInEvent(event_id=new_event_id(), facility_code=facility, reader_id=reader,
                        occurred_at=when or datetime.now(UTC), method=Method.QR, trust_level=TrustLevel.QR_ONLY,
                        citizen_pseudonym=f"{int(time.time_ns()) % 10**12:064x}")


def _raw(facility: str, reader: str, occurred_at: str, **extra: object) -> bytes:
    body = json.loads(_event(facility, reader).to_json_bytes())
    body.update(occurred_at=occurred_at, **extra)
    return json.dumps(body).encode()


def _poison(facility: str, reader: str) -> list[tuple[str, bytes, bool]]:
    """(expected quarantine reason, payload, retained) of each message the server must quarantine."""
    good = _event(facility, reader).to_json_bytes()
    return [
        ("bad_json", b'{"schema_version": 1, "event_id": ', False),
        ("unknown_version", _raw(facility, reader, datetime.now(UTC).isoformat(), schema_version=2), False),
        ("oversize", good[:-1] + b" " * 32_000 + b"}", False),  # valid JSON, 32 KB: over the server's cap
        ("topic_mismatch", _event("34001", "desk-a").to_json_bytes(), False),  # another reader's identity
        ("retained", _event(facility, reader).to_json_bytes(), True),
        ("out_of_window", _raw(facility, reader, "0001-01-01T00:00:00+07:00"), False),
        ("out_of_window", _raw(facility, reader, "9999-12-31T23:59:59+00:00"), False),
    ]


def _settings(db: str, broker: TemplateBroker):  # type: ignore[no-untyped-def]
    return make_settings(db, broker.server_url, mqtt={"url": broker.server_url, "username": SERVER_USER,
                                                      "password": SERVER_PASSWORD, "client_id": "cccd-server-drill"},
                         ingest={"quarantine_alert_seconds": 3, "batch_size": 50})


def publish_drill(broker: TemplateBroker, good, bad, degraded: Callable[[], bool]) -> tuple[list[str], bool]:  # type: ignore[no-untyped-def]
    """The drill's traffic: 200 good check-ins from ``good`` with the poison from ``bad`` interleaved,
    the 2 MB publish (refused by the broker) and a publish to another reader's topic (refused by the
    ACL). Returns the good event ids and whether ``degraded()`` was seen true after a quarantine."""
    poison = _poison("34002", "desk-b")
    sent_ids = []
    degraded_seen = False
    for i in range(200):
        ev = _event("34001", "desk-a")
        sent_ids.append(ev.event_id)
        assert good.publish(checkin_topic("34001", "desk-a"), ev.to_json_bytes()) in (0, 16)
        if i % 25 == 10 and poison:
            _reason, payload, retained = poison.pop(0)
            assert bad.publish(checkin_topic("34002", "desk-b"), payload, retain=retained) in (0, 16)
        if i == 150:
            assert good.wait_for(lambda c: bool(c.messages), 30)  # receipts flow by now
            assert not bad.messages, "another reader's receipts reached it"
            # the broker refuses 2 MB at the door (max_packet_size) and drops the client
            # (149 Packet too large, or 128 when mosquitto 2.0 just closes the connection)
            big = broker.reader(BAD[0], BAD[1], "desk-b-big").connect()
            assert big.publish_too_large(checkin_topic("34002", "desk-b"), b"x" * 2_000_000) >= 128
            # and the ACL refuses another reader's topic (135 not authorised)
            assert bad.publish(checkin_topic("34001", "desk-a"), ev.to_json_bytes()) == 135
        if not degraded_seen and i > 20:
            degraded_seen = degraded()
    assert not poison
    return sent_ids, degraded_seen


EXPECTED_REASONS = sorted(["bad_json", "unknown_version", "oversize", "topic_mismatch", "retained", "out_of_window",
                           "out_of_window"])


def _window() -> dict[str, str]:
    return {"from": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
            "to": (datetime.now(UTC) + timedelta(days=1)).date().isoformat()}


def test_poison_is_quarantined_the_good_reader_is_stored_and_receipted_and_a_restart_changes_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'server.sqlite'}"
    with TemplateBroker([GOOD, BAD]) as broker:
        app = create_app(_settings(db, broker))
        app.state.store.import_facilities(facilities_csv(["34001", "34002"]))
        app.state.store.add_reader("34001", "desk-a")
        app.state.store.add_reader("34002", "desk-b")
        good = broker.reader(GOOD[0], GOOD[1], "desk-a").connect()
        bad = broker.reader(BAD[0], BAD[1], "desk-b").connect()
        try:
            with TestClient(app) as client:
                ingestor = app.state.ingestor
                wait_until(lambda: ingestor.subscribed, 15, "the server to subscribe")
                assert client.get("/api/v1/health").json()["status"] == "ok"
                # Only the reader itself may read its receipts (mosquitto grants the subscription
                # and then delivers nothing the ACL does not allow).
                assert good.subscribe(receipt_topic("34001", "desk-a")) == 1
                bad.subscribe(receipt_topic("34001", "desk-a"))
                started = time.monotonic()

                def degraded() -> bool:
                    body = client.get("/api/v1/health").json()
                    if body["status"] != "degraded":
                        return False
                    assert {r["code"] for r in body["reasons"]} >= {"quarantine_rising"}
                    return True

                sent_ids, degraded_seen = publish_drill(broker, good, bad, degraded)
                wait_until(lambda: ingestor.counters["stored"] >= 200 and ingestor.counters["quarantined"] >= 7,
                           30, "ingest")
                stored_in = time.monotonic() - started
                assert degraded_seen
                assert ingestor.counters["stored"] == 200
                assert ingestor.counters["quarantined"] == 7
                assert good.wait_for(lambda c: len(c.messages) >= 1 and _receipted(c) >= set(sent_ids), 30)
                quarantined = client.get("/api/v1/quarantine", headers=auth(ADMIN_TOKEN), params=_window()).json()
                wait_until(lambda: client.get("/api/v1/health").json()["status"] == "ok", 15, "health ok again")
            print(f"\npoison drill: 200 good stored and receipted in {stored_in:.1f}s, 7 quarantined "
                  f"({sorted(r['reason'] for r in quarantined)}), 2 MB refused by the broker, "
                  f"another reader's topic refused by the ACL")
            assert sorted(r["reason"] for r in quarantined) == EXPECTED_REASONS
            assert all(r["facility_code"] == "34002" and r["reader_id"] == "desk-b" for r in quarantined)
            assert all(len(r["payload_sha256"]) == 64 and r["size"] > 0 for r in quarantined)
            assert "payload" not in quarantined[0]
            assert app.state.store.event_count() == 200
            usage = app.state.store.usage(None, datetime.now(UTC).date() - timedelta(days=1),
                                          datetime.now(UTC).date() + timedelta(days=1))
            assert usage.total_checkins == 200  # no bad event counted

            # A restart: the persistent session and the retained poison are not replayed into the counts.
            again = create_app(_settings(db, broker))
            with TestClient(again) as client:
                ingestor = again.state.ingestor
                wait_until(lambda: ingestor.subscribed, 15, "the server to subscribe again")
                time.sleep(1)  # let anything the broker would replay arrive
                assert ingestor.counters["stored"] == 0 and ingestor.counters["quarantined"] == 0
                assert client.get("/api/v1/health").json()["status"] == "ok"
            assert again.state.store.event_count() == 200
            assert len(again.state.store.quarantine(datetime.now(UTC).date() - timedelta(days=1),
                                                    datetime.now(UTC).date() + timedelta(days=1))) == 7
        finally:
            good.close()
            bad.close()


def test_the_drill_against_the_real_server_process_killed_and_restarted(tmp_path):
    """The same traffic into ``cccd-server serve`` (a subprocess), then SIGKILL and a restart."""
    db_path = tmp_path / "server.sqlite"
    store = EventStore(make_engine(f"sqlite:///{db_path}"))
    init_db(store.engine)
    store.import_facilities(facilities_csv(["34001", "34002"]))
    store.add_reader("34001", "desk-a")
    store.add_reader("34002", "desk-b")
    store.engine.dispose()
    with TemplateBroker([GOOD, BAD]) as broker:
        port = free_port()
        config = broker.server_config(db_path, port, "cccd-server-drill-process", READ_TOKEN, ADMIN_TOKEN,
                                      "[ingest]\nquarantine_alert_seconds = 3\nbatch_size = 50\n")
        server = ServerProcess(tmp_path, broker.server_url, auto_register=False, config_text=config, port=port)
        good = broker.reader(GOOD[0], GOOD[1], "desk-a").connect()
        bad = broker.reader(BAD[0], BAD[1], "desk-b").connect()
        try:
            server.start()
            good.subscribe(receipt_topic("34001", "desk-a"))
            sent_ids, degraded_seen = publish_drill(broker, good, bad,
                                                    lambda: server.health()["status"] == "degraded")
            wait_until(lambda: server.health()["ingest"].get("stored", 0) >= 200
                       and server.health()["ingest"].get("quarantined", 0) >= 7, 60, "ingest")
            assert degraded_seen
            assert good.wait_for(lambda c: _receipted(c) >= set(sent_ids), 30)
            health = server.health()
            assert health["ingest"]["stored"] == 200 and health["ingest"]["quarantined"] == 7
            wait_until(lambda: server.health()["status"] == "ok", 20, "health ok again")
            server.kill()
            server.start()
            time.sleep(1)  # let anything the broker would replay arrive
            health = server.health()
            assert health["status"] == "ok" and health["ingest"].get("quarantined", 0) == 0
            usage = server.get("/api/v1/usage", **_window())
            assert usage["total_checkins"] == 200
            quarantined = httpx.get(f"{server.base}/api/v1/quarantine", params=_window(),
                                    headers=auth(ADMIN_TOKEN), timeout=10).json()
            assert sorted(r["reason"] for r in quarantined) == EXPECTED_REASONS
        finally:
            server.stop()
            good.close()
            bad.close()


def _receipted(client) -> set[str]:  # type: ignore[no-untyped-def]
    ids: set[str] = set()
    for topic, payload in client.messages:
        if topic == receipt_topic("34001", "desk-a"):
            ids |= set(Receipt.from_json_bytes(payload).event_ids)
    return ids


def test_a_retained_heartbeat_is_refused_and_never_replayed_so_a_dead_reader_stays_offline(tmp_path):
    db = f"sqlite:///{tmp_path / 'server.sqlite'}"
    with TemplateBroker([GOOD]) as broker:
        app = create_app(_settings(db, broker))
        app.state.store.import_facilities(facilities_csv(["34001"]))
        app.state.store.add_reader("34001", "desk-a")
        reader = broker.reader(GOOD[0], GOOD[1], "desk-a").connect()
        try:
            with TestClient(app):
                ingestor = app.state.ingestor
                wait_until(lambda: ingestor.subscribed, 15, "the server to subscribe")
                assert reader.publish("cccd/v1/34001/desk-a/heartbeat", b'{"uptime": 1}', retain=True) in (0, 16)
                wait_until(lambda: ingestor.counters["quarantined"] >= 1, 15, "the quarantine")
                assert ingestor.counters["refused_retained"] == 1
        finally:
            reader.close()  # the reader is gone; only its retained heartbeat stays on the broker
        for _restart in range(2):
            again = create_app(_settings(db, broker))
            with TestClient(again):
                wait_until(lambda app=again: app.state.ingestor.subscribed, 15, "the server to subscribe")
                time.sleep(1)  # let anything the broker would replay arrive
                assert again.state.ingestor.counters["quarantined"] == 0
            row = again.state.store.readers(timedelta(minutes=15))[0]
            assert row.last_heartbeat_at is None and not row.online
            assert again.state.store.coverage("province", 7).total.covered == 0
