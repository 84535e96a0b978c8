"""From a card read to a private check-in event in the outbox.

This is the desk's core: it knows the parsed record (which holds personal data and
stays at the desk) and writes to the outbox only the event of the contract (which
holds none). No hardware, no network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from edge.clock import DeskClock
from edge.domain.messages import DomainError
from edge.domain.qr import CccdRecord, parse_qr
from edge.events import CheckInEvent, Method, checkin_topic, new_event_id, pseudonymise
from edge.outbox import Outbox
from edge.trust.levels import TrustLevel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckInOutcome:
    """What one scan produced: a record and an event, or an error. Holds personal data."""

    record: CccdRecord | None
    event: CheckInEvent | None
    error: DomainError | None

    @property
    def ok(self) -> bool:
        return self.event is not None


class CheckInService:
    """Turns card reads at one reader into check-in events in the outbox."""

    def __init__(self, facility_code: str, reader_id: str, pseudonym_key: bytes, outbox: Outbox,
                 *, clock: DeskClock | None = None) -> None:
        self.facility_code = facility_code
        self.clock = clock or DeskClock()
        self.reader_id = reader_id
        self._key = pseudonym_key
        self.outbox = outbox
        self.topic = checkin_topic(facility_code, reader_id)

    def parse_qr(self, payload: str | bytes) -> CccdRecord:
        """The QR's record, its dates judged by the desk's clock (not refused when it is unsynchronised)."""
        return parse_qr(payload, today=self.clock.today(), clock_trusted=self.clock.trusted())

    def submit_qr(self, payload: str | bytes, seen_at: datetime | None = None) -> CheckInOutcome:
        """Parse a QR payload and, when it is a card's, queue its check-in."""
        try:
            record = self.parse_qr(payload)
        except DomainError as err:
            log.info("QR refused: %s", err.code)
            return CheckInOutcome(record=None, event=None, error=err)
        if not record.from_card:
            # An app re-rendered it: it is not a card check-in.
            return CheckInOutcome(record=record, event=None, error=None)
        event = self.record_checkin(record.id_number, Method.QR, TrustLevel.QR_ONLY, seen_at)
        return CheckInOutcome(record=record, event=event, error=None)

    def record_checkin(
        self, id_number: str, method: Method, trust_level: TrustLevel, seen_at: datetime | None = None
    ) -> CheckInEvent:
        """Queue one check-in durably and return its event."""
        occurred = seen_at or self.clock.now()
        event = CheckInEvent(
            event_id=new_event_id(occurred.timestamp()),
            facility_code=self.facility_code,
            reader_id=self.reader_id,
            occurred_at=occurred,
            method=method,
            trust_level=trust_level,
            citizen_pseudonym=pseudonymise(id_number, self._key),
        )
        self.outbox.add(event.event_id, self.topic, event.to_json_bytes())
        return event
