"""The one paho-mqtt client factory of the project (MQTT v5, credentials, TLS), for the desk and the server.

The only module of :mod:`contract` that imports paho: the event model stays importable
without it.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.settings import MqttSettings

#: MQTT v5 user property of every check-in publish: the desk's clock when it sent it (ISO 8601, UTC).
SENT_AT = "sent_at"
#: Message Expiry Interval of every check-in publish. An MQTT v5 broker hands the subscriber what
#: is left of it, so the server learns how long the broker held the message (and does not take a
#: broker's queue for a desk's clock offset, docs/clock.md). A week, as the server's session: an
#: event the broker drops after it is still in the desk's outbox until its receipt.
SENT_EXPIRY_SECONDS = 7 * 24 * 3600


def send_time_properties(now: datetime) -> Properties:
    """The properties of a check-in publish: its send time and its expiry (docs/clock.md)."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
    props.MessageExpiryInterval = SENT_EXPIRY_SECONDS
    props.UserProperty = [(SENT_AT, now.astimezone(UTC).isoformat(timespec="milliseconds"))]
    return props


def make_client(settings: MqttSettings, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client (MQTT v5) with the credentials and TLS the settings name.

    ``manual_ack``: the caller acknowledges each QoS 1 message itself (the server, after its commit).
    TLS verifies the broker's certificate and host name against ``ca_file`` (the system's CAs
    without it), with TLS 1.2 at least, as the broker template requires.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         manual_ack=manual_ack)
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    if settings.tls:
        client.tls_set(
            ca_certs=str(settings.ca_file) if settings.ca_file else None,
            certfile=str(settings.cert_file) if settings.cert_file else None,
            keyfile=str(settings.key_file) if settings.key_file else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client
