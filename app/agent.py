"""The desk agent: components in, one check-in per visit out, wired by a small controller.

Components, each with ``start()``/``stop()`` and a state (see :mod:`app.components`):
one :class:`~app.qr_input.QrInput` per QR source, the :class:`~app.chip_input.ChipInput`
(pcscd's card observer), the :class:`~app.desk_web.DeskWeb` (screen and HIS API), the
:class:`~app.availability.Availability` (status and heartbeat) and the publisher (outbox
to broker, with the retained ``online``, the ``offline`` last will and a clean stop's
``stopped``: :mod:`contract.status`).

The inputs put typed events (:mod:`app.events`) on one queue; the controller's desk
thread takes them in order and dispatches them by type to the visit flow, so the flow
stays single-threaded, and ticks the flow (visit timeouts). The supervisor
(:mod:`app.supervisor`) restarts a component whose thread died, feeds the systemd
watchdog only while every component is healthy, and gives up (``failed``; the command
exits 1) when a component keeps dying or hangs.
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
from app.components import HEALTHY, Component, ComponentState, Worker
from app.debounce import persistent_debouncer
from app.desk_web import DeskWeb
from app.events import AgentEvent, CanEntered, CardInserted, CardRemoved, NextPatient, QrScanned, Rescan, Stop
from app.qr_input import QrInput, aim_view
from app.supervisor import Supervisor
from contract.events import Receipt
from contract.status import LOST_PAYLOAD, ONLINE_PAYLOAD, STOPPED_PAYLOAD
from contract.topics import receipt_topic, status_topic
from edge.checkin import CheckInOutcome, CheckInService
from edge.config import EdgeSettings
from edge.desk.app import DeskActions
from edge.desk.flow import DeskFlow
from edge.desk.hub import DeskHub
from edge.heartbeat import HealthSnapshot
from edge.outbox import DebounceStore, Outbox
from edge.publisher import OutboxPublisher, ReceiptLink, RetainedMessage
from edge.sdnotify import notify
from reader_drivers.keyboard_wedge import KeyboardWedge
from reader_drivers.qr.source import QrSource
from reader_drivers.registry import open_source

if TYPE_CHECKING:
    from edge.trust.store import TrustStore

log = logging.getLogger(__name__)


def receipt_link(facility_code: str, reader_id: str) -> ReceiptLink:
    """The reader's receipt topic, and the contract's reading of a receipt (issue 16)."""
    return ReceiptLink(receipt_topic(facility_code, reader_id),
                       lambda payload: Receipt.from_json_bytes(payload).event_ids)


class PublisherPart:
    """The outbox publisher as a component (it runs its own connection thread)."""

    name = "publisher"
    # Longer than its longest wait (a connection attempt with its subscription, 20 s).
    stall_seconds = 60.0

    def __init__(self, publisher: OutboxPublisher) -> None:
        self.publisher = publisher
        self._stopped = True

    def start(self) -> None:
        self._stopped = False
        self.publisher.start()

    def stop(self) -> None:
        self._stopped = True
        self.publisher.stop()

    def state(self) -> ComponentState:
        if not self.publisher.started or self._stopped:
            return ComponentState.STOPPED
        if not self.publisher.alive():
            return ComponentState.FAILED
        if time.monotonic() - self.publisher.last_beat > self.stall_seconds:
            return ComponentState.STALLED
        return ComponentState.RUNNING


class DeskLoop(Worker):
    """The desk thread: takes the inputs' events in order and runs the visit flow."""

    def __init__(self, agent: DeskAgent) -> None:
        super().__init__("desk", stall_seconds=120.0)  # a chip read with retries takes seconds, not minutes
        self.agent = agent

    def run(self) -> None:
        agent = self.agent
        while not self.stopping.is_set():
            self.beat()
            try:
                event: AgentEvent | None = agent.events.get(timeout=0.5)
            except queue.Empty:
                event = None
            try:
                if event is not None:
                    agent.handle(event)
                agent.flow.tick()
            except Exception:  # never let one bad event kill the desk
                log.exception("desk event failed")
                agent.note_error("internal error while handling a scan")
            if event is not None:
                agent.availability.poke()

    def on_stop(self) -> None:
        self.agent.events.put(Stop())


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
        secret = pseudonym_key if pseudonym_key is not None else settings.pseudonym_key()
        self.service = CheckInService(settings.facility_code, settings.reader_id, secret, self.outbox)
        status = status_topic(settings.facility_code, settings.reader_id)
        self.publisher = OutboxPublisher(
            self.outbox,
            settings.mqtt,
            client_id=settings.mqtt.client_id or f"edge-{settings.facility_code}-{settings.reader_id}",
            max_inflight=settings.outbox.max_inflight,
            will=RetainedMessage(status, LOST_PAYLOAD),
            birth=RetainedMessage(status, ONLINE_PAYLOAD),
            farewell=RetainedMessage(status, STOPPED_PAYLOAD),
            receipts=receipt_link(settings.facility_code, settings.reader_id)
            if settings.outbox.require_receipt else None,
            retry_after=settings.outbox.retry_after_seconds,
            max_retry_after=settings.outbox.max_retry_after_seconds,
            window=settings.outbox.resend_window,
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
        # The debounce memory lives in the outbox database: a rescan right after a restart is the same visit.
        self.flow.debouncer = persistent_debouncer(settings.debounce_seconds, DebounceStore(self.outbox), secret)
        self._explicit_sources = qr_sources
        self.qr_inputs: list[QrInput] = []
        self.web: DeskWeb | None = None
        self.availability = Availability(
            settings, outbox=self.outbox, publisher=self.publisher, hub=self.hub, health=self.health,
            last_scan_at=lambda: self.flow.last_scan_at, readers=self._reader_names,
            component_states=self.component_states, restarts=lambda: dict(self.supervisor.restarts),
        )
        self.desk = DeskLoop(self)
        self.components: list[Component] = []
        self.supervisor = Supervisor(lambda: self.components, on_fatal=self._fatal)
        self.failed = threading.Event()  # set when the supervisor gave up: the process must exit non-zero
        self._stop = threading.Event()

    # -- lifecycle
    def start(self) -> None:
        """Start every component; returns once the agent is ready (sd_notify READY)."""
        sources = list(self._explicit_sources) if self._explicit_sources is not None else self._open_sources()
        self.qr_inputs = [QrInput(source, self.events.put, self.note_error) for source in sources]
        self.components = [PublisherPart(self.publisher), *self.qr_inputs]
        if self.chip is not None:
            self.components.append(self.chip)
        if self.settings.screen.enabled:
            self.web = DeskWeb(self.hub, self.settings.screen, his_token=self.settings.his_token(),
                               actions=self.desk_actions(), screen_token=self.settings.screen_token(),
                               aim_jpeg=aim_view(sources) if self.settings.screen.technician_mode else None)
            self.components.append(self.web)
        self.components += [self.availability, self.desk]
        for component in self.components:
            component.start()
        self.supervisor.start()
        notify("READY=1")
        notify(f"STATUS=reading at {self.settings.facility_code}/{self.settings.reader_id}")

    def stop(self) -> None:
        notify("STOPPING=1")
        self._stop.set()
        self.supervisor.stop()  # first: a part stopped on purpose is not restarted
        # The desk and the inputs first, the publisher last: what the desk recorded on the way out
        # still gets its chance.
        for component in reversed(self.components):
            try:
                component.stop()
            except Exception:  # one part failing to stop must not keep the others running
                log.exception("stopping %s failed", component.name)
        self.outbox.close()

    def wait(self, stop: threading.Event) -> int:
        """Run until ``stop`` is set (0) or the supervisor gave up (1: systemd restarts us)."""
        while not stop.wait(0.5):
            if self.failed.is_set():
                return 1
        return 1 if self.failed.is_set() else 0

    def run_forever(self) -> int:
        self.start()
        try:
            return self.wait(self._stop)
        finally:
            self.stop()

    def _fatal(self, reason: str) -> None:
        self.note_error(f"giving up: {reason}")
        self.failed.set()

    def component_states(self) -> dict[str, str]:
        """Each component's state by name (for the heartbeat and the watchdog)."""
        states = {c.name: c.state().value for c in self.components}
        states[self.supervisor.name] = self.supervisor.state().value
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

    def enqueue_can(self, can: str, replace: bool = False) -> None:
        self.events.put(CanEntered(can, replace))

    def desk_actions(self) -> DeskActions:
        """The screen's buttons, each queued for the desk thread."""
        can = self.enqueue_can if self.flow.chip_reader is not None else None  # a QR-only desk has no keypad
        return DeskActions(can=can, next_patient=lambda: self.events.put(NextPatient()),
                           rescan=lambda: self.events.put(Rescan()))

    def trust_store(self) -> TrustStore | None:
        return self.chip.trust_store() if self.chip is not None else None

    # -- the desk thread's dispatch
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
            case CanEntered(can=can, replace=replace):
                self.flow.on_can(can, replace=replace)
            case NextPatient():
                self.flow.on_next_patient()
            case Rescan():
                self.flow.on_rescan()
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
        if view is None or not view.id_number or not view.handed_to_his:  # never a rejected read
            return
        try:
            if self.wedge is None:
                self.wedge = KeyboardWedge()
            self.wedge.type_text(view.id_number, self.settings.his.wedge_suffix)
        except Exception as exc:  # no /dev/uinput access: say so, the check-in stands
            self.note_error(f"keyboard wedge failed: {exc.__class__.__name__}")

    # -- QR sources from the settings, through the drivers' registry
    def _open_sources(self) -> list[QrSource]:
        sources: list[QrSource] = []
        for spec in self.settings.qr_sources:
            try:
                sources.append(open_source(spec))
            except Exception as exc:  # one missing device must not stop the others
                self.note_error(f"cannot open {spec.kind} {spec.device}: {exc.__class__.__name__}")
        return sources

    def _reader_names(self) -> list[str]:
        chip = [self.chip.reader_name] if self.chip is not None and self.chip.reader_name else []
        return chip + [q.source.source_id for q in self.qr_inputs]

    def note_error(self, text: str) -> None:
        log.warning("%s", text)
        self.health.note_error(text)
