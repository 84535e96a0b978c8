"""Receipts: after the commit that stored a reader's events (or found them already stored), the
server tells that reader which ids it holds, on the reader's own receipt topic (QoS 1, not
retained); until then the desk keeps them in its outbox (issue 16).

The broker's ACL lets only that reader subscribe to its receipt topic, and only the
server publish there (:mod:`server.brokerfiles`). A lost receipt costs one republish:
the server de-duplicates by event id and receipts the event again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import paho.mqtt.client as mqtt

from contract.events import RECEIPT_MAX_IDS, CheckInEvent, Receipt
from contract.topics import receipt_topic

log = logging.getLogger(__name__)


def build_receipts(events: Iterable[CheckInEvent], stored_at: datetime) -> list[tuple[str, bytes]]:
    """(topic, payload) of the receipts for these committed events: per reader, in event order,
    each id once, at most ``RECEIPT_MAX_IDS`` ids per receipt."""
    per_reader: dict[tuple[str, str], dict[str, None]] = {}
    for ev in events:
        per_reader.setdefault((ev.facility_code, ev.reader_id), {})[ev.event_id] = None
    out = []
    for (facility, reader), ids in per_reader.items():
        ordered = list(ids)
        for i in range(0, len(ordered), RECEIPT_MAX_IDS):
            receipt = Receipt(event_ids=ordered[i : i + RECEIPT_MAX_IDS], stored_at=stored_at)
            out.append((receipt_topic(facility, reader), receipt.to_json_bytes()))
    return out


def send_receipts(client: mqtt.Client, events: Iterable[CheckInEvent], stored_at: datetime) -> int:
    """Publish the receipts (QoS 1, not retained); returns how many. paho queues them while offline."""
    receipts = build_receipts(events, stored_at)
    for topic, payload in receipts:
        client.publish(topic, payload, qos=1, retain=False)
    return len(receipts)
