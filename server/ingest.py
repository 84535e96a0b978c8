"""The server's MQTT side: subscribe to the readers' topics, validate, store, then acknowledge.

A persistent MQTT v5 session (clean_start=False, a session expiry) with QoS 1 and
paho's manual acknowledgement: a message is acknowledged to the broker only after the
transaction holding it committed, so a crash between receipt and commit loses nothing —
the broker delivers it again and the store de-duplicates it by event id.

Only a reader registered to the facility that the topic names is heard. A message that
cannot be stored for a reason retrying cannot fix (:mod:`server.validation`: bad JSON, an
unknown schema version, another reader's identity, retained, outside the event time
window, too large...) is quarantined: recorded by reason, topic, reader, time, size and
payload hash (never the payload), counted per reason, logged by topic and reason, and
acknowledged after the commit that recorded it, so it never blocks the messages behind
it. A batch whose transaction fails for such a reason is split in halves until the one
message that fails is found and quarantined (``store_failed``); the rest is stored.
A failure that retrying can fix (the database is unavailable) keeps the batch
unacknowledged and retries with backoff; health says ``degraded`` meanwhile, with the
age of the oldest unacknowledged message.

After each commit the readers get a receipt of their committed event ids
(:mod:`server.receipts`).

With ``[mqtt] shared_group`` several server processes share the check-ins and heartbeats
(an MQTT v5 shared subscription, each process its own broker account: server.settings).

A check-in's publish says when the desk sent it; the offset of the desk's clock is
measured on receipt and, beyond a bound, the event is dated by the corrected clock
(:func:`server.validation.clock_offset`, docs/clock.md), the desk's own time kept.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from contract.events import CheckInEvent
from contract.mqtt import SENT_AT, make_client
from contract.settings import MqttSettings
from contract.topics import READER_KINDS, Kind, parse_topic, subscription
from server import paho_lean
from server.metrics import IngestMetrics
from server.receipts import send_receipts
from server.settings import SOLE_SESSION_EXPIRY, ServerMqttSettings
from server.store import Activity, EventStore, StoreResult
from server.store.writer import EventClock, QuarantineRecord
from server.validation import (
    Bounds,
    Reason,
    check_checkin,
    check_heartbeat,
    check_status,
    clock_correction,
    clock_offset,
    quarantine_record,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

SESSION_EXPIRY_SECONDS = SOLE_SESSION_EXPIRY  # a sole server; a shared member's is [mqtt] session_expiry
MAX_PACKET_BYTES = 128 * 1024  # above the template's 64 KiB cap, far above any check-in
#: Errors that retrying fixes: the database is unreachable, restarting, locked or full.
RETRYABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
#: Errors of one message's data (or an unforeseen bug on it): retrying the same batch cannot fix them.
UNSTORABLE = (SQLAlchemyError, ValueError, ArithmeticError, TypeError, KeyError)
RETRY_FIRST, RETRY_MAX = 0.5, 10.0  # seconds of backoff between retries of a batch
# Check-ins and heartbeats: a retained one is refused, so the broker must not replay it
# on subscribe, and live ones keep their retain flag so that the server can see it.
_NO_RETAINED = SubscribeOptions(qos=1, retainAsPublished=True, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
# Statuses: the retained replay on subscribe is how a restarted server learns them.
_STATUS = SubscribeOptions(qos=1)


@dataclass
class HealthState:
    """What the writer reports to /api/v1/health (read from other threads: plain attributes)."""

    store_failing_since: float | None = None
    last_store_error: str | None = None
    last_quarantine_at: float | None = None
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)


class _Stopping(Exception):
    """The server is stopping during a retry: leave the batch unacknowledged."""


class _Unstorable(Exception):
    """This set of messages cannot be stored as it is (not retryable)."""


@dataclass(frozen=True)
class _Incoming:
    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    received: float
    retain: bool = False
    sent_at: str | None = None  # the desk's send time (contract.mqtt.SENT_AT), when it gave one
    expiry_left: int | None = None  # what the broker left of the publish's expiry


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
        bounds: Bounds | None = None,
        receipts: bool = True,
        quarantine_keep: timedelta = timedelta(days=90),
    ) -> None:
        self.store = store
        # A member of a shared subscription connects with its own account (server.settings).
        self.shared_group = settings.shared_group if isinstance(settings, ServerMqttSettings) else ""
        self.session_expiry = (settings.session_expiry if isinstance(settings, ServerMqttSettings)
                               else SESSION_EXPIRY_SECONDS)
        self.settings = settings.member_link() if isinstance(settings, ServerMqttSettings) else settings
        self.batch_size = batch_size
        self.receive_maximum = receive_maximum
        self.linger = linger
        self.auto_register = auto_register
        self.metrics = metrics or IngestMetrics()
        self.bounds = bounds or Bounds.default()
        self.receipts = receipts
        self.quarantine_keep = quarantine_keep
        self._next_prune = 0.0  # monotonic time of the next quarantine pruning
        self.health = HealthState()
        self.counters: Counter[str] = Counter()
        self._inflight_since: float | None = None  # receipt time of the batch being stored
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
        props.SessionExpiryInterval = self.session_expiry
        props.ReceiveMaximum = self.receive_maximum
        # The broker must not hand the server anything near a 32 MB publish even where its own
        # cap is missing: MQTT v5 brokers drop what exceeds the client's Maximum Packet Size.
        props.MaximumPacketSize = MAX_PACKET_BYTES
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

    def oldest_unacknowledged_age(self) -> float | None:
        """Seconds since the oldest message received and not yet acknowledged arrived (None: none)."""
        times = [t for t in (self._inflight_since, self._queue[0].received if self._queue else None) if t]
        return max(0.0, time.time() - min(times)) if times else None

    # -- paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        if getattr(rc, "is_failure", False):
            log.error("broker refused the server's connection: %s", rc)
            return
        self._generation += 1
        self.connected = True
        client.subscribe([(self._filter(kind), _STATUS if kind == "status" else _NO_RETAINED) for kind in READER_KINDS])
        log.info("ingest connected and subscribed (connection %d)", self._generation)

    def _filter(self, kind: Kind) -> str:
        """Check-ins and heartbeats on the shared group (each to one member); statuses to every
        member, so that each writes a reader's statuses in their order (server.settings)."""
        if self.shared_group and kind != "status":
            return f"$share/{self.shared_group}/{subscription(kind)}"
        return subscription(kind)

    def _on_subscribe(self, *_args: object) -> None:
        self.subscribed = True

    def _on_disconnect(self, *_args: object) -> None:
        self.connected = False
        self.subscribed = False
        if not self._stop.is_set():
            log.warning("ingest lost the broker; reconnecting")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        props = msg.properties  # None without properties (statuses, heartbeats, older desks)
        self._queue.append(
            _Incoming(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self._generation, time.time(), bool(msg.retain),
                      sent_at=paho_lean.user_property(props, SENT_AT) if props is not None else None,
                      expiry_left=paho_lean.expiry_left(props) if props is not None else None)
        )
        if not self._wake.is_set():
            self._wake.set()

    # -- the writer thread
    def _write_loop(self) -> None:
        pending = self._queue
        while not self._stop.is_set():
            if time.monotonic() >= self._next_prune:
                self._prune_quarantine()
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
        self._inflight_since = batch[0].received
        quarantine: list[QuarantineRecord] = []
        parsed: list[tuple[str, str, str, _Incoming]] = []
        for item in batch:
            topic = parse_topic(item.topic)
            if topic is None or topic.kind not in READER_KINDS:
                quarantine.append(self._refuse(Reason.bad_topic, item))
                continue
            parsed.append((topic.facility, topic.reader, topic.kind, item))
        pairs = {(f, r) for f, r, _, _ in parsed}
        unknown = pairs - self._known
        register: set[tuple[str, str]] = set()
        if unknown:
            try:
                found = self._retrying(lambda: self.store.registered(unknown))
            except _Unstorable:
                log.exception("looking up %d readers failed; treating them as unregistered", len(unknown))
                found = set()
            if found is None:
                return  # stopping: the broker redelivers what was not acknowledged
            self._known |= found
            if self.auto_register:  # demos and tests only (parse_topic let only the contract's names through)
                register = unknown - found
        events: list[tuple[CheckInEvent, _Incoming]] = []
        clocks: dict[str, EventClock] = {}  # the corrected events: the offset and the desk's own time
        offsets: dict[tuple[str, str], float] = {}  # each reader's newest measured offset
        activity: list[Activity] = []
        now = datetime.now(UTC)
        for facility, reader, kind, item in parsed:
            if (facility, reader) not in self._known and (facility, reader) not in register:
                quarantine.append(self._refuse(Reason.unregistered_reader, item, facility, reader))
                continue
            if kind == "checkin":
                offset = clock_offset(item.sent_at, item.expiry_left, item.received)
                shift = clock_correction(offset)
                checked = check_checkin(item.payload, facility, reader, retained=item.retain, now=now,
                                        bounds=self.bounds, shift=shift)
                if isinstance(checked, Reason):
                    quarantine.append(self._refuse(checked, item, facility, reader))
                else:
                    events.append((checked, item))
                    if offset is not None:
                        offsets[(facility, reader)] = offset  # in arrival order: the newest wins
                        if shift is not None:
                            clocks[checked.event_id] = EventClock(round(offset, 3), checked.occurred_at - shift)
            elif kind == "status":
                status = check_status(item.payload, self.bounds)
                if isinstance(status, Reason):
                    quarantine.append(self._refuse(status, item, facility, reader))
                else:
                    activity.append(Activity(facility, reader, "status", now, status, retained=item.retain))
            else:
                refusal = check_heartbeat(item.payload, retained=item.retain, bounds=self.bounds)
                if refusal is not None:
                    quarantine.append(self._refuse(refusal, item, facility, reader))
                else:  # parsed by the writer only if it is the reader's newest of the batch
                    activity.append(Activity(facility, reader, "heartbeat", now, payload=item.payload))
        try:
            results = self._commit(events, activity, quarantine, register, clocks, offsets)
        except _Stopping:
            return  # the broker redelivers what was not acknowledged
        self._known |= register
        committed = time.time()
        stored_at = datetime.fromtimestamp(committed, UTC)
        kept: list[CheckInEvent] = []
        for result, committed_events, refused in results:
            self.counters["stored"] += result.stored
            self.counters["duplicates"] += result.duplicates
            self.metrics.ingested.inc(result.stored)
            self.metrics.duplicates.inc(result.duplicates)
            for ev in result.stored_events:
                self.metrics.lag.observe(max(0.0, committed - ev.occurred_at.timestamp()))
            kept += committed_events
            self._count_quarantine(refused, committed)
        self.metrics.batch_size.observe(len(batch))
        generation = self._generation
        self._ack([item.mid for item in batch if item.qos == 1 and item.generation == generation])
        self._inflight_since = None
        self.metrics.commit_lag.set(committed - batch[0].received)
        if self.receipts and kept:
            sent = send_receipts(self._client, kept, stored_at)
            self.counters["receipts"] += sent
            self.metrics.receipts.inc(sent)

    def _commit(
        self,
        events: list[tuple[CheckInEvent, _Incoming]],
        activity: list[Activity],
        quarantine: list[QuarantineRecord],
        register: set[tuple[str, str]],
        clocks: dict[str, EventClock],
        offsets: dict[tuple[str, str], float],
    ) -> list[tuple[StoreResult, list[CheckInEvent], list[QuarantineRecord]]]:
        """Store the batch; if it cannot be stored as one, store what it can and quarantine the rest.

        Returns per committed transaction: its result, the events it committed (stored or
        duplicates) and the quarantine records it wrote.
        """
        plain = [ev for ev, _ in events]
        try:
            result = self._store(lambda: self.store.store(plain, activity, quarantine=quarantine,
                                                          auto_register=register, clocks=clocks,
                                                          clock_offsets=offsets))
            return [(result, plain, quarantine)]
        except _Unstorable as exc:
            log.warning("a batch of %d messages cannot be stored as one (%s): splitting it", len(events), exc)
        # The side data first (statuses, heartbeats, refusals), then the events by halves.
        try:
            side = self._store(lambda: self.store.store([], activity, quarantine=quarantine, auto_register=register,
                                                        clock_offsets=offsets))
            done: list[tuple[StoreResult, list[CheckInEvent], list[QuarantineRecord]]] = [(side, [], quarantine)]
        except _Unstorable:
            log.exception("the batch's statuses and refusals cannot be stored; dropping them")
            done = []
        return done + self._store_split(events, clocks)

    def _store_split(
        self, events: list[tuple[CheckInEvent, _Incoming]], clocks: dict[str, EventClock]
    ) -> list[tuple[StoreResult, list[CheckInEvent], list[QuarantineRecord]]]:
        if not events:
            return []
        plain = [ev for ev, _ in events]
        try:
            return [(self._store(lambda: self.store.store(plain, clocks=clocks)), plain, [])]
        except _Unstorable:
            pass
        if len(events) > 1:
            half = len(events) // 2
            return self._store_split(events[:half], clocks) + self._store_split(events[half:], clocks)
        event, item = events[0]
        record = self._refuse(Reason.store_failed, item, event.facility_code, event.reader_id)
        try:
            return [(self._store(lambda: self.store.store([], quarantine=[record])), [], [record])]
        except _Unstorable:
            log.exception("cannot even quarantine a message on %s; acknowledging it", item.topic[:200])
            return []

    def _prune_quarantine(self) -> None:
        """Hourly, in the writer's thread (the one writer): forget quarantine records past their keep."""
        self._next_prune = time.monotonic() + 3600
        try:
            removed = self._retrying(lambda: self.store.prune_quarantine(datetime.now(UTC) - self.quarantine_keep))
        except _Unstorable:
            log.exception("pruning the quarantine failed; trying again in an hour")
            return
        if removed:
            log.info("pruned %d quarantine records older than %s", removed, self.quarantine_keep)

    def _store(self, attempt: Callable[[], StoreResult]) -> StoreResult:
        result = self._retrying(attempt)
        if result is None:
            raise _Stopping
        return result

    def _retrying(self, attempt: Callable[[], _T]) -> _T | None:
        """``attempt()``, retried with backoff while the database is unavailable; None when stopping.

        Raises :class:`_Unstorable` for an error that retrying cannot fix.
        """
        delay = RETRY_FIRST
        while not self._stop.is_set():
            try:
                value = attempt()
            except RETRYABLE as exc:
                self._store_failed(exc)
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    self._store_failed(exc)
                else:
                    raise _Unstorable(type(exc.orig).__name__ if exc.orig else type(exc).__name__) from exc
            except UNSTORABLE as exc:
                raise _Unstorable(type(exc).__name__) from exc
            else:
                self.health.store_failing_since = None
                self.health.last_store_error = None
                return value
            self._stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX)
        return None

    def _store_failed(self, exc: Exception) -> None:
        log.warning("storing a batch failed (%s); retrying", type(exc).__name__)
        self.metrics.store_errors.inc()
        if self.health.store_failing_since is None:
            self.health.store_failing_since = time.time()
        self.health.last_store_error = type(exc).__name__

    def _count_quarantine(self, records: list[QuarantineRecord], committed: float) -> None:
        if not records:
            return
        self.health.last_quarantine_at = committed
        self.counters["refused"] += len(records)
        self.counters["quarantined"] += len(records)
        for record in records:
            self.counters[f"refused_{record.reason}"] += 1
            self.health.quarantined_by_reason[record.reason] += 1
            self.metrics.refused.labels(record.reason).inc()

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

    def _refuse(
        self, reason: Reason, item: _Incoming, facility: str | None = None, reader: str | None = None
    ) -> QuarantineRecord:
        log.warning("refused a message on %s: %s", item.topic[:200], reason.value)
        return quarantine_record(reason, item.topic, item.payload, item.received, retained=item.retain,
                                 facility=facility, reader=reader)
