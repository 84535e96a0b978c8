"""A leaner decoder of incoming MQTT v5 PUBLISH packets for paho-mqtt, for the server's ingest.

paho decodes the properties of every incoming v5 PUBLISH into a new ``Properties``
object, whose constructor builds two dictionaries of all 27 property names and whose
``unpack`` first deletes each of those names again — measured with py-spy on the real
``cccd-server serve`` process, 23% of its CPU per event, more than its database writes.
The readers' check-ins carry two properties (the contract's: the send time as a user
property and a message expiry, :mod:`contract.mqtt`), statuses and heartbeats none. So
this decoder reads the topic, packet id and payload itself when the properties are
none, or only user properties and a message expiry interval, into a small
:class:`LeanProperties` (``UserProperty``, ``MessageExpiryInterval``, as paho names
them); it hands every other packet (other properties, anything it cannot read) to
paho's own decoder, which also raises paho's own errors for malformed packets. With no
properties the message's ``properties`` is ``None``, as for an MQTT 3.1.1 message.
:func:`user_property` and :func:`expiry_left` read either kind.

It replaces ``paho.mqtt._packet.decode_publish`` for the whole process (paho's client
looks it up there on every packet), only when that function and its result type exist
as in paho-mqtt 2.2; otherwise paho is left as it is and only slower.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

from paho.mqtt.enums import MQTTProtocolVersion

log = logging.getLogger(__name__)

try:  # paho's internal packet module (2.2): absent or different in other versions
    from paho.mqtt import _packet as _paho_packet
except ImportError:  # pragma: no cover - depends on the installed paho
    _paho_packet = None  # type: ignore[assignment]

_MARK = "_cccd_lean"
_USER_PROPERTY, _MESSAGE_EXPIRY = 0x26, 0x02  # MQTT v5 property identifiers


class LeanProperties:
    """The two PUBLISH properties the lean decoder reads, under paho's attribute names."""

    __slots__ = ("MessageExpiryInterval", "UserProperty")

    def __init__(self, user: list[tuple[str, str]], expiry: int | None) -> None:
        self.UserProperty = user
        self.MessageExpiryInterval = expiry

    def json(self) -> dict[str, object]:  # as paho's Properties.json(), for logs and tests
        out: dict[str, object] = {}
        if self.MessageExpiryInterval is not None:
            out["MessageExpiryInterval"] = self.MessageExpiryInterval
        if self.UserProperty:
            out["UserProperty"] = list(self.UserProperty)
        return out

    def __repr__(self) -> str:
        return f"[{self.json()}]"


def user_property(props: object, name: str) -> str | None:
    """The first user property ``name`` of a message's properties (paho's or lean), if any."""
    for key, value in getattr(props, "UserProperty", None) or ():
        if key == name:
            return str(value)
    return None


def expiry_left(props: object) -> int | None:
    """The Message Expiry Interval the broker forwarded (what was left of it), if any."""
    value = getattr(props, "MessageExpiryInterval", None)
    return value if isinstance(value, int) else None


def _varint(packet: bytes | bytearray, at: int) -> tuple[int, int]:
    """An MQTT variable byte integer at ``at``: its value and the index after it."""
    value = 0
    for i in range(4):
        byte = packet[at + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, at + i + 1
    raise ValueError("variable byte integer longer than 4 bytes")


def _utf8(packet: bytes | bytearray, at: int, end: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("!H", packet, at)
    if at + 2 + n > end:
        raise ValueError("string past its properties")
    text = bytes(packet[at + 2 : at + 2 + n]).decode("utf-8")
    if "\x00" in text or "\ufeff" in text:  # MQTT forbids them (paho raises): paho's decoder decides
        raise ValueError("a character MQTT forbids in a string")
    return text, at + 2 + n


def _lean_properties(packet: bytes | bytearray, at: int) -> tuple[LeanProperties, int] | None:
    """User properties and a message expiry at ``at`` and the payload's index; None for anything else."""
    try:
        length, start = _varint(packet, at)
        end = start + length
        if end > len(packet):
            return None
        user: list[tuple[str, str]] = []
        expiry: int | None = None
        i = start
        while i < end:
            ident = packet[i]
            if ident == _USER_PROPERTY:
                key, i = _utf8(packet, i + 1, end)
                value, i = _utf8(packet, i, end)
                user.append((key, value))
            elif ident == _MESSAGE_EXPIRY and expiry is None and i + 5 <= end:
                (expiry,) = struct.unpack_from("!I", packet, i + 1)
                i += 5
            else:
                return None  # another property (or one twice): paho's decoder
        if i != end:
            return None
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        return None
    return LeanProperties(user, expiry), end


def lean_decode_publish(
    header: int, packet: bytes | bytearray, protocol: MQTTProtocolVersion,
    *, fallback: Callable[[int, bytes | bytearray, MQTTProtocolVersion], object] | None = None,
) -> object:
    """paho's ``decode_publish`` result for this packet, without paho's Properties object when
    the packet has no properties, or only user properties and a message expiry."""
    original = fallback or _ORIGINAL.get("decode_publish")
    assert original is not None and _paho_packet is not None
    if protocol != MQTTProtocolVersion.MQTTv5 or len(packet) < 3:
        return original(header, packet, protocol)
    (topic_len,) = struct.unpack_from("!H", packet, 0)
    qos = (header & 0x06) >> 1
    props_at = 2 + topic_len + (2 if qos else 0)
    if props_at >= len(packet):
        return original(header, packet, protocol)  # malformed: paho decides
    props: LeanProperties | None = None
    payload_at = props_at + 1
    if packet[props_at] != 0:
        lean = _lean_properties(packet, props_at)
        if lean is None:
            return original(header, packet, protocol)  # other properties, or malformed: paho decides
        props, payload_at = lean
    mid = struct.unpack_from("!H", packet, 2 + topic_len)[0] if qos else 0
    return _paho_packet.PublishPacket(
        dup=bool(header & 0x08), qos=qos, retain=bool(header & 0x01), topic=bytes(packet[2 : 2 + topic_len]),
        mid=mid, properties=props, payload=bytes(packet[payload_at:]),  # type: ignore[arg-type]  # paho's shape
    )


_ORIGINAL: dict[str, Callable[[int, bytes | bytearray, MQTTProtocolVersion], object]] = {}


def install() -> bool:
    """Use the lean decoder in this process; False (and paho unchanged) when paho differs."""
    current = getattr(_paho_packet, "decode_publish", None)
    if _paho_packet is None or current is None or not hasattr(_paho_packet, "PublishPacket"):
        log.info("paho's packet module is not the one expected: its own PUBLISH decoder stays")
        return False
    if getattr(current, _MARK, False):
        return True
    fields = getattr(_paho_packet.PublishPacket, "_fields", ())
    if fields != ("dup", "qos", "retain", "topic", "mid", "properties", "payload"):
        log.info("paho's PublishPacket has other fields: its own PUBLISH decoder stays")
        return False
    _ORIGINAL["decode_publish"] = current

    def decode(header: int, packet: bytes | bytearray, protocol: MQTTProtocolVersion) -> object:
        return lean_decode_publish(header, packet, protocol)

    setattr(decode, _MARK, True)
    _paho_packet.decode_publish = decode  # type: ignore[assignment]
    return True
