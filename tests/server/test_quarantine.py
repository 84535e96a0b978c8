"""The quarantine's two other paths: a batch whose transaction fails on one message is split until that
message is found (the rest stored), and a database that is unavailable is retried with backoff while
health says degraded with the age of the oldest unacknowledged message."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from srvhelpers import auth, make_settings, register_fleet, wait_until
from test_ingest import _event, _publish

from contract.topics import checkin_topic
from server.app import create_app
from simulators.services import Mosquitto


def test_a_message_that_breaks_its_batch_transaction_is_found_by_splitting_and_quarantined(
    broker, tmp_path, monkeypatch
):
    # A fault injected in the writer: any transaction holding the poisoned event fails as a data
    # error would (what year 9999 did before the event window existed).
    settings = make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url,
                             ingest={"linger_ms": 500, "batch_size": 100})
    app = create_app(settings)
    register_fleet(app.state.store, 1)
    store = app.state.store
    real_store = store.store
    poisoned = json.loads(_event("34001", "desk-1"))
    transactions = []

    def store_refusing_the_poison(events, *args, **kwargs):  # type: ignore[no-untyped-def]
        transactions.append(len(events))
        if any(ev.event_id == poisoned["event_id"] for ev in events):
            raise OverflowError("date value out of range")
        return real_store(events, *args, **kwargs)

    monkeypatch.setattr(store, "store", store_refusing_the_poison)
    with TestClient(app):
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.subscribed, 10, "the ingest to subscribe")
        for i in range(20):
            _publish(broker.port, checkin_topic("34001", "desk-1"),
                     json.dumps(poisoned).encode() if i == 7 else _event("34001", "desk-1"))
        wait_until(lambda: ingestor.counters["stored"] + ingestor.counters["quarantined"] >= 20, 30, "ingest")
        assert ingestor.counters["stored"] == 19
        assert ingestor.counters["refused_store_failed"] == 1
    assert max(transactions) > 1  # batches did hold several messages
    assert app.state.store.event_count() == 19
    assert app.state.store.refused_counts() == {"store_failed": 1}


def test_an_unavailable_database_is_retried_and_reported_then_everything_is_stored(broker, tmp_path, monkeypatch):
    settings = make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url)
    app = create_app(settings)
    register_fleet(app.state.store, 1)
    store = app.state.store
    real_store = store.store
    down = {"yes": True, "attempts": 0}

    def failing_store(*args, **kwargs):  # type: ignore[no-untyped-def]
        if down["yes"]:
            down["attempts"] += 1
            raise OperationalError("INSERT ...", {}, Exception("could not connect to server"))
        return real_store(*args, **kwargs)

    monkeypatch.setattr(store, "store", failing_store)
    with TestClient(app) as client:
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.subscribed, 10, "the ingest to subscribe")
        for _ in range(5):
            _publish(broker.port, checkin_topic("34001", "desk-1"), _event("34001", "desk-1"))
        wait_until(lambda: down["attempts"] >= 2, 20, "retries")
        health = client.get("/api/v1/health").json()
        assert health["status"] == "degraded"
        assert [r["code"] for r in health["reasons"]] == ["store_retrying"]
        assert health["oldest_unacknowledged_seconds"] > 0
        assert ingestor.counters["stored"] == 0 and ingestor.counters["quarantined"] == 0  # nothing dropped
        metrics = client.get("/metrics", headers=auth()).text
        assert "cccd_ingest_oldest_unacknowledged_seconds 0.0" not in metrics
        assert "cccd_ingest_store_errors_total" in metrics
        down["yes"] = False
        wait_until(lambda: ingestor.counters["stored"] >= 5, 30, "the retried batch")
        health = client.get("/api/v1/health").json()
        assert health["status"] == "ok" and health["oldest_unacknowledged_seconds"] is None
    assert app.state.store.event_count() == 5


def test_a_broker_without_the_templates_cap_still_cannot_hand_the_server_a_huge_publish(tmp_path):
    # A broker deployed without the template's max_packet_size (lifted here on purpose): the
    # server's CONNECT announces Maximum Packet Size 128 KiB, so the broker drops a 1 MB publish
    # for it instead of sending it.
    with Mosquitto(extra_config="max_packet_size 268435455\n") as broker:
        _huge_publish_never_reaches_the_server(broker, tmp_path)


def _huge_publish_never_reaches_the_server(broker: Mosquitto, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url))
    register_fleet(app.state.store, 1)
    with TestClient(app):
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.subscribed, 10, "the ingest to subscribe")
        assert _publish_acked(broker.port, checkin_topic("34001", "desk-1"), b"{" + b" " * 1_000_000 + b"}") == 0
        _publish(broker.port, checkin_topic("34001", "desk-1"), _event("34001", "desk-1"))
        wait_until(lambda: ingestor.counters["stored"] >= 1, 20, "the good event")
        assert ingestor.counters["quarantined"] == 0  # the 1 MB message never reached the server
        assert ingestor.connected


def _publish_acked(port: int, topic: str, payload: bytes) -> int:
    """The PUBACK reason of one QoS 1 publish (0 = accepted and delivered to a subscriber... or 16)."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done, codes = threading.Event(), []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="big-publisher", protocol=mqtt.MQTTv5)
    client.on_publish = lambda _c, _u, _mid, rc, _p: (codes.append(rc.value), done.set())
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1)
        assert done.wait(20), "no PUBACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0]


def test_quarantine_records_past_their_keep_are_pruned_by_the_writer_and_their_counts_stay(tmp_path):
    from datetime import UTC, datetime, timedelta

    from server.validation import Reason, quarantine_record

    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", ingest={"quarantine_keep_days": 30}))
    store = app.state.store
    old = datetime.now(UTC) - timedelta(days=31)
    store.store([], quarantine=[
        quarantine_record(Reason.bad_json, "cccd/v1/34001/desk-1/checkin", b"{", old.timestamp(), retained=False),
        quarantine_record(Reason.bad_json, "cccd/v1/34001/desk-1/checkin", b"{", datetime.now(UTC).timestamp(),
                          retained=False),
    ])
    day = timedelta(days=1)
    assert len(store.quarantine(old.date() - day, datetime.now(UTC).date() + day)) == 2
    with TestClient(app):  # the writer starts (no broker needed) and prunes first
        wait_until(lambda: len(store.quarantine(old.date() - day, datetime.now(UTC).date() + day)) == 1, 20,
                   "the pruning")
    assert store.refused_counts() == {"bad_json": 2}
