"""The visit at the desk: QR first, then the chip, then exactly one check-in.

The natural flow: the receptionist scans the card's QR code (it yields the chip's access
key), then lays the card on the reader; the chip is read and verified, and one check-in
carries the combined trust level. A QR-only desk, or a card that never reaches the
reader within ``chip_wait_seconds``, gives a QR-only check-in; a typed CAN gives a
chip-only read. The same card seen again within the debounce window — by the camera, a
scanner or the reader — is the same visit.

Single-threaded by design: the agent feeds every event from one desk thread. Time and
the chip reading are injected, so the flow is tested without hardware.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from edge.checkin import CheckInService
from edge.debounce import Debouncer, id_number_key
from edge.desk.hub import DeskHub
from edge.desk.view import Badge, PatientView, view_from_chip, view_from_chip_error, view_from_error, view_from_qr
from edge.domain.messages import MESSAGES, DomainError
from edge.domain.qr import CccdRecord, parse_qr
from edge.domain.validity import expiry_candidates
from edge.events import Method
from edge.icao.access import AccessKey, AccessKeyError, key_from_can, keys_from_qr
from edge.icao.errors import AuthenticationError, CardRemovedError, IcaoError, TransportError
from edge.trust.levels import TrustLevel

if TYPE_CHECKING:  # the chip reader pulls in the whole chip stack; the flow only reads its result
    from edge.chip_reader import ChipCheck

log = logging.getLogger(__name__)

#: Reads and verifies the card on the reader with these keys (and the QR to cross-check).
ChipReader = Callable[[Sequence[AccessKey], CccdRecord | None], "ChipCheck"]


@dataclass
class Visit:
    started: float
    qr: CccdRecord | None = None
    chip_attempted: bool = False


class DeskFlow:
    """Turns QR payloads, card taps and typed CANs into views and check-ins."""

    def __init__(
        self,
        service: CheckInService,
        hub: DeskHub,
        *,
        chip_reader: ChipReader | None,
        chip_wait_seconds: float = 20.0,
        debounce_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_checkin: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.hub = hub
        self.chip_reader = chip_reader
        self.chip_wait_seconds = chip_wait_seconds
        self.clock = clock
        self.debouncer = Debouncer(debounce_seconds, clock=clock)
        self.card_present = False
        self.pending: Visit | None = None
        self.last_scan_at: datetime | None = None
        self._on_checkin = on_checkin
        self._recorded = False

    # -- events
    def on_qr(self, data: bytes, seen_at: datetime | None = None, flags: Mapping[str, object] | None = None) -> None:
        """A QR payload from any source (camera, scanner)."""
        if not self.debouncer.accept(data):
            return  # the same card again within the window: the same visit
        self.last_scan_at = seen_at or datetime.now(UTC)
        if flags and flags.get("diacritics_lost"):
            # A keyboard-mode scanner dropped the Vietnamese letters: the name is wrong.
            self.hub.show(view_from_error(DomainError("qr.diacritics_lost")))
            return
        try:
            record = parse_qr(data)
        except DomainError as err:
            self.hub.show(view_from_error(err))
            return
        if not record.from_card:
            self.hub.show(view_from_qr(record, checkin_recorded=False))
            return
        if self.pending is not None and self.pending.qr is not None and self.pending.qr.id_number != record.id_number:
            self._finish_qr_only(self.pending)  # a new patient: the previous one leaves with a QR check-in
        self.pending = Visit(started=self.clock(), qr=record)
        if self.chip_reader is None:
            self._finish_qr_only(self.pending)
        elif self.card_present:
            self._read_chip(self.pending, self._keys_for(record))
        else:
            self.hub.show(view_from_qr(record, checkin_recorded=False, chip_expected=True))

    def on_card_inserted(self) -> None:
        self.card_present = True
        if self.chip_reader is None:
            return
        visit = self.pending
        if visit is not None and visit.qr is not None and not visit.chip_attempted:
            self._read_chip(visit, self._keys_for(visit.qr))
        elif visit is None:
            self.hub.show(PatientView(outcome="warning", next_step=Badge.of("next.scan_qr_or_type_can", "info")))

    def on_card_removed(self) -> None:
        self.card_present = False

    def on_can(self, can: str) -> None:
        """A CAN typed at the desk: a chip-only read."""
        try:
            key = key_from_can(can)
        except AccessKeyError:
            self.hub.show(view_from_chip_error("chip.access_denied", MESSAGES["chip.access_denied"].vi,
                                               MESSAGES["chip.access_denied"].en, None, checkin_recorded=False))
            return
        visit = Visit(started=self.clock())
        self.pending = visit
        if self.card_present and self.chip_reader is not None:
            self._read_chip(visit, [key])

    def tick(self) -> None:
        """Called about once a second: a QR visit whose card never reached the reader ends QR-only."""
        visit = self.pending
        if (visit is not None and visit.qr is not None and not visit.chip_attempted
                and self.clock() - visit.started >= self.chip_wait_seconds):
            self._finish_qr_only(visit)

    # -- outcomes
    def _keys_for(self, record: CccdRecord) -> list[AccessKey]:
        return keys_from_qr(record.id_number, record.date_of_birth,
                            expiry_candidates(record.date_of_birth, record.issue_date))

    def _finish_qr_only(self, visit: Visit, chip_error: tuple[str, str, str] | None = None) -> None:
        assert visit.qr is not None
        self._record(visit.qr.id_number, Method.QR, TrustLevel.QR_ONLY)
        if chip_error is None:
            self.hub.show(view_from_qr(visit.qr, checkin_recorded=True))
        else:
            self.hub.show(view_from_chip_error(*chip_error, visit.qr, checkin_recorded=True))
        self._done(visit)

    def _read_chip(self, visit: Visit, keys: Sequence[AccessKey]) -> None:
        assert self.chip_reader is not None
        visit.chip_attempted = True
        self.hub.show(PatientView(outcome="warning", next_step=Badge.of("next.keep_card_still", "info")))
        try:
            check = self.chip_reader(keys, visit.qr)
        except (AuthenticationError, AccessKeyError):
            self._chip_failed(visit, "chip.access_denied")
            return
        except CardRemovedError:
            self._chip_failed(visit, "chip.card_removed")
            return
        except TransportError:
            self._chip_failed(visit, "chip.reader_unavailable")
            return
        except IcaoError:
            self._chip_failed(visit, "chip.read_failed")
            return
        id_number = (check.identity.id_number if check.identity else None) or (visit.qr.id_number if visit.qr else None)
        if id_number is None:
            self._chip_failed(visit, "chip.read_failed")
            return
        method = Method.QR_AND_CHIP if visit.qr is not None else Method.CHIP
        self._record(id_number, method, check.trust.level)
        self.hub.show(view_from_chip(check, visit.qr, checkin_recorded=True),
                      photo=check.face_image, photo_mime=check.face_mime or "image/jpeg")
        # Whatever path comes next for this card within the window is the same visit.
        self.debouncer.accept_key(id_number_key(id_number))
        self._done(visit)

    def _chip_failed(self, visit: Visit, code: str) -> None:
        log.info("chip read failed: %s", code)
        message = MESSAGES[code]
        if visit.qr is not None:
            self._finish_qr_only(visit, (code, message.vi, message.en))
        else:
            self.hub.show(view_from_chip_error(code, message.vi, message.en, None, checkin_recorded=False))
            self._done(visit)

    def _record(self, id_number: str, method: Method, level: TrustLevel) -> None:
        self.service.record_checkin(id_number, method, level)
        self._recorded = True

    def _done(self, visit: Visit) -> None:
        """The visit is over; the check-in callback runs once its view is on the screen."""
        if self.pending is visit:
            self.pending = None
        if self._recorded:
            self._recorded = False
            if self._on_checkin:
                self._on_checkin()
