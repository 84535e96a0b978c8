"""Topics of the contract v1 and the identifier rules they are built from.

``cccd/v1/<facility>/<reader>/<kind>``: ``checkin`` (QoS 1, never retained), ``status``
(retained: online, the last will, a clean stop; :mod:`contract.status`), ``heartbeat`` (never retained), and
``receipt`` (server to that reader only: the event ids the server has stored).

The identifier rules (facility codes, reader ids, broker usernames) are defined here
once, as patterns: the event model's pydantic types, the topic parser, the registry
and the broker's ACL generator all use them, so a name the registry accepts is a name
that an event can carry and that cannot break the ACL file's line format. They are
ASCII only (``isalnum`` would let ``9990١`` through) and checked with ``fullmatch``
(``$`` in Python also matches before a trailing newline).
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

TOPIC_ROOT = "cccd/v1"

#: A health facility's code: ASCII letters, digits, ``_`` and ``-``, 1 to 32 characters.
FACILITY_CODE_PATTERN = r"[A-Za-z0-9_-]{1,32}"
#: A reader (desk agent) id, unique within its facility: the same characters, 1 to 64.
READER_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
#: A reader's own broker username, ``<facility>/<reader>``: the broker's pattern ACL
#: (``cccd/v1/%u/...``) then names exactly that reader's topics.
READER_USERNAME_PATTERN = rf"{FACILITY_CODE_PATTERN}/{READER_ID_PATTERN}"
#: A broker username: a reader's own ``<facility>/<reader>``, or letters, digits, ``_``, ``-``
#: and ``.``, 1 to 128 (the server's account; readers registered before the pattern ACL).
USERNAME_PATTERN = rf"(?:[A-Za-z0-9_.-]{{1,128}}|{READER_USERNAME_PATTERN})"

FACILITY_CODE_RE = re.compile(FACILITY_CODE_PATTERN)
READER_ID_RE = re.compile(READER_ID_PATTERN)
USERNAME_RE = re.compile(USERNAME_PATTERN)

Kind = Literal["checkin", "status", "heartbeat", "receipt"]
#: What the readers publish (the server subscribes to these); ``receipt`` goes the other way.
READER_KINDS: tuple[Kind, ...] = ("checkin", "status", "heartbeat")
_KINDS: dict[str, Kind] = {"checkin": "checkin", "status": "status", "heartbeat": "heartbeat", "receipt": "receipt"}


def is_facility_code(value: str) -> bool:
    return FACILITY_CODE_RE.fullmatch(value) is not None


def is_reader_id(value: str) -> bool:
    return READER_ID_RE.fullmatch(value) is not None


def is_username(value: str) -> bool:
    return USERNAME_RE.fullmatch(value) is not None


def reader_username(facility_code: str, reader_id: str) -> str:
    """The broker username a reader is issued: its own topics are ``cccd/v1/<username>/...``."""
    return f"{facility_code}/{reader_id}"


def may_hold_username(username: str, facility_code: str, reader_id: str) -> bool:
    """Whether this reader may be registered under this username: a name with a slash is
    some reader's ``<facility>/<reader>`` and the pattern ACL would let it write that
    reader's topics, so it must be this reader's own."""
    return is_username(username) and ("/" not in username or username == reader_username(facility_code, reader_id))


class Topic(NamedTuple):
    """A parsed contract topic; unpacks as ``(facility, reader, kind)``."""

    facility: str
    reader: str
    kind: Kind


def topic(facility_code: str, reader_id: str, kind: Kind) -> str:
    return f"{TOPIC_ROOT}/{facility_code}/{reader_id}/{kind}"


def checkin_topic(facility_code: str, reader_id: str) -> str:
    return topic(facility_code, reader_id, "checkin")


def status_topic(facility_code: str, reader_id: str) -> str:
    return topic(facility_code, reader_id, "status")


def heartbeat_topic(facility_code: str, reader_id: str) -> str:
    return topic(facility_code, reader_id, "heartbeat")


def receipt_topic(facility_code: str, reader_id: str) -> str:
    """Where the server confirms a reader's stored events; only that reader may subscribe."""
    return topic(facility_code, reader_id, "receipt")


def subscription(kind: Kind) -> str:
    """The wildcard filter for one kind across every facility and reader."""
    return f"{TOPIC_ROOT}/+/+/{kind}"


def parse_topic(value: str) -> Topic | None:
    """The facility, reader and kind of a contract topic, or None for anything else.

    None also for identifiers the contract refuses, so whatever this returns can be
    stored, matched against an event and written into an ACL.
    """
    parts = value.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        return None
    facility, reader, kind = parts[2], parts[3], _KINDS.get(parts[4])
    if kind is None or not is_facility_code(facility) or not is_reader_id(reader):
        return None
    return Topic(facility, reader, kind)
