"""The server's lean PUBLISH decoder gives paho's own result for every packet: the same
fields (properties left out when there are none), paho's decoder for packets with
properties, paho's error for malformed ones."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from server import paho_lean

V5 = MQTTProtocolVersion.MQTTv5
ORIGINAL = _packet.decode_publish if not getattr(_packet.decode_publish, "_cccd_lean", False) else None


def publish_body(topic: bytes, qos: int, mid: int, payload: bytes, props: bytes = b"\x00") -> bytes:
    return struct.pack("!H", len(topic)) + topic + (struct.pack("!H", mid) if qos else b"") + props + payload


def header(qos: int, dup: bool, retain: bool) -> int:
    return 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)


def lean(h: int, body: bytes, protocol: MQTTProtocolVersion = V5) -> object:
    assert ORIGINAL is not None
    return paho_lean.lean_decode_publish(h, body, protocol, fallback=ORIGINAL)


@given(topic=st.text(min_size=1, max_size=80).map(str.encode), qos=st.integers(0, 1), mid=st.integers(1, 65535),
       payload=st.binary(max_size=300), dup=st.booleans(), retain=st.booleans())
def test_a_publish_without_properties_decodes_as_paho_decodes_it(topic, qos, mid, payload, dup, retain):
    h, body = header(qos, dup, retain), publish_body(topic, qos, mid, payload)
    ours, theirs = lean(h, body), ORIGINAL(h, body, V5)
    assert ours._replace(properties=None) == theirs._replace(properties=None)
    assert ours.properties is None and theirs.properties.json() == {}


def test_a_publish_with_properties_goes_to_paho_and_keeps_them():
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = 60
    h, body = header(1, False, False), publish_body(b"cccd/v1/34001/desk-1/checkin", 1, 7, b"{}", props.pack())
    ours, theirs = lean(h, body), ORIGINAL(h, body, V5)
    assert ours._replace(properties=None) == theirs._replace(properties=None)
    assert ours.properties.json() == theirs.properties.json() == {"MessageExpiryInterval": 60}


@pytest.mark.parametrize("body", [b"\x00\x40abc", b"\x00\x03ab", b"\x00", b""])
def test_a_malformed_publish_gets_pahos_error(body):
    with pytest.raises(MalformedPacket):
        lean(header(1, False, False), body)


def test_installing_replaces_pahos_decoder_once_and_keeps_a_working_client():
    assert paho_lean.install() is True
    assert paho_lean.install() is True  # idempotent: not wrapped twice
    assert getattr(_packet.decode_publish, "_cccd_lean", False)
    h, body = header(1, False, True), publish_body(b"t/x", 1, 9, b"hello")
    got = _packet.decode_publish(h, body, V5)
    assert (got.topic, got.mid, got.payload, got.retain) == (b"t/x", 9, b"hello", True)


@given(topic=st.text(min_size=1, max_size=40).map(str.encode), qos=st.integers(0, 1), mid=st.integers(1, 65535),
       payload=st.binary(max_size=200), expiry=st.none() | st.integers(0, 2**32 - 1),
       user=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=4))
def test_a_publish_with_only_user_properties_and_an_expiry_decodes_as_paho_decodes_it(
        topic, qos, mid, payload, expiry, user):
    props = Properties(PacketTypes.PUBLISH)
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    if user:
        props.UserProperty = user
    h, body = header(qos, False, False), publish_body(topic, qos, mid, payload, props.pack())
    if any(ch in text for pair in user for text in pair for ch in "\x00\ufeff"):
        with pytest.raises(MalformedPacket):  # MQTT forbids them in strings: paho's error, through paho
            lean(h, body)
        return
    ours, theirs = lean(h, body), ORIGINAL(h, body, V5)
    assert ours._replace(properties=None) == theirs._replace(properties=None)
    if expiry is None and not user:
        assert ours.properties is None
    else:
        assert isinstance(ours.properties, paho_lean.LeanProperties)
        assert ours.properties.json() == theirs.properties.json()
        assert paho_lean.expiry_left(ours.properties) == paho_lean.expiry_left(theirs.properties) == expiry
        first = dict(reversed(user)).get("sent_at") if user else None
        assert paho_lean.user_property(ours.properties, "sent_at") == first


def test_the_desks_send_time_properties_take_the_lean_path_and_read_back():
    from datetime import UTC, datetime

    from contract.mqtt import SENT_AT, SENT_EXPIRY_SECONDS, send_time_properties

    at = datetime(2026, 12, 1, 7, 30, 0, 123000, tzinfo=UTC)
    h, body = header(1, False, False), publish_body(b"cccd/v1/34001/desk-1/checkin", 1, 3, b"{}",
                                                     send_time_properties(at).pack())
    got = lean(h, body)
    assert isinstance(got.properties, paho_lean.LeanProperties) and got.payload == b"{}"
    assert paho_lean.user_property(got.properties, SENT_AT) == "2026-12-01T07:30:00.123+00:00"
    assert paho_lean.expiry_left(got.properties) == SENT_EXPIRY_SECONDS


@pytest.mark.parametrize("props", [
    b"\x03\x02\x00\x00",  # an expiry cut short
    b"\x05\x26\x00\x09ab",  # a user property's key longer than the block
    b"\x03\x26\x00\x01\xff",  # not UTF-8 (and cut short)
    b"\x07\x26\x00\x01\x00\x00\x01a",  # a NUL in a key: MQTT forbids it
])
def test_a_malformed_property_block_goes_to_paho_and_gets_its_error(props):
    with pytest.raises(MalformedPacket):
        lean(header(1, False, False), publish_body(b"t/x", 1, 9, b"", props))
