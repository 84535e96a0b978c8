"""The MQTT communicator of the desk agent: drains the outbox to the broker with paho-mqtt.

The outbox is the only backlog: paho never holds more than ``max_inflight`` messages,
so its 16-bit message ids cannot wrap, and a fresh paho client is made for every
connection, so nothing it kept from a lost connection is sent behind our back. Events
are published in outbox order (QoS 1).

An event leaves the outbox only when it is *confirmed*: with receipts (the default of
the agent), when the server's receipt on the reader's own receipt topic names it, i.e.
after the server's commit; without, when the broker's PUBACK carries reason 0. A PUBACK
with any other reason (16 "no matching subscribers", 135 "not authorized", ...) keeps
the event. What was published but not confirmed within ``retry_after`` seconds is
published again, in outbox order; the wait doubles while nothing is confirmed (up to
``max_retry_after``), and at most ``window`` events are out unconfirmed at once, so a
server that is away for days does not make the desks flood the broker when it returns.
After a disconnect everything unconfirmed is sent again from the outbox; the server
de-duplicates by event id.

The thread survives everything but a stop: an outbox (SQLite) error drops the
connection and it starts over after a short, jittered backoff (capped at
``max_backoff``, a few seconds, so a desk is back soon after the broker is).
"""

from __future__ import annotations

import logging
import queue
import random
import sqlite3
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract.mqtt import make_client
from edge.outbox import Outbox, OutboxItem
from edge.settings_base import MqttSettings

log = logging.getLogger(__name__)


@dataclass
class PublisherState:
    """What the desk shows and the heartbeat reports about the link."""

    connected: bool = False
    last_ack_at: float | None = None
    last_error: str | None = None
    published: int = 0
    acknowledged: int = 0  # PUBACKs with reason 0
    refused: int = 0  # PUBACKs with any other reason: kept, sent again later
    confirmed: int = 0  # events that left the outbox (receipted, or broker-confirmed without receipts)
    resent: int = 0  # publishes of an event already sent on this connection
    receipts: int = 0
    bad_receipts: int = 0
    outbox_errors: int = 0
    connections: int = 0
    receipts_subscribed: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RetainedMessage:
    topic: str
    payload: bytes


@dataclass(frozen=True)
class ReceiptLink:
    """Where the server confirms this reader's stored events, and how to read a confirmation."""

    topic: str
    # The event ids one receipt names; raises ValueError (pydantic's ValidationError is one) otherwise.
    parse: Callable[[bytes], Sequence[str]]


# What paho's threads tell the publishing thread, in order, on one queue.
@dataclass(frozen=True)
class _Wake:
    pass


@dataclass(frozen=True)
class _Disconnected:
    pass


@dataclass(frozen=True)
class _Ack:
    mid: int
    reason: ReasonCode


@dataclass(frozen=True)
class _Receipt:
    event_ids: tuple[str, ...]


_Signal = _Wake | _Disconnected | _Ack | _Receipt


class Backoff:
    """Exponential backoff with jitter, capped low: each wait is drawn in [d/2, d], d doubling to the cap."""

    def __init__(self, initial: float = 0.25, cap: float = 2.0, *, rng: Callable[[], float] = random.random) -> None:
        self.initial, self.cap = initial, max(cap, initial)
        self._rng = rng
        self._current = initial
        self.longest = 0.0  # the longest wait drawn so far (diagnostics)

    def next(self) -> float:
        delay = self._current * (0.5 + 0.5 * self._rng())
        self._current = min(self._current * 2, self.cap)
        self.longest = max(self.longest, delay)
        return delay

    def reset(self) -> None:
        self._current = self.initial


