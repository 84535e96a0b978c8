"""The desk agent: QR sources and chip readers in, one check-in per visit out.

Threads, each with one job: every QR source and the PC/SC card observer feed one queue;
the desk thread takes events from it in order and runs the visit flow (so the flow is
single-threaded), ticks once a second (visit timeouts, status, watchdog, heartbeat);
the communicator drains the outbox to the broker; the local web server shows the
receptionist's screen and serves the HIS. Availability is announced with a retained
``online`` and an ``offline`` last will.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from edge.checkin import CheckInOutcome, CheckInService
from edge.config import CameraSource, EdgeSettings, HidSource, SerialSource
from edge.desk.flow import DeskFlow
from edge.desk.hub import DeskHub
from edge.domain.messages import MESSAGES
from edge.events import heartbeat_topic, status_topic
from edge.heartbeat import HealthSnapshot
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher, PublisherState, RetainedMessage
from edge.sdnotify import notify, watchdog_interval

log = logging.getLogger(__name__)

_STOP = ("stop",)


class DeskAgent:
    """One reader at one desk."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        pseudonym_key: bytes | None = None,
        qr_sources: Sequence[Any] | None = None,
        chip_reader: Callable[..., Any] | None = None,
        hub: DeskHub | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = Outbox(settings.outbox_path)
        self.service = CheckInService(
            settings.facility_code,
            settings.reader_id,
            pseudonym_key if pseudonym_key is not None else settings.pseudonym_key(),
            self.outbox,
        )
        status = status_topic(settings.facility_code, settings.reader_id)
        self.publisher = OutboxPublisher(
            self.outbox,
            settings.mqtt,
            client_id=settings.mqtt.client_id or f"edge-{settings.facility_code}-{settings.reader_id}",
            max_inflight=settings.outbox.max_inflight,
            will=RetainedMessage(status, b"offline"),
            birth=RetainedMessage(status, b"online"),
        )
        self.hub = hub or DeskHub(
            history_enabled=settings.screen.history_enabled,
            clear_after_seconds=settings.screen.clear_after_seconds,
        )
        self._explicit_sources = qr_sources
        self._chip_reader = chip_reader
        self.wedge: Any = None
        self.flow = DeskFlow(
            self.service, self.hub,
            chip_reader=self._read_chip if (chip_reader is not None or settings.chip.enabled) else None,
            chip_wait_seconds=settings.chip.wait_seconds,
            debounce_seconds=settings.debounce_seconds,
            on_checkin=self._after_checkin,
        )
        self.health = HealthSnapshot(settings.facility_code, settings.reader_id)
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sources: list[Any] = []
        self._observer: Any = None
        self._trust_store: Any = None
        self._reader_name: str | None = None
        self._web: Any = None
        self._last_heartbeat = 0.0
        self._alarm = False

    # -- lifecycle
    def start(self) -> None:
        """Start every part; returns once the agent is ready (sd_notify READY)."""
        self.publisher.start()
        self._sources = list(self._explicit_sources) if self._explicit_sources is not None else self._open_sources()
        for source in self._sources:
            self._spawn(self._source_loop, source, name=f"qr-{getattr(source, 'source_id', 'source')}")
        if self.settings.chip.enabled and self._chip_reader is None:
            self._start_chip()
        if self.settings.screen.enabled:
            self._start_web()
        self._spawn(self._desk_loop, name="desk")
        notify("READY=1")
        notify(f"STATUS=reading at {self.settings.facility_code}/{self.settings.reader_id}")

    def stop(self) -> None:
        notify("STOPPING=1")
        self._stop.set()
        self.events.put(_STOP)
        for source in self._sources:
            try:
                source.close()
            except Exception:  # a device already gone
                log.debug("closing a source failed", exc_info=True)
        if self._observer is not None:
            self._observer.stop()
        if self._web is not None:
            self._web.should_exit = True
        for thread in self._threads:
            thread.join(5)
        self.publisher.stop()
        self.outbox.close()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _after_checkin(self) -> None:
        self.publisher.wake()
        if self.settings.his.keyboard_wedge:
            self._type_id_number()

    def _type_id_number(self) -> None:
        """Type the current patient's ID number into the HIS field that has the focus."""
        view = self.hub.current()
        if view is None or not view.id_number:
            return
        try:
            if self.wedge is None:
                from reader_drivers.keyboard_wedge import KeyboardWedge

                self.wedge = KeyboardWedge()
            self.wedge.type_text(view.id_number, self.settings.his.wedge_suffix)
        except Exception as exc:  # no /dev/uinput access: say so, the check-in stands
            self._error(f"keyboard wedge failed: {exc.__class__.__name__}")

    # -- inputs
    def submit_qr(self, payload: str | bytes, seen_at: datetime | None = None) -> CheckInOutcome:
        """A direct QR-only check-in (simulated fleets and the stdin mode); bypasses the visit flow."""
        outcome = self.service.submit_qr(payload, seen_at)
        if outcome.event is not None:
            self.publisher.wake()
        return outcome

    def enqueue_qr(self, data: bytes, seen_at: datetime | None = None) -> None:
        self.events.put(("qr", data, seen_at))

    def enqueue_can(self, can: str) -> None:
        self.events.put(("can", can))

    # -- threads
    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _source_loop(self, source: Any) -> None:
        from reader_drivers.qr.source import SourceClosed

        while not self._stop.is_set():
            try:
                item = source.read(timeout=0.5)
            except SourceClosed:
                return
            except Exception as exc:  # a driver fault must not stop the desk
                self._error(f"QR source {getattr(source, 'source_id', '?')}: {exc.__class__.__name__}")
                self._stop.wait(1.0)
                continue
            if item is not None:
                self.events.put(("qr", item.data, item.timestamp, item.flags))

    def _desk_loop(self) -> None:
        ping = watchdog_interval()
        last_ping = 0.0
        while not self._stop.is_set():
            try:
                event = self.events.get(timeout=0.5)
            except queue.Empty:
                event = None
            try:
                if event is not None:
                    self._handle(event)
                self.flow.tick()
                self._refresh_status()
            except Exception:  # never let one bad event kill the desk
                log.exception("desk event failed")
                self._error("internal error while handling a scan")
            now = time.monotonic()
            if ping and now - last_ping >= ping / 2:
                notify("WATCHDOG=1")  # fed from the desk thread: a stuck desk gets restarted
                last_ping = now
            if now - self._last_heartbeat >= self.settings.heartbeat_seconds:
                self._send_heartbeat()
                self._last_heartbeat = now

    def _handle(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "qr":
            self.flow.on_qr(event[1], event[2], event[3] if len(event) > 3 else None)
        elif kind == "card_in":
            self._reader_name = event[1]
            self.flow.on_card_inserted()
        elif kind == "card_out":
            self.flow.on_card_removed()
        elif kind == "can":
            self.flow.on_can(event[1])

    # -- chip
    def _start_chip(self) -> None:
        from reader_drivers.pcsc import CardObserver

        wanted = self.settings.chip.reader
        self._observer = CardObserver(
            on_insert=lambda reader, _atr: self.events.put(("card_in", reader)),
            on_remove=lambda reader: self.events.put(("card_out", reader)),
            reader_filter=(lambda name: wanted in name) if wanted else None,
        ).start()

    def trust_store(self) -> Any:
        if self._trust_store is None and self.settings.chip.trust_paths:
            from edge.trust.store import TrustStore

            self._trust_store = TrustStore([str(p) for p in self.settings.chip.trust_paths])
        return self._trust_store

    def _read_chip(self, keys: Sequence[Any], qr: Any) -> Any:
        if self._chip_reader is not None:
            return self._chip_reader(keys, qr)
        from edge.chip_reader import read_and_verify
        from reader_drivers.pcsc import PcscTransport

        if self._reader_name is None:
            from reader_drivers.pcsc import TransportError

            raise TransportError("no reader has a card")
        transport = PcscTransport(self._reader_name, timeout=self.settings.chip.timeout)
        try:
            return read_and_verify(
                transport, keys, trust_store=self.trust_store(), qr=qr,
                read_face=self.settings.chip.read_face, clone_check=self.settings.chip.clone_check,
            )
        finally:
            transport.close()

    # -- QR sources from the settings
    def _open_sources(self) -> list[Any]:
        sources: list[Any] = []
        for spec in self.settings.qr_sources:
            try:
                if isinstance(spec, CameraSource):
                    from reader_drivers.qr.camera import CameraSource as Camera

                    sources.append(Camera(spec.device, width=spec.width, height=spec.height, fps=spec.fps,
                                          loop=spec.loop, still_gate=spec.still_gate))
                elif isinstance(spec, SerialSource):
                    from reader_drivers.qr.serial_scanner import SerialScanner

                    sources.append(SerialScanner(spec.device, baudrate=spec.baudrate,
                                                 terminator=spec.terminator.encode()))
                elif isinstance(spec, HidSource):
                    from reader_drivers.qr.hid_scanner import HidScanner

                    sources.append(HidScanner(spec.device))
            except Exception as exc:  # one missing device must not stop the others
                self._error(f"cannot open {spec.kind} {spec.device}: {exc.__class__.__name__}")
        return sources

    # -- web
    def _start_web(self) -> None:
        import uvicorn

        from edge.desk.app import create_desk_app

        app = create_desk_app(self.hub, his_token=self.settings.his_token(), on_can=self.enqueue_can)
        config = uvicorn.Config(app, host=self.settings.screen.host, port=self.settings.screen.port,
                                log_level="warning", access_log=False)
        self._web = uvicorn.Server(config)
        self._web.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._spawn(self._web.run, name="desk-web")
        deadline = time.monotonic() + 10
        while not self._web.started and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- health
    def _refresh_status(self) -> None:
        depth = self.outbox.depth()
        alarm = depth >= self.settings.outbox.alarm_depth
        if alarm and not self._alarm:
            log.error("outbox alarm: %d events wait for the broker (bound %d); none is dropped",
                      depth, self.settings.outbox.alarm_depth)
        self._alarm = alarm
        state: PublisherState = self.publisher.state
        self.health.outbox_depth = depth
        self.health.outbox_oldest_age_s = self.outbox.oldest_age()
        self.health.outbox_alarm = alarm
        self.health.last_scan_at = self.flow.last_scan_at
        self.health.readers = ([self._reader_name] if self._reader_name else []) + [
            getattr(s, "source_id", "qr") for s in self._sources]
        message = MESSAGES["outbox.alarm"] if alarm else None
        self.hub.set_status(
            connected=state.connected,
            outbox_depth=depth,
            last_scan_at=self.flow.last_scan_at.isoformat() if self.flow.last_scan_at else None,
            alarm={"vi": message.vi, "en": message.en} if message else None,
        )

    def _send_heartbeat(self) -> None:
        self.publisher.publish_now(
            heartbeat_topic(self.settings.facility_code, self.settings.reader_id),
            self.health.to_json_bytes(), qos=1,
        )

    def _error(self, text: str) -> None:
        log.warning("%s", text)
        self.health.errors.append(f"{datetime.now(UTC).isoformat()} {text}")
        del self.health.errors[:-20]
