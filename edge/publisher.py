"""The MQTT communicator of the desk agent: drains the outbox to the broker with paho-mqtt.

The outbox is the only backlog: paho never holds more than ``max_inflight`` messages,
so its 16-bit message ids cannot wrap, and a fresh paho client is made for every
connection, so nothing it kept from a lost connection is sent behind our back. Events
are published in outbox order (QoS 1) and removed only when their PUBACK arrives with
a success code; after a disconnect everything unacknowledged is sent again from the
outbox, and the server de-duplicates by event id.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract.mqtt import make_client
from edge.outbox import Outbox
from edge.settings_base import MqttSettings

log = logging.getLogger(__name__)

_WAKE = object()
_DISCONNECTED = object()


@dataclass
class PublisherState:
    """What the desk shows and the heartbeat reports about the link."""

    connected: bool = False
    last_ack_at: float | None = None
    last_error: str | None = None
    published: int = 0
    acknowledged: int = 0
    refused: int = 0
    connections: int = 0
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RetainedMessage:
    topic: str
    payload: bytes


class OutboxPublisher:
    """Publishes the outbox in order, at least once, with a bounded window in flight."""

    def __init__(
        self,
        outbox: Outbox,
        settings: MqttSettings,
        client_id: str,
        *,
        max_inflight: int = 20,
        will: RetainedMessage | None = None,
        birth: RetainedMessage | None = None,
        on_change: Callable[[PublisherState], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self.client_id = client_id
        self.max_inflight = max_inflight
        self.will = will
        self.birth = birth
        self.state = PublisherState()
        self._on_change = on_change
        self._events: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None

    # -- public API
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.client_id}", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def alive(self) -> bool:
        """The connection thread is running (it ends only on stop)."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Tell the publisher that the outbox has new events."""
        self._events.put(_WAKE)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._events.put(_WAKE)
        if self._thread:
            self._thread.join(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """Block until the outbox is empty (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0:
                return True
            time.sleep(0.05)
        return self.outbox.depth() == 0

    def publish_now(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 0) -> bool:
        """Send a side message (heartbeat, status) if connected; it is not queued."""
        client = self._client
        if client is None or not self.state.connected:
            return False
        return client.publish(topic, payload, qos=qos, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS

    # -- the connection loop
    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            client = self._connect()
            if client is None:
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            try:
                self._pump(client)
            finally:
                self._set_connected(False)
                self._client = None
                if self._stop.is_set() and self.will is not None:
                    # A clean stop says "offline" itself; the broker sends the will only on a loss.
                    client.publish(self.will.topic, self.will.payload, qos=1, retain=True).wait_for_publish(2)
                client.disconnect()
                client.loop_stop()

    def _connect(self) -> mqtt.Client | None:
        client = make_client(self.settings, self.client_id)
        client.max_inflight_messages_set(self.max_inflight)
        if self.will is not None:
            client.will_set(self.will.topic, self.will.payload, qos=1, retain=True)
        connected = threading.Event()
        outcome: list[ReasonCode] = []

        def on_connect(c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None) -> None:
            outcome.append(rc)
            connected.set()

        def on_disconnect(c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None) -> None:
            self._events.put(_DISCONNECTED)
            connected.set()

        def on_publish(c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties | None) -> None:
            self._events.put((mid, rc))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        try:
            client.connect(self.settings.host, self.settings.port, keepalive=self.settings.keepalive, clean_start=True)
        except (OSError, ssl.SSLError) as exc:
            self._note_error(f"cannot reach broker: {exc.__class__.__name__}")
            return None
        client.loop_start()
        if not connected.wait(10) or not outcome or outcome[0].is_failure:
            self._note_error(f"broker refused connection: {outcome[0] if outcome else None}")
            client.loop_stop()
            return None
        # Drop the stale _DISCONNECTED markers of earlier connections.
        while not self._events.empty():
            try:
                self._events.get_nowait()
            except queue.Empty:
                break
        self._client = client
        self.state.connections += 1
        self._set_connected(True)
        if self.birth is not None:
            client.publish(self.birth.topic, self.birth.payload, qos=1, retain=True)
        log.info("connected to broker %s:%s", self.settings.host, self.settings.port)
        return client

    def _pump(self, client: mqtt.Client) -> None:
        inflight: dict[int, int] = {}  # paho message id -> outbox seq
        sent_upto = 0
        while not self._stop.is_set():
            if len(inflight) < self.max_inflight:
                for item in self.outbox.pending(self.max_inflight - len(inflight), after_seq=sent_upto):
                    info = client.publish(item.topic, item.payload, qos=1)
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        self._note_error(f"publish failed: {mqtt.error_string(info.rc)}")
                        return
                    inflight[info.mid] = item.seq
                    sent_upto = item.seq
                    self.state.published += 1
            try:
                event = self._events.get(timeout=0.5)
            except queue.Empty:
                continue
            if event is _DISCONNECTED:
                self._note_error("connection lost")
                return
            if isinstance(event, tuple):
                mid, rc = event
                seq = inflight.pop(mid, None)
                if seq is None:
                    continue  # a side message (status, heartbeat)
                if rc.is_failure:
                    # Refused (e.g. "not authorized"): keep it, it is sent again after reconnecting.
                    self.state.refused += 1
                    self._note_error(f"broker refused an event: {rc}")
                    continue
                self.outbox.remove(seq)
                self.state.acknowledged += 1
                self.state.last_ack_at = time.time()

    def _set_connected(self, value: bool) -> None:
        self.state.connected = value
        if self._on_change:
            self._on_change(self.state)

    def _note_error(self, message: str) -> None:
        if message != self.state.last_error:
            log.warning("%s", message)
        self.state.last_error = message
        if self._on_change:
            self._on_change(self.state)
