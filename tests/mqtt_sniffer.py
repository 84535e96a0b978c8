"""A subscriber to every topic of a broker, recording what crossed it (for privacy checks)."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.settings_base import MqttSettings


class Sniffer:
    def __init__(self, broker_url: str, topic: str = "#", *, persistent: bool = False) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        settings = MqttSettings(url=broker_url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-sniffer", protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = self._on_message
        props = None
        if persistent:  # the broker keeps the session (and queues for it) across reconnects
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.connect(settings.host, settings.port, clean_start=not persistent, properties=props)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise TimeoutError("sniffer could not subscribe")

    def _on_message(self, _c, _u, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def payloads(self, suffix: str = "") -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t.endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
