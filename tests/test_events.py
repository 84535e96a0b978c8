"""The event contract v1: private by construction, ordered ids, a published schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.events import (
    CheckInEvent,
    Method,
    event_id_time,
    json_schema,
    new_event_id,
    parse_topic,
    pseudonymise,
)
from edge.trust.levels import TrustLevel

KEY = bytes(range(32))
ROOT = Path(__file__).resolve().parents[1]


def make_event(**overrides):
    fields = {
        "event_id": new_event_id(),
        "facility_code": "34001",
        "reader_id": "desk-1",
        "occurred_at": datetime(2026, 11, 23, 8, 30, tzinfo=UTC),
        "method": Method.QR,
        "trust_level": TrustLevel.QR_ONLY,
        "citizen_pseudonym": pseudonymise("089202012345", KEY),
    }
    fields.update(overrides)
    return CheckInEvent(**fields)


def test_pseudonym_is_keyed_stable_and_not_the_bare_hash():
    import hashlib

    a = pseudonymise("089202012345", KEY)
    assert a == pseudonymise("089202012345", KEY)
    assert a != pseudonymise("089202012345", bytes(32))
    assert a != hashlib.sha256(b"089202012345").hexdigest()
    assert a != pseudonymise("089202012346", KEY)


def test_pseudonym_refuses_a_short_key():
    with pytest.raises(ValueError):
        pseudonymise("089202012345", b"short")


def test_event_ids_sort_by_time_and_are_unique():
    ids = [new_event_id(1_700_000_000 + i / 1000) for i in range(50)] + [new_event_id(1_700_000_000.049)] * 3
    assert ids[:50] == sorted(ids[:50])
    many = [new_event_id() for _ in range(2000)]
    assert len(set(many)) == len(many) and many == sorted(many)
    assert abs(event_id_time(ids[0]).timestamp() - 1_700_000_000) < 0.002


def test_event_has_no_field_that_could_carry_personal_data():
    fields = set(CheckInEvent.model_fields)
    assert fields == {
        "schema_version", "event_id", "facility_code", "reader_id", "occurred_at",
        "method", "trust_level", "citizen_pseudonym",
    }
    payload = make_event().to_json_bytes()
    assert b"089202012345" not in payload


def test_event_refuses_unknown_fields_naive_times_and_bare_ids():
    with pytest.raises(ValidationError):
        CheckInEvent.model_validate({**make_event().model_dump(), "full_name": "Lê Văn A"})
    with pytest.raises(ValidationError):
        make_event(occurred_at=datetime(2026, 11, 23, 8, 30))
    with pytest.raises(ValidationError):
        make_event(citizen_pseudonym="089202012345")


def test_event_round_trips_through_json():
    ev = make_event(method=Method.QR_AND_CHIP, trust_level=TrustLevel.CHIP_VERIFIED)
    assert CheckInEvent.from_json_bytes(ev.to_json_bytes()) == ev


def test_published_json_schema_matches_the_model():
    published = json.loads((ROOT / "docs" / "checkin-event-v1.schema.json").read_text())
    assert published == json_schema()


def test_topics_parse_back_to_facility_reader_and_kind():
    assert parse_topic("cccd/v1/34001/desk-1/checkin") == ("34001", "desk-1", "checkin")
    assert parse_topic("cccd/v1/34001/desk-1/other") is None
    assert parse_topic("cccd/v1/34001/checkin") is None


def test_trust_levels_are_ordered():
    assert TrustLevel.INVALID < TrustLevel.QR_ONLY < TrustLevel.CHIP_DATA_UNANCHORED
    assert TrustLevel.CHIP_DATA_UNANCHORED < TrustLevel.CHIP_VERIFIED < TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert max(TrustLevel) == TrustLevel.CHIP_VERIFIED_CLONE_CHECKED


def test_event_ids_still_sort_within_a_millisecond_after_an_id_for_a_later_time():
    """A desk clock that was a day ahead and is set right: its next ids still sort by creation."""
    import time

    new_event_id(time.time() + 86400)
    many = [new_event_id() for _ in range(2000)]
    assert many == sorted(many)
