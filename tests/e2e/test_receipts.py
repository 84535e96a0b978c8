"""End-to-end receipts, desk side, on the real broker: an event leaves the outbox only when a
receipt names it; what the broker took but nobody receipted goes again, in order, after
the wait; at most the window is out unconfirmed; a receipt that is not one changes nothing."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from contract.topics import receipt_topic
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher, ReceiptLink
from edge.settings_base import MqttSettings
from simulators.services import Mosquitto
from tests.processes import wait_until
from tests.shipped_broker import ReceiptResponder, parse_receipt

pytestmark = pytest.mark.services
FACILITY, READER = "34001", "desk-1"


def fill(outbox: Outbox, count: int) -> list[str]:
    ids = [f"01J{i:023d}" for i in range(count)]
    for event_id in ids:
        outbox.add(event_id, f"cccd/v1/{FACILITY}/{READER}/checkin", json.dumps({"event_id": event_id}).encode())
    return ids


def publisher(outbox: Outbox, url: str, **kwargs) -> OutboxPublisher:
    return OutboxPublisher(outbox, MqttSettings(url=url), f"test-desk-{os.getpid()}",
                           receipts=ReceiptLink(receipt_topic(FACILITY, READER), parse_receipt), **kwargs)


def test_events_stay_until_receipted_and_go_again_in_order_when_no_receipt_came(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    ids = fill(outbox, 30)
    with Mosquitto() as broker:
        server = ReceiptResponder(broker.url, username=None)
        server.mute = True  # it stores, but its receipts do not come
        pub = publisher(outbox, broker.url, retry_after=0.5, max_retry_after=1.0)
        pub.start()
        try:
            wait_until(lambda: pub.state.acknowledged >= 30, 20, "the broker to take all 30")
            wait_until(lambda: pub.state.resent >= 30, 20, "a second round")
            assert outbox.depth() == 30  # the broker's PUBACK alone removes nothing
            first_round = [json.loads(p)["event_id"] for p in server.payloads()[:30]]
            second_round = [json.loads(p)["event_id"] for p in server.payloads()[30:60]]
            assert first_round == ids and second_round == ids  # again, in outbox order
            # Each publish carries the desk's send time beside the payload's read time.
            sent = [datetime.fromisoformat(t) for t in server.sent_at[:60]]
            assert all(t.tzinfo is not None for t in sent) and sent[30] >= sent[0]
            server.mute = False
            assert pub.wait_drained(30)
            assert pub.state.confirmed == 30
            assert set(server.stored) == set(ids)
        finally:
            pub.stop()
            server.close()
            outbox.close()


def test_at_most_the_window_is_out_unconfirmed(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    ids = fill(outbox, 500)
    with Mosquitto() as broker:
        server = ReceiptResponder(broker.url, username=None)
        server.mute = True  # a server away for days
        pub = publisher(outbox, broker.url, retry_after=0.3, max_retry_after=0.6, window=40)
        pub.start()
        try:
            wait_until(lambda: pub.state.resent >= 120, 30, "three more rounds")
            assert set(server.stored) == set(ids[:40])  # never beyond the window
            assert outbox.depth() == 500
            server.mute = False
            assert pub.wait_drained(60)
            assert set(server.stored) == set(ids)
        finally:
            pub.stop()
            server.close()
            outbox.close()


def test_a_receipt_that_is_not_one_removes_nothing(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    fill(outbox, 3)
    with Mosquitto() as broker:
        server = ReceiptResponder(broker.url, username=None)
        server.mute = True
        pub = publisher(outbox, broker.url, retry_after=60)
        pub.start()
        try:
            wait_until(lambda: pub.state.acknowledged >= 3, 20, "the broker to take them")
            for junk in (b"not json", b'{"schema_version": 2, "event_ids": ["x"]}', b"{}"):
                server.client.publish(receipt_topic(FACILITY, READER), junk, qos=1)
            wait_until(lambda: pub.state.bad_receipts == 3, 10, "the junk to be looked at")
            assert outbox.depth() == 3 and pub.state.confirmed == 0
        finally:
            pub.stop()
            server.close()
            outbox.close()
