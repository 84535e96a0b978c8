"""A leaner decoder of incoming MQTT v5 PUBLISH packets for paho-mqtt, for the server's ingest.

paho decodes the properties of every incoming v5 PUBLISH into a new ``Properties``
object, whose constructor builds two dictionaries of all 27 property names and whose
``unpack`` first deletes each of those names again — measured with py-spy on the real
``cccd-server serve`` process, 23% of its CPU per event, more than its database writes.
The readers' publishes carry no properties (the contract sends none), so this decoder
reads the topic, packet id and payload itself when the property length is zero and
hands every other packet (properties present, anything it cannot read) to paho's own
decoder, which also raises paho's own errors for malformed packets. The message's
``properties`` is then ``None``, as for an MQTT 3.1.1 message; the ingest never reads it.

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


def lean_decode_publish(
    header: int, packet: bytes | bytearray, protocol: MQTTProtocolVersion,
    *, fallback: Callable[[int, bytes | bytearray, MQTTProtocolVersion], object] | None = None,
) -> object:
    """paho's ``decode_publish`` result for this packet, without a Properties object when
    the packet has no properties."""
    original = fallback or _ORIGINAL.get("decode_publish")
    assert original is not None and _paho_packet is not None
    if protocol != MQTTProtocolVersion.MQTTv5 or len(packet) < 3:
        return original(header, packet, protocol)
    (topic_len,) = struct.unpack_from("!H", packet, 0)
    qos = (header & 0x06) >> 1
    props_at = 2 + topic_len + (2 if qos else 0)
    if props_at >= len(packet) or packet[props_at] != 0:
        return original(header, packet, protocol)  # properties present, or malformed: paho decides
    mid = struct.unpack_from("!H", packet, 2 + topic_len)[0] if qos else 0
    return _paho_packet.PublishPacket(
        dup=bool(header & 0x08), qos=qos, retain=bool(header & 0x01), topic=bytes(packet[2 : 2 + topic_len]),
        mid=mid, properties=None, payload=bytes(packet[props_at + 1 :]),
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
