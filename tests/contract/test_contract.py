"""The wire contract: one set of identifier rules for types, topics and the registry; receipts;
the one MQTT client factory."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from contract.events import RECEIPT_MAX_IDS, FacilityCode, ReaderId, Receipt, new_event_id
from contract.mqtt import make_client
from contract.settings import MqttSettings
from contract.topics import (
    is_facility_code,
    is_reader_id,
    is_username,
    parse_topic,
    receipt_topic,
    subscription,
)

HOSTILE_NAMES = ["", "9990\u0661", "34001\n", "a b", "a/b", "a+b", "#", "x" * 33, "ký", "34001\ntopic readwrite #"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_name_the_rules_refuse_is_refused_by_the_event_type_the_topic_parser_and_the_registry_rule(name):
    assert not is_facility_code(name)
    with pytest.raises(ValidationError):
        TypeAdapter(FacilityCode).validate_python(name)
    assert parse_topic(f"cccd/v1/{name}/desk-1/checkin") is None


def test_reader_ids_and_usernames_follow_their_own_rule_without_newlines():
    assert is_reader_id("desk-1") and not is_reader_id("desk-1\n") and not is_reader_id("d" * 65)
    TypeAdapter(ReaderId).validate_python("d" * 64)
    assert is_username("reader-34001-desk-1") and is_username("cccd.server")
    for bad in ("evil\ntopic readwrite #", "a b", "", "u" * 129, "user:x"):
        assert not is_username(bad), bad


def test_receipt_topic_parses_back_and_is_not_under_the_servers_subscriptions():
    topic = receipt_topic("34001", "desk-1")
    assert topic == "cccd/v1/34001/desk-1/receipt"
    assert parse_topic(topic) == ("34001", "desk-1", "receipt")
    assert subscription("checkin") == "cccd/v1/+/+/checkin"


def test_receipt_round_trips_and_bounds_its_ids():
    ids = [new_event_id() for _ in range(3)]
    receipt = Receipt(event_ids=ids, stored_at=datetime(2026, 11, 23, 8, 30, tzinfo=UTC))
    assert Receipt.from_json_bytes(receipt.to_json_bytes()) == receipt
    assert receipt.schema_version == 1
    with pytest.raises(ValidationError):
        Receipt(event_ids=[], stored_at=datetime.now(UTC))
    with pytest.raises(ValidationError):
        Receipt(event_ids=[new_event_id()] * (RECEIPT_MAX_IDS + 1), stored_at=datetime.now(UTC))
    with pytest.raises(ValidationError):
        Receipt(event_ids=["not-a-ulid"], stored_at=datetime.now(UTC))
    with pytest.raises(ValidationError):
        Receipt.from_json_bytes(b'{"schema_version": 2, "event_ids": ["' + ids[0].encode() + b'"], '
                                b'"stored_at": "2026-11-23T08:30:00Z"}')


def test_the_client_factory_sets_credentials_and_tls_with_a_minimum_version(tmp_path):
    from simulators.tls import make_device_pki

    pki = make_device_pki(tmp_path / "pki")
    settings = MqttSettings(url="mqtts://127.0.0.1:8883", username="reader-1", password="pw-0123456789",
                            ca_file=pki.ca_cert)
    client = make_client(settings, "desk-1", manual_ack=True)
    context = client._ssl_context
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert client._username == b"reader-1"
    assert client._manual_ack is True
    plain = make_client(MqttSettings(url="mqtt://127.0.0.1:1883"), "x")
    assert plain._ssl_context is None
