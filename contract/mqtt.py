"""The one paho-mqtt client factory of the project (MQTT v5, credentials, TLS), for the desk and the server.

The only module of :mod:`contract` that imports paho: the event model stays importable
without it.
"""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract.settings import MqttSettings


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
