"""The event contract, as the desk code has always imported it: re-exported from :mod:`contract`."""

from contract.events import (
    RECEIPT_SCHEMA_VERSION,
    SCHEMA_VERSION,
    CheckInEvent,
    EventId,
    FacilityCode,
    Method,
    Pseudonym,
    ReaderId,
    Receipt,
    event_id_time,
    json_schema,
    new_event_id,
    pseudonymise,
)
from contract.topics import (
    TOPIC_ROOT,
    checkin_topic,
    heartbeat_topic,
    parse_topic,
    receipt_topic,
    status_topic,
)

__all__ = [
    "RECEIPT_SCHEMA_VERSION",
    "SCHEMA_VERSION",
    "TOPIC_ROOT",
    "CheckInEvent",
    "EventId",
    "FacilityCode",
    "Method",
    "Pseudonym",
    "ReaderId",
    "Receipt",
    "checkin_topic",
    "event_id_time",
    "heartbeat_topic",
    "json_schema",
    "new_event_id",
    "parse_topic",
    "pseudonymise",
    "receipt_topic",
    "status_topic",
]