def _sent_now() -> Properties:
    """The desk's send time, as an MQTT v5 user property beside the payload (which keeps the read
    time): the server can compare it with its own clock on receipt to see a desk's clock offset."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
    props.UserProperty = [("sent_at", datetime.now(UTC).isoformat(timespec="milliseconds"))]
    return props


@dataclass
class _Unconfirmed:
    item: OutboxItem
    since: float  # monotonic time of its PUBACK


class OutboxPublisher:
    """Publishes the outbox in order, at least once, with a bounded window unconfirmed."""

    def __init__(
        self,
        outbox: Outbox,
        settings: MqttSettings,
        client_id: str,
        *,
        max_inflight: int = 20,
        will: RetainedMessage | None = None,
        birth: RetainedMessage | None = None,
        farewell: RetainedMessage | None = None,
        on_change: Callable[[PublisherState], None] | None = None,
        receipts: ReceiptLink | None = None,
        retry_after: float = 30.0,
        max_retry_after: float = 600.0,
        window: int = 1000,
        max_backoff: float = 2.0,
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self.client_id = client_id
        self.max_inflight = max_inflight
        self.will = will
        self.birth = birth
        # said on a clean stop, so that the status tells it from the will's lost connection
        self.farewell = farewell or will
        self.receipts = receipts
        self.retry_after = retry_after
        self.max_retry_after = max(max_retry_after, retry_after)
        self.window = max(window, max_inflight)
        self.backoff = Backoff(0.25, max_backoff)
        self.state = PublisherState()
        self._on_change = on_change
        self._events: queue.Queue[_Signal] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self.last_beat = time.monotonic()
        self._broker_took: set[str] = set()  # PUBACKed with 0 and still in the outbox
        self._took_lock = threading.Lock()

    # -- public API
    def start(self) -> None:
        self._stop.clear()
        self.last_beat = time.monotonic()
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
        self._events.put(_Wake())

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._events.put(_Wake())
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

    def wait_acknowledged(self, timeout: float) -> bool:
        """Block until the broker has taken (PUBACK 0) every event still in the outbox (True), or the
        timeout passes (False). Weaker than :meth:`wait_drained`: a broker crash can still lose
        them, and they stay in the outbox until their receipt (simulated fleets use it)."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = self.outbox.ids()
            with self._took_lock:
                if waiting <= self._broker_took:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def publish_now(self, topic: str, payload: bytes, *, retain: bool = False, qos: int = 0) -> bool:
        """Send a side message (heartbeat, status) if connected; it is not queued."""
        client = self._client
        if client is None or not self.state.connected:
            return False
        return client.publish(topic, payload, qos=qos, retain=retain).rc == mqtt.MQTT_ERR_SUCCESS

    # -- the connection loop
    def _run(self) -> None:
        backoff = self.backoff
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            try:
                client = self._connect()
            except Exception as exc:  # never let one bad attempt end the thread
                log.exception("connecting failed")
                self._note_error(f"cannot connect: {exc.__class__.__name__}")
                client = None
            if client is None:
                # Jittered and capped low: a desk is back within seconds of the broker, and a
                # province of desks does not reconnect in lockstep.
                self._stop.wait(backoff.next())
                continue
            connected_at = time.monotonic()
            try:
                self._pump(client)
            except (sqlite3.Error, OSError) as exc:  # the outbox failed: start over, keep every event
                self.state.outbox_errors += 1
                self._note_error(f"outbox error: {exc.__class__.__name__}")
                self._stop.wait(backoff.next())
            except Exception as exc:
                log.exception("publishing failed")
                self._note_error(f"publishing failed: {exc.__class__.__name__}")
                self._stop.wait(backoff.next())
            finally:
                self._close(client)
                if time.monotonic() - connected_at > 10:  # a link that held: the next loss starts short
                    backoff.reset()

    def _close(self, client: mqtt.Client) -> None:
        self._set_connected(False)
        self._client = None
        try:
            if self._stop.is_set() and self.farewell is not None:
                # A clean stop says so itself (contract.status: "stopped"); the broker sends the
                # will ("offline") only when the connection is lost.
                client.publish(self.farewell.topic, self.farewell.payload, qos=1, retain=True).wait_for_publish(2)
        except (RuntimeError, ValueError, OSError):  # the link is already gone: the will says it
            log.debug("could not say stopped", exc_info=True)
        client.disconnect()
        client.loop_stop()

    def _connect(self) -> mqtt.Client | None:
        client = make_client(self.settings, self.client_id)
        client.max_inflight_messages_set(self.max_inflight)
        if self.will is not None:
            client.will_set(self.will.topic, self.will.payload, qos=1, retain=True)
        connected = threading.Event()
        subscribed = threading.Event()
        outcome: list[ReasonCode] = []
        granted: list[ReasonCode] = []

        def on_connect(c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None) -> None:
            outcome.append(rc)
            connected.set()

        def on_disconnect(c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None) -> None:
            self._events.put(_Disconnected())
            connected.set()
            subscribed.set()

        def on_publish(c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties | None) -> None:
            self._events.put(_Ack(mid, rc))

        def on_subscribe(c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode],
                         _p: Properties | None) -> None:
            granted.extend(codes)
            subscribed.set()

        def on_message(c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            self._on_receipt(bytes(message.payload))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        try:
            client.connect(self.settings.host, self.settings.port, keepalive=self.settings.keepalive, clean_start=True)
        except (OSError, ssl.SSLError) as exc:
            self._note_error(f"cannot reach broker: {exc.__class__.__name__}")
            return None
        client.loop_start()
        if not connected.wait(10) or not outcome or outcome[0].is_failure:
            self._note_error(f"broker refused connection: {outcome[0] if outcome else None}")
            client.disconnect()
            client.loop_stop()
            return None
        # Drop the stale signals of earlier connections (their message ids mean nothing now).
        while not self._events.empty():
            try:
                self._events.get_nowait()
            except queue.Empty:
                break
        if self.receipts is not None:
            # Subscribed before the first publish, so no receipt can come before we listen.
            client.subscribe(self.receipts.topic, qos=1)
            ok = subscribed.wait(10) and bool(granted) and not granted[0].is_failure
            self.state.receipts_subscribed = ok
            if not ok:  # events then stay and are sent again: loud, never lost
                self._note_error(f"cannot subscribe to receipts: {granted[0] if granted else 'no answer'}")
        self._client = client
        self.state.connections += 1
        self._set_connected(True)
        if self.birth is not None:
            client.publish(self.birth.topic, self.birth.payload, qos=1, retain=True)
        log.info("connected to broker %s:%s", self.settings.host, self.settings.port)
        return client

    def _on_receipt(self, payload: bytes) -> None:
        """In paho's thread: parse, and hand the ids to the publishing thread."""
        assert self.receipts is not None
        try:
            ids = tuple(self.receipts.parse(payload))
        except ValueError:
            self.state.bad_receipts += 1
            self._note_error("a receipt that is not one was ignored")
            return
        self._events.put(_Receipt(ids))

    def _pump(self, client: mqtt.Client) -> None:
        inflight: dict[int, OutboxItem] = {}  # paho message id -> the event, until its PUBACK
        unconfirmed: OrderedDict[int, _Unconfirmed] = OrderedDict()  # seq -> PUBACKed, not confirmed
        resend: deque[OutboxItem] = deque()  # due again, in outbox order
        fresh: deque[OutboxItem] = deque()  # read from the outbox, not yet published
        confirmed: set[int] = set()  # seqs confirmed on this connection (a late PUBACK is ignored)
        seq_of: dict[str, int] = {}
        sent_upto = 0
        retry_after = self.retry_after
        while not self._stop.is_set():
            self.last_beat = time.monotonic()
            # 1. What waited too long for its confirmation goes again, in order, and the next wait is longer.
            if not resend and unconfirmed:
                oldest = next(iter(unconfirmed.values()))
                if time.monotonic() - oldest.since >= retry_after:
                    resend.extend(unconfirmed[seq].item for seq in sorted(unconfirmed))
                    unconfirmed.clear()
                    retry_after = min(retry_after * 2, self.max_retry_after)
            # 2. Publish: what is due again first, then new events, within both bounds.
            while len(inflight) < self.max_inflight:
                if resend:
                    item = resend.popleft()
                    if item.seq in confirmed:
                        continue
                    self.state.resent += 1
                else:
                    if not fresh:
                        room = min(self.max_inflight - len(inflight), self.window - len(inflight) - len(unconfirmed))
                        if room <= 0:
                            break
                        fresh.extend(self.outbox.pending(room, after_seq=sent_upto))
                        if not fresh:
                            break
                        sent_upto = fresh[-1].seq
                    item = fresh.popleft()
                info = client.publish(item.topic, item.payload, qos=1, properties=_sent_now())
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    self._note_error(f"publish failed: {mqtt.error_string(info.rc)}")
                    return
                inflight[info.mid] = item
                seq_of[item.event_id] = item.seq
                self.state.published += 1
            # 3. Wait for what paho or the server says, and take all it said meanwhile: the confirmed
            #    events then leave the outbox in one transaction, not one fsync each.
            try:
                signals = [self._events.get(timeout=0.5)]
            except queue.Empty:
                continue
            while len(signals) < 2000:
                try:
                    signals.append(self._events.get_nowait())
                except queue.Empty:
                    break
            done: list[str] = []
            lost = False
            for signal in signals:
                match signal:
                    case _Disconnected():
                        lost = True
                    case _Wake():
                        pass
                    case _Ack(mid=mid, reason=reason):
                        sent = inflight.pop(mid, None)
                        if sent is None or sent.seq in confirmed:
                            continue  # a side message (status, heartbeat), or already receipted
                        self.state.last_ack_at = time.time()
                        if reason.value != 0:
                            # Refused, or nobody subscribed (16): the broker did not take it for the
                            # server. Kept, and sent again after the wait.
                            self.state.refused += 1
                            self._note_error(f"broker did not take an event: {reason}")
                            unconfirmed[sent.seq] = _Unconfirmed(sent, time.monotonic())
                            continue
                        self.state.acknowledged += 1
                        with self._took_lock:
                            self._broker_took.add(sent.event_id)
                        if self.receipts is None:
                            done.append(sent.event_id)
                        else:
                            unconfirmed[sent.seq] = _Unconfirmed(sent, time.monotonic())
                    case _Receipt(event_ids=ids):
                        self.state.receipts += 1
                        done.extend(ids)
            if done and self._confirm(done, confirmed, seq_of, unconfirmed):
                retry_after = self.retry_after
            if lost:
                self._note_error("connection lost")
                return

    def _confirm(self, event_ids: list[str], confirmed: set[int], seq_of: dict[str, int],
                 unconfirmed: OrderedDict[int, _Unconfirmed]) -> int:
        """Remove confirmed events from the outbox (and from what waits); how many were ours."""
        removed = self.outbox.remove_ids(event_ids)
        with self._took_lock:
            self._broker_took.difference_update(event_ids)
        for event_id in event_ids:
            seq = seq_of.pop(event_id, None)
            if seq is not None:
                confirmed.add(seq)
                unconfirmed.pop(seq, None)
        self.state.confirmed += removed
        return removed

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
