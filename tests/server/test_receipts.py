"""Receipts: after the commit, each reader hears which of its events the server holds (stored now or
already), on its own receipt topic; quarantined events are never receipted; a republished event is
receipted again (the desk's retry is harmless)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from srvhelpers import make_settings, register_fleet, wait_until
from test_ingest import _event, _publish

from contract.events import RECEIPT_MAX_IDS, CheckInEvent, Method, Receipt, new_event_id
from contract.levels import TrustLevel
from contract.topics import checkin_topic, receipt_topic
from server.app import create_app
from server.receipts import build_receipts


def _listen(port: int, topic: str) -> tuple[mqtt.Client, list[Receipt]]:
    got: list[Receipt] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"desk-listener-{topic[-20:]}", protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, msg: got.append(Receipt.from_json_bytes(msg.payload))
    client.on_subscribe = lambda *_a: ready.set()
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10)
    return client, got


def test_committed_events_are_receipted_to_their_reader_duplicates_again_and_quarantined_ones_never(broker, tmp_path):
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url))
    register_fleet(app.state.store, 2)
    listener, receipts = _listen(broker.port, receipt_topic("34001", "desk-1"))
    other, other_receipts = _listen(broker.port, receipt_topic("34002", "desk-1"))
    try:
        with TestClient(app):
            ingestor = app.state.ingestor
            wait_until(lambda: ingestor.subscribed, 10, "the ingest to subscribe")
            payloads = [_event("34001", "desk-1") for _ in range(3)]
            ids = [json.loads(p)["event_id"] for p in payloads]
            for p in payloads:
                _publish(broker.port, checkin_topic("34001", "desk-1"), p)
            late = json.loads(_event("34001", "desk-1"))
            late["occurred_at"] = "2099-01-01T00:00:00+07:00"  # quarantined: out of the window
            _publish(broker.port, checkin_topic("34001", "desk-1"), json.dumps(late).encode())
            wait_until(lambda: {i for r in receipts for i in r.event_ids} >= set(ids), 20, "the receipts")
            _publish(broker.port, checkin_topic("34001", "desk-1"), payloads[0])  # the desk's retry
            wait_until(lambda: sum(r.event_ids.count(ids[0]) for r in receipts) >= 2, 20, "the second receipt")
            assert ingestor.counters["duplicates"] == 1 and ingestor.counters["stored"] == 3
        receipted = [i for r in receipts for i in r.event_ids]
        assert late["event_id"] not in receipted
        assert set(receipted) == set(ids)
        assert all(r.stored_at <= datetime.now(UTC) for r in receipts)
        assert other_receipts == []  # another reader hears nothing of these
    finally:
        for client in (listener, other):
            client.disconnect()
            client.loop_stop()


def test_a_receipt_names_each_id_once_per_reader_at_most_the_contracts_limit():
    now = datetime.now(UTC)
    events = [CheckInEvent(event_id=new_event_id(), facility_code="34001", reader_id=f"desk-{i % 2}",
                           occurred_at=now, method=Method.QR, trust_level=TrustLevel.QR_ONLY,
                           citizen_pseudonym="ab" * 32) for i in range(2 * RECEIPT_MAX_IDS + 10)]
    out = build_receipts(events + events[:5], now)
    by_topic: dict[str, list[str]] = {}
    for topic, payload in out:
        receipt = Receipt.from_json_bytes(payload)
        assert 1 <= len(receipt.event_ids) <= RECEIPT_MAX_IDS
        by_topic.setdefault(topic, []).extend(receipt.event_ids)
    assert set(by_topic) == {receipt_topic("34001", "desk-0"), receipt_topic("34001", "desk-1")}
    for topic, ids in by_topic.items():
        assert len(ids) == len(set(ids)) == RECEIPT_MAX_IDS + 5
        assert ids == [e.event_id for e in events if receipt_topic(e.facility_code, e.reader_id) == topic]
