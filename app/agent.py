"""The desk agent: components in, one check-in per visit out, wired by a small controller.

Components, each with ``start()``/``stop()`` and a state (see :mod:`app.components`):
one :class:`~app.qr_input.QrInput` per QR source, the :class:`~app.chip_input.ChipInput`
(pcscd's card observer), the :class:`~app.desk_web.DeskWeb` (screen and HIS API), the
:class:`~app.availability.Availability` (status and heartbeat) and the publisher (outbox
to broker, with the retained ``online`` and the ``offline`` last will).

The inputs put typed events (:mod:`app.events`) on one queue; the controller's desk
thread takes them in order and dispatches them by type to the visit flow, so the flow
stays single-threaded. It also ticks the flow (visit timeouts) and feeds the systemd
watchdog, only while every component is healthy.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, assert_never

from app.availability import Availability
from app.chip_input import ChipInput, ChipReader
from app.components import HEALTHY, Component, ComponentState
from app.desk_web import DeskWeb
from app.events import AgentEvent, CanEntered, CardInserted, CardRemoved, QrScanned, Stop
from app.qr_input import QrInput
from edge.checkin import CheckInOutcome, CheckInService
from edge.config import EdgeSettings
from edge.desk.flow import DeskFlow
from edge.desk.hub import DeskHub
from edge.events import status_topic
from edge.heartbeat import HealthSnapshot
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher, RetainedMessage
from edge.sdnotify import notify, watchdog_interval
from reader_drivers.keyboard_wedge import KeyboardWedge
from reader_drivers.qr.source import QrSource
from reader_drivers.registry import open_source

if TYPE_CHECKING:
    from edge.trust.store import TrustStore

log = logging.getLogger(__name__)


class PublisherPart:
    """The outbox publisher as a component (it runs its own connection thread)."""

    name = "publisher"

    def __init__(self, publisher: OutboxPublisher) -> None:
        self.publisher = publisher

    def start(self) -> None:
        self.publisher.start()

    def stop(self) -> None:
        self.publisher.stop()

    def state(self) -> ComponentState:
        if not self.publisher.started:
            return ComponentState.STOPPED
        return ComponentState.RUNNING if self.publisher.alive() else ComponentState.FAILED


class DeskAgent:
    """One reader at one desk: the controller of its components."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        pseudonym_key: bytes | None = None,
        qr_sources: Sequence[QrSource] | None = None,
        chip_reader: ChipReader | None = None,
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
        self.events: queue.Queue[AgentEvent] = queue.Queue()
        self.health = HealthSnapshot(settings.facility_code, settings.reader_id)
        self.wedge: KeyboardWedge | None = None
        # The chip: an injected reader (tests, simulators), else pcscd's when the settings enable it.
        self.chip = ChipInput(settings.chip, self.events.put) if chip_reader is None and settings.chip.enabled else None
        reader = chip_reader if chip_reader is not None else (self.chip.read if self.chip is not None else None)
        self.flow = DeskFlow(
            self.service, self.hub,
            chip_reader=reader,
            chip_wait_seconds=settings.chip.wait_seconds,
            debounce_seconds=settings.debounce_seconds,
            on_checkin=self._after_checkin,
        )
        self._explicit_sources = qr_sources
        self.qr_inputs: list[QrInput] = []
        self.web: DeskWeb | None = None
        self.availability = Availability(
            settings, outbox=self.outbox, publisher=self.publisher, hub=self.hub, health=self.health,
            last_scan_at=lambda: self.flow.last_scan_at, readers=self._reader_names,
            component_states=self.component_states,
        )
        self._stop = threading.Event()
        self._desk: threading.Thread | None = None
        self.components: list[Component] = []

    # -- lifecycle
    def start(self) -> None:
        """Start every component; returns once the agent is ready (sd_notify READY)."""
        sources = list(self._explicit_sources) if self._explicit_sources is not None else self._open_sources()
        self.qr_inputs = [QrInput(source, self.events.put, self._error) for source in sources]
        self.components = [PublisherPart(self.publisher), *self.qr_inputs]
        if self.chip is not None:
            self.components.append(self.chip)
        if self.settings.screen.enabled:
            self.web = DeskWeb(self.hub, self.settings.screen, his_token=self.settings.his_token(),
                               on_can=self.enqueue_can)
            self.components.append(self.web)
        self.components.append(self.availability)
        for component in self.components:
            component.start()
        self._desk = threading.Thread(target=self._desk_loop, name="desk", daemon=True)
        self._desk.start()
        notify("READY=1")
        notify(f"STATUS=reading at {self.settings.facility_code}/{self.settings.reader_id}")

    def stop(self) -> None:
        notify("STOPPING=1")
        self._stop.set()
        self.events.put(Stop())
        # Inputs first, the publisher last: what the desk recorded on the way out still gets its chance.
        for component in reversed(self.components):
            try:
                component.stop()
            except Exception:  # one part failing to stop must not keep the others running
                log.exception("stopping %s failed", component.name)
        if self._desk is not None:
            self._desk.join(5)
        self.outbox.close()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def component_states(self) -> dict[str, str]:
        """Each component's state by name, and the desk thread's (for the heartbeat)."""
        states = {c.name: c.state().value for c in self.components}
        desk = self._desk
        if desk is not None:
            states["desk"] = (ComponentState.RUNNING if desk.is_alive() else ComponentState.FAILED).value
        return states

    def healthy(self) -> bool:
        return all(c.state() in HEALTHY for c in self.components)

    # -- inputs
    def submit_qr(self, payload: str | bytes, seen_at: datetime | None = None) -> CheckInOutcome:
        """A direct QR-only check-in (simulated fleets and the stdin mode); bypasses the visit flow."""
        outcome = self.service.submit_qr(payload, seen_at)
        if outcome.event is not None:
            self.publisher.wake()
        return outcome

    def enqueue_qr(self, data: bytes, seen_at: datetime | None = None) -> None:
        self.events.put(QrScanned(data, seen_at, source_id="direct"))

    def enqueue_can(self, can: str) -> None:
        self.events.put(CanEntered(can))

    def trust_store(self) -> TrustStore | None:
        return self.chip.trust_store() if self.chip is not None else None

    # -- the desk thread
    def _desk_loop(self) -> None:
        ping = watchdog_interval()
        last_ping = 0.0
        while not self._stop.is_set():
            try:
                event: AgentEvent | None = self.events.get(timeout=0.5)
            except queue.Empty:
                event = None
            try:
                if event is not None:
                    self.handle(event)
                self.flow.tick()
            except Exception:  # never let one bad event kill the desk
                log.exception("desk event failed")
                self._error("internal error while handling a scan")
            if event is not None:
                self.availability.poke()
            now = time.monotonic()
            if ping and now - last_ping >= ping / 2 and self.healthy():
                notify("WATCHDOG=1")  # fed only while every part works: a broken part gets us restarted
                last_ping = now

    def handle(self, event: AgentEvent) -> None:
        """Dispatch one event to the visit flow, by its type."""
        match event:
            case QrScanned(data=data, seen_at=seen_at, flags=flags):
                self.flow.on_qr(data, seen_at, flags or None)
            case CardInserted(reader=reader):
                if self.chip is not None:
                    self.chip.reader_name = reader
                self.flow.on_card_inserted()
            case CardRemoved():
                self.flow.on_card_removed()
            case CanEntered(can=can):
                self.flow.on_can(can)
            case Stop():
                pass
            case _:
                assert_never(event)  # mypy proves every event type has its case

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
                self.wedge = KeyboardWedge()
            self.wedge.type_text(view.id_number, self.settings.his.wedge_suffix)
        except Exception as exc:  # no /dev/uinput access: say so, the check-in stands
            self._error(f"keyboard wedge failed: {exc.__class__.__name__}")

    # -- QR sources from the settings, through the drivers' registry
    def _open_sources(self) -> list[QrSource]:
        sources: list[QrSource] = []
        for spec in self.settings.qr_sources:
            try:
                sources.append(open_source(spec))
            except Exception as exc:  # one missing device must not stop the others
                self._error(f"cannot open {spec.kind} {spec.device}: {exc.__class__.__name__}")
        return sources

    def _reader_names(self) -> list[str]:
        chip = [self.chip.reader_name] if self.chip is not None and self.chip.reader_name else []
        return chip + [q.source.source_id for q in self.qr_inputs]

    def _error(self, text: str) -> None:
        log.warning("%s", text)
        self.health.note_error(text)
