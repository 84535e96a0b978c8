"""The server's MQTT side: subscribe to the readers' topics, validate, store, then acknowledge.

A persistent MQTT v5 session (clean_start=False, a session expiry) with QoS 1 and
paho's manual acknowledgement: a message is acknowledged to the broker only after the
transaction holding it committed, so a crash between receipt and commit loses nothing —
the broker delivers it again and the store de-duplicates it by event id.

Only a reader registered to the facility that the topic names is heard; anything else
is refused, counted (per reason, in the database and in the metrics) and logged by
topic and reason, never with its payload. Refused messages are acknowledged too, after
the commit that counted them: the broker must not deliver them again.

Messages received on an earlier connection are not acknowledged on a later one (their
packet ids may have been reused): the broker delivers them again and they are absorbed
as duplicates.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from contract.events import CheckInEvent
from contract.mqtt import make_client
from contract.settings import MqttSettings
from contract.topics import READER_KINDS, parse_topic, subscription
from server import paho_lean
from server.metrics import IngestMetrics
from server.store import Activity, EventStore

log = logging.getLogger(__name__)

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
MAX_SIDE_PAYLOAD = 4096


@dataclass(frozen=True)
class _Incoming:
    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    received: float
    retain: bool = False


class Ingestor:
    """Subscribes to the readers' topics and stores in batches, acknowledging after commit."""

    def __init__(
        self,
        store: EventStore,
        settings: MqttSettings,
        *,
        batch_size: int = 2000,
        receive_maximum: int = 10_000,
        linger: float = 0.05,
        auto_register: bool = False,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.batch_size = batch_size
        self.receive_maximum = receive_maximum
        self.linger = linger
        self.auto_register = auto_register
        self.metrics = metrics or IngestMetrics()
        self.counters: Counter[str] = Counter()
        self.connected = False
        self.subscribed = False
        self._generation = 0
        self._known: set[tuple[str, str]] = set()
        # A deque and an event rather than a queue.Queue: appends and pops need no lock,
        # so the network thread and the writer do not convoy on one under load.
        self._queue: deque[_Incoming] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)

    def _make_client(self) -> mqtt.Client:
        paho_lean.install()  # paho's per-PUBLISH Properties object was a quarter of the server's CPU
        client = make_client(self.settings, self.settings.client_id or "cccd-server", manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(0.2, 10)  # type: ignore[arg-type]  # paho annotates int; it sleeps a float
        return client

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
        props.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
        props.ReceiveMaximum = self.receive_maximum
        self._writer.start()
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive,
            clean_start=False, properties=props,
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self._writer.join(10)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def backlog(self) -> int:
        return len(self._queue)

    # -- paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            log.error("broker refused the server's connection: %s", rc)
            return
        self._generation += 1
        self.connected = True
        client.subscribe([(subscription(kind), 1) for kind in READER_KINDS])
        log.info("ingest connected and subscribed (connection %d)", self._generation)

    def _on_subscribe(self, *_args: object) -> None:
        self.subscribed = True

    def _on_disconnect(self, *_args: object) -> None:
        self.connected = False
        self.subscribed = False
        if not self._stop.is_set():
            log.warning("ingest lost the broker; reconnecting")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._queue.append(
            _Incoming(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self._generation, time.time(), bool(msg.retain))
        )
        if not self._wake.is_set():
            self._wake.set()

    # -- the writer thread
    def _write_loop(self) -> None:
        pending = self._queue
        while not self._stop.is_set():
            if not pending:
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            # Let a batch fill for up to `linger` after its first message: fewer, larger
            # transactions (one fsync each) for the same events; nothing is acknowledged
            # before its commit either way.
            deadline = time.monotonic() + self.linger
            while len(pending) < self.batch_size and time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(0.005)
            batch: list[_Incoming] = []
            while pending and len(batch) < self.batch_size:
                batch.append(pending.popleft())
            self._handle_batch(batch)
            self.metrics.backlog.set(len(pending))

    def _handle_batch(self, batch: list[_Incoming]) -> None:
        refused: Counter[str] = Counter()
        parsed: list[tuple[str, str, str, _Incoming]] = []
        for item in batch:
            topic = parse_topic(item.topic)
            if topic is None or topic.kind not in READER_KINDS:
                self._refuse(refused, "bad_topic", item.topic)
                continue
            parsed.append((topic.facility, topic.reader, topic.kind, item))
        pairs = {(f, r) for f, r, _, _ in parsed}
        unknown = pairs - self._known
        register: set[tuple[str, str]] = set()
        if unknown:
            found = self.store.registered(unknown)
            self._known |= found
            if self.auto_register:  # demos and tests only (parse_topic let only the contract's names through)
                register = unknown - found
        events: list[CheckInEvent] = []
        activity: list[Activity] = []
        now = datetime.now(UTC)
        for facility, reader, kind, item in parsed:
            if (facility, reader) not in self._known and (facility, reader) not in register:
                self._refuse(refused, "unregistered_reader", item.topic)
                continue
            if kind == "checkin":
                try:
                    event = CheckInEvent.from_json_bytes(item.payload)
                except (ValidationError, ValueError):
                    self._refuse(refused, "invalid_event", item.topic)
                    continue
                if event.facility_code != facility or event.reader_id != reader:
                    self._refuse(refused, "topic_mismatch", item.topic)
                    continue
                events.append(event)
            elif len(item.payload) > MAX_SIDE_PAYLOAD:
                self._refuse(refused, "oversize", item.topic)
            elif kind == "status":
                status = item.payload.strip().decode("ascii", "replace")
                if status not in ("online", "offline"):
                    self._refuse(refused, "bad_status", item.topic)
                    continue
                activity.append(Activity(facility, reader, "status", now, status, retained=item.retain))
            else:
                activity.append(Activity(facility, reader, "heartbeat", now, retained=item.retain))
        while not self._stop.is_set():
            try:
                result = self.store.store(events, activity, refused, auto_register=register)
                break
            except Exception:  # the database is down: keep the batch unacknowledged and retry
                log.exception("storing a batch failed; retrying")
                self.metrics.store_errors.inc()
                time.sleep(1)
        else:
            return  # stopping: the broker redelivers what was not acknowledged
        self._known |= register
        committed = time.time()
        self.counters["stored"] += result.stored
        self.counters["duplicates"] += result.duplicates
        self.counters["refused"] += sum(refused.values())
        for reason, n in refused.items():
            self.counters[f"refused_{reason}"] += n
            self.metrics.refused.labels(reason).inc(n)
        self.metrics.ingested.inc(result.stored)
        self.metrics.duplicates.inc(result.duplicates)
        for ev in result.stored_events:
            self.metrics.lag.observe(max(0.0, committed - ev.occurred_at.timestamp()))
        self.metrics.batch_size.observe(len(batch))
        generation = self._generation
        self._ack([item.mid for item in batch if item.qos == 1 and item.generation == generation])
        self.metrics.commit_lag.set(committed - batch[0].received)

    def _ack(self, mids: list[int]) -> None:
        """Acknowledge committed QoS 1 messages.

        paho's ``ack()`` queues one 4-byte PUBACK and wakes its network thread per
        message; at thousands per second that wake-up is most of the server's cost. So
        a batch's PUBACKs (MQTT v5, reason code omitted = success, remaining length 2)
        are queued as one write through paho's packet queue; if that internal method is
        missing (another paho version) each message is acknowledged through ``ack()``.
        """
        if not mids:
            return
        queue_packet = getattr(self._client, "_packet_queue", None)
        if queue_packet is None:
            for mid in mids:
                self._client.ack(mid, 1)
            return
        packet = b"".join(struct.pack("!BBH", PUBACK, 2, mid) for mid in mids)
        queue_packet(PUBACK, packet, 0, 0)

    def _refuse(self, refused: Counter[str], reason: str, topic: str) -> None:
        refused[reason] += 1
        log.warning("refused a message on %s: %s", topic[:200], reason)
