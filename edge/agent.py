"""The desk agent: card reads in, check-in events out through the outbox to the broker.

This skeleton wires the check-in service to the MQTT communicator and announces the
reader's availability (a retained ``online`` on connect, ``offline`` as the last will).
The QR and chip sources feed :meth:`DeskAgent.submit_qr`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from edge.checkin import CheckInOutcome, CheckInService
from edge.config import EdgeSettings
from edge.events import status_topic
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher, RetainedMessage

log = logging.getLogger(__name__)


class DeskAgent:
    """One reader at one desk."""

    def __init__(self, settings: EdgeSettings, *, pseudonym_key: bytes | None = None) -> None:
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

    def start(self) -> None:
        self.publisher.start()

    def stop(self) -> None:
        self.publisher.stop()
        self.outbox.close()

    def submit_qr(self, payload: str | bytes, seen_at: datetime | None = None) -> CheckInOutcome:
        outcome = self.service.submit_qr(payload, seen_at)
        if outcome.event is not None:
            self.publisher.wake()
        return outcome
