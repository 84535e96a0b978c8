"""The server's MQTT side: subscribe to the readers' topics, store, then acknowledge.

A persistent MQTT v5 session (clean_start=False, a session expiry) with QoS 1 and
paho's manual acknowledgement: a message is acknowledged to the broker only after the
transaction holding it committed, so a crash between receipt and commit loses nothing —
the broker delivers it again and the store de-duplicates it by event id.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from edge.events import TOPIC_ROOT, CheckInEvent, parse_topic
from edge.settings_base import MqttSettings
from server.store import EventStore

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class _Incoming:
    mid: int
    qos: int
    topic: str
    payload: bytes


class Ingestor:
    """Subscribes to check-ins and stores them in batches, acknowledging after commit."""

    def __init__(self, store: EventStore, settings: MqttSettings, *, batch_size: int = 500) -> None:
        self.store = store
        self.settings = settings
        self.batch_size = batch_size
        self.counters: Counter[str] = Counter()
        self.connected = False
        self.subscribed = False
        self._queue: queue.Queue[_Incoming] = queue.Queue()
        self._stop = threading.Event()
        self._client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id or "cccd-server",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.settings.username:
            pw = self.settings.password.get_secret_value() if self.settings.password else None
            client.username_pw_set(self.settings.username, pw)
        if self.settings.tls:
            client.tls_set(
                ca_certs=str(self.settings.ca_file) if self.settings.ca_file else None,
                certfile=str(self.settings.cert_file) if self.settings.cert_file else None,
                keyfile=str(self.settings.key_file) if self.settings.key_file else None,
            )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(0.5, 30)
        return client

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        self._writer.start()
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive,
            clean_start=False, properties=props,
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()
        self._writer.join(5)

    # -- paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            log.error("broker refused the server's connection: %s", rc)
            return
        self.connected = True
        client.subscribe(f"{TOPIC_ROOT}/+/+/checkin", qos=1)
        log.info("ingest connected and subscribed")

    def _on_subscribe(self, *_args: object) -> None:
        self.subscribed = True

    def _on_disconnect(self, *_args: object) -> None:
        self.connected = False
        self.subscribed = False

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(_Incoming(msg.mid, msg.qos, msg.topic, msg.payload))

    # -- the writer thread
    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._handle_batch(batch)

    def _handle_batch(self, batch: list[_Incoming]) -> None:
        events: list[CheckInEvent] = []
        for item in batch:
            event = self._validate(item)
            if event is not None:
                events.append(event)
        while not self._stop.is_set():
            try:
                result = self.store.store(events)
                break
            except Exception:  # the database is down: keep the batch unacknowledged and retry
                log.exception("storing a batch failed; retrying")
                time.sleep(1)
        else:
            return  # stopping: the broker redelivers what was not acknowledged
        self.counters["stored"] += result.stored
        self.counters["duplicates"] += result.duplicates
        for item in batch:
            if item.qos > 0:
                self._client.ack(item.mid, item.qos)

    def _validate(self, item: _Incoming) -> CheckInEvent | None:
        """The event, or None (counted and logged without its payload) when refused."""
        parsed = parse_topic(item.topic)
        if parsed is None or parsed[2] != "checkin":
            return self._refuse("bad_topic", item.topic)
        facility, reader, _ = parsed
        try:
            event = CheckInEvent.from_json_bytes(item.payload)
        except ValidationError:
            return self._refuse("invalid_event", item.topic)
        if event.facility_code != facility or event.reader_id != reader:
            return self._refuse("topic_mismatch", item.topic)
        return event

    def _refuse(self, reason: str, topic: str) -> None:
        self.counters[f"refused_{reason}"] += 1
        self.counters["refused"] += 1
        log.warning("refused a message on %s: %s", topic, reason)
        return None
