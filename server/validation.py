"""What an incoming message must be to be stored, and the reason codes of the quarantine.

Pure checks, no MQTT and no database: the ingest calls them per message and quarantines
what fails (acknowledged, recorded by reason, topic, reader, time, size and payload
hash — never the payload, which may hold what it should not).

The event time window (``Bounds``): an event may be late by anything down to the
product's epoch (a desk's outbox legitimately delivers weeks late after an outage), but
not earlier, and not more than a small skew after the server's clock (a desk's clock
runs a little fast, or its event is not real). Defaults: epoch 2024-01-01 UTC, skew one
hour; both are settings (``[ingest] earliest_event``, ``max_future_skew_seconds``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from pydantic import ValidationError

from contract.events import CheckInEvent
from contract.status import parse_status
from server.store.writer import QuarantineRecord

#: The product's epoch: no genuine event is older.
DEFAULT_EARLIEST_EVENT = date(2024, 1, 1)
DEFAULT_FUTURE_SKEW = timedelta(hours=1)
#: A check-in is about 350 bytes; anything much larger is not one (the broker caps packets at 64 KiB).
DEFAULT_MAX_EVENT_BYTES = 16 * 1024
#: Status and heartbeat payloads.
DEFAULT_MAX_SIDE_BYTES = 4096
TOPIC_KEPT = 256  # characters of a hostile topic kept in the quarantine


class Reason(str, Enum):
    """Why a message was quarantined (the values are stored and counted)."""

    bad_topic = "bad_topic"
    unregistered_reader = "unregistered_reader"
    bad_json = "bad_json"
    unknown_version = "unknown_version"
    invalid_event = "invalid_event"
    topic_mismatch = "topic_mismatch"
    oversize = "oversize"
    retained = "retained"
    out_of_window = "out_of_window"
    bad_status = "bad_status"
    store_failed = "store_failed"


@dataclass(frozen=True)
class Bounds:
    earliest: datetime
    future_skew: timedelta
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    max_side_bytes: int = DEFAULT_MAX_SIDE_BYTES

    @classmethod
    def default(cls) -> Bounds:
        return cls.of(DEFAULT_EARLIEST_EVENT, DEFAULT_FUTURE_SKEW)

    @classmethod
    def of(cls, earliest: date, future_skew: timedelta, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> Bounds:
        return cls(datetime.combine(earliest, time(0), tzinfo=UTC), future_skew, max_event_bytes)


def quarantine_record(
    reason: Reason, topic: str, payload: bytes, received: float, *, retained: bool,
    facility: str | None = None, reader: str | None = None,
) -> QuarantineRecord:
    return QuarantineRecord(
        reason=reason.value, topic=topic[:TOPIC_KEPT], facility_code=facility, reader_id=reader,
        received_at=datetime.fromtimestamp(received, UTC), size=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(), retained=retained,
    )


def check_checkin(
    payload: bytes, facility: str, reader: str, *, retained: bool, now: datetime, bounds: Bounds
) -> CheckInEvent | Reason:
    """The event a check-in message carries, or why it cannot be stored."""
    if retained:  # a retained check-in would be replayed to every new subscriber: not an event
        return Reason.retained
    if len(payload) > bounds.max_event_bytes:
        return Reason.oversize
    try:
        event = CheckInEvent.from_json_bytes(payload)
    except ValidationError as exc:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            return Reason.bad_json
        if any(e["loc"][:1] == ("schema_version",) for e in errors):
            return Reason.unknown_version
        return Reason.invalid_event
    if event.facility_code != facility or event.reader_id != reader:
        return Reason.topic_mismatch
    if not bounds.earliest <= event.occurred_at <= now + bounds.future_skew:
        return Reason.out_of_window
    return event


def check_status(payload: bytes, bounds: Bounds) -> str | Reason:
    if len(payload) > bounds.max_side_bytes:
        return Reason.oversize
    status = parse_status(payload)  # online, offline (the will: a lost connection) or stopped (a clean stop)
    return Reason.bad_status if status is None else status


def check_heartbeat(payload: bytes, *, retained: bool, bounds: Bounds) -> Reason | None:
    if retained:  # a replayed heartbeat would make a dead reader look alive
        return Reason.retained
    if len(payload) > bounds.max_side_bytes:
        return Reason.oversize
    return None
