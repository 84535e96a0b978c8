"""The visit at the desk: QR first, then the chip, then exactly one check-in.

The natural flow: the receptionist scans the card's QR code (it yields the chip's access
key), then lays the card on the reader; the chip is read and verified, and one check-in
carries the combined trust level. A QR-only desk, or a card that never reaches the
reader within ``chip_wait_seconds``, gives a QR-only check-in; a typed CAN gives a
chip-only read. The same card seen again within the debounce window — by the camera, a
scanner or the reader — is the same visit.

The screen tells the facts (:mod:`edge.desk.view`): the check-in is written to the
outbox *before* the screen says "recorded", and when the write fails (a full disk) the
screen says so and the visit ends all the same, so the next patient is never held back.
A visit under way is never replaced by a typed CAN unless the receptionist asks for it.

Single-threaded by design: the agent feeds every event from one desk thread. Time and
the chip reading are injected, so the flow is tested without hardware.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from edge.checkin import CheckInService
from edge.debounce import Debouncer, debounce_key, id_number_key
from edge.desk.hub import DeskHub
from edge.desk.view import (
    PatientView,
    view_from_chip,
    view_from_chip_error,
    view_from_error,
    view_from_qr,
    waiting_view,
    with_write_failure,
)
from edge.domain.messages import MESSAGES, DomainError
from edge.domain.qr import CccdRecord
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
CanAnswer = Literal["accepted", "visit_in_progress", "invalid", "no_chip_reader"]


@dataclass
class Visit:
    started: float
    qr: CccdRecord | None = None
    can_key: AccessKey | None = None
    chip_attempted: bool = False
    debounce_keys: list[bytes] = field(default_factory=list)


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
        debouncer: Debouncer | None = None,
    ) -> None:
        """``debouncer``: one that remembers across restarts (the agent's, over the outbox database);
        by default an in-memory one of ``debounce_seconds``."""
        self.service = service
        self.hub = hub
        self.chip_reader = chip_reader
        self.chip_wait_seconds = chip_wait_seconds
        self.clock = clock
        self.debouncer = debouncer or Debouncer(debounce_seconds, clock=clock)
        self.card_present = False
        self.pending: Visit | None = None
        self.last_scan_at: datetime | None = None
        #: the last outbox write failure (code, when), for the screen's and the heartbeat's alarm
        self.write_failure: tuple[str, datetime] | None = None
        self._on_checkin = on_checkin
        self._recorded = False
        self._last_keys: list[bytes] = []
        self._last_recorded = True

    # -- events
    def on_qr(self, data: bytes, seen_at: datetime | None = None, flags: Mapping[str, object] | None = None) -> None:
        """A QR payload from any source (camera, scanner)."""
        if not self.debouncer.accept(data):
            return  # the same card again within the window: the same visit
        self.last_scan_at = seen_at or self.service.clock.now()
        if flags and flags.get("diacritics_lost"):
            # A keyboard-mode scanner dropped the Vietnamese letters: the name is wrong.
            self._settle_unrecorded(view_from_error(DomainError("qr.diacritics_lost")), [debounce_key(data)])
            return
        try:
            record = self.service.parse_qr(data)
        except DomainError as err:
            self._settle_unrecorded(view_from_error(err), [debounce_key(data)])
            return
        if not record.from_card:
            self._settle_unrecorded(view_from_qr(record, checkin_recorded=False), [debounce_key(data)])
            return
        if self.pending is not None and self.pending.qr is not None and self.pending.qr.id_number != record.id_number:
            self._finish_qr_only(self.pending, "chip.not_presented")  # a new patient: the previous one leaves QR-only
        self.pending = Visit(started=self.clock(), qr=record, debounce_keys=[debounce_key(data)])
        if self.chip_reader is None:
            self._finish_qr_only(self.pending)
        elif self.card_present:
            self._read_chip(self.pending, self._keys_for(record))
        else:
            self._show_waiting_for_card(self.pending)

    def on_card_inserted(self) -> None:
        self.card_present = True
        if self.chip_reader is None:
            return
        visit = self.pending
        if visit is not None and not visit.chip_attempted:
            if visit.qr is not None:
                self._read_chip(visit, self._keys_for(visit.qr))
            elif visit.can_key is not None:
                self._read_chip(visit, [visit.can_key])
        elif visit is None:
            self.hub.show(waiting_view("waiting_qr", "next.scan_qr_or_type_can"))

    def on_card_removed(self) -> None:
        self.card_present = False

    def visit_in_progress(self) -> bool:
        """A QR visit waits for its card (or a chip read runs): a CAN must not replace it unasked."""
        return self.pending is not None and self.pending.qr is not None and not self.pending.chip_attempted

    def on_can(self, can: str, *, replace: bool = False) -> CanAnswer:
        """A CAN typed at the desk: a chip-only read, now or when the card is laid on the reader.

        A QR visit waiting for its card is kept unless ``replace`` (the receptionist's explicit
        "replace the waiting patient"), which ends it as a QR-only check-in first: nothing is lost.
        """
        if self.chip_reader is None:
            return "no_chip_reader"  # a QR-only desk: a CAN opens nothing
        try:
            key = key_from_can(can)
        except AccessKeyError:
            return "invalid"
        if self.visit_in_progress():
            if not replace:
                log.info("CAN refused: a visit is in progress")
                return "visit_in_progress"
            assert self.pending is not None
            self._finish_qr_only(self.pending, "chip.not_presented")
        visit = Visit(started=self.clock(), can_key=key)
        self.pending = visit
        if self.card_present and self.chip_reader is not None:
            self._read_chip(visit, [key])
        else:
            self.hub.show(waiting_view("waiting_card", "next.place_card_on_reader"))
        return "accepted"

    def on_next_patient(self) -> None:
        """The receptionist's "next patient": the visit under way ends (QR-only if a QR was read), the screen clears."""
        visit = self.pending
        if visit is not None and visit.qr is not None and not visit.chip_attempted:
            self._finish_qr_only(visit, "chip.not_presented")
        self.pending = None
        self.hub.clear()

    def on_rescan(self) -> None:
        """The receptionist's "rescan": the same card may be read again at once.

        Only a visit that recorded nothing is forgotten by the debouncer; a recorded one
        stays one visit (a second check-in for the same card would count it twice).
        """
        if not self._last_recorded:
            for key in self._last_keys:
                self.debouncer.forget(key)
        self._last_keys = []
        self.hub.show(waiting_view("idle", "desk.rescan_ready"))

    def tick(self) -> None:
        """Called about once a second: a visit whose card never reached the reader ends."""
        visit = self.pending
        if visit is None or visit.chip_attempted or self.clock() - visit.started < self.chip_wait_seconds:
            return
        if visit.qr is not None:
            self._finish_qr_only(visit, "chip.not_presented")
        else:  # a typed CAN and no card: nothing was read, nothing to record
            self.pending = None
            self.hub.clear()

    # -- outcomes
    def _keys_for(self, record: CccdRecord) -> list[AccessKey]:
        return keys_from_qr(record.id_number, record.date_of_birth,
                            expiry_candidates(record.date_of_birth, record.issue_date))

    def _show_waiting_for_card(self, visit: Visit) -> None:
        assert visit.qr is not None
        left = max(0.0, self.chip_wait_seconds - (self.clock() - visit.started))
        fallback_at = datetime.now(UTC) + timedelta(seconds=left)
        self.hub.show(view_from_qr(visit.qr, checkin_recorded=False, chip_expected=True, fallback_at=fallback_at))

    def _finish_qr_only(self, visit: Visit, chip_problem: str | None = None) -> None:
        assert visit.qr is not None
        failure = self._record(visit.qr.id_number, Method.QR, TrustLevel.QR_ONLY)
        if chip_problem is None:
            view = view_from_qr(visit.qr, checkin_recorded=failure is None)
        else:
            view = view_from_chip_error(chip_problem, visit.qr, checkin_recorded=failure is None)
        self._settle(visit, view, failure)

    def _read_chip(self, visit: Visit, keys: Sequence[AccessKey]) -> None:
        assert self.chip_reader is not None
        visit.chip_attempted = True
        self.hub.show(waiting_view("reading", "next.keep_card_still"))
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
        # A rejected read (clone, mismatch) is still written: the server counts it as an attempt.
        failure = self._record(id_number, method, check.trust.level)
        view = view_from_chip(check, visit.qr, checkin_recorded=failure is None)
        # Whatever path comes next for this card within the window is the same visit.
        key = id_number_key(id_number)
        self.debouncer.accept_key(key)
        visit.debounce_keys.append(key)
        self._settle(visit, view, failure, photo=check.face_image, photo_mime=check.face_mime or "image/jpeg")

    def _chip_failed(self, visit: Visit, code: str) -> None:
        log.info("chip read failed: %s", code)
        if visit.qr is not None:
            self._finish_qr_only(visit, code)
        else:
            self._settle_unrecorded(view_from_chip_error(code, None, checkin_recorded=False), visit.debounce_keys)
            self._done(visit)

    def _record(self, id_number: str, method: Method, level: TrustLevel) -> str | None:
        """Write the check-in to the outbox; the failure's code when it could not be written."""
        try:
            self.service.record_checkin(id_number, method, level)
        except (sqlite3.Error, OSError) as exc:
            code = "outbox.disk_full" if _is_disk_full(exc) else "outbox.write_failed"
            log.error("check-in not recorded: %s (%s)", code, exc.__class__.__name__)
            if self.write_failure is None:  # the footer's alarm, until a write succeeds again
                message = MESSAGES[code]
                self.hub.set_status(write_alarm={"code": code, "vi": message.vi, "en": message.en})
            self.write_failure = (code, datetime.now(UTC))
            return code
        if self.write_failure is not None:
            self.hub.set_status(write_alarm=None)
        self.write_failure = None
        self._recorded = True
        return None

    def _settle(self, visit: Visit, view: PatientView, failure: str | None, *, photo: bytes | None = None,
                photo_mime: str = "image/jpeg") -> None:
        """Show the visit's end (after its write), remember it for a rescan, and free the desk."""
        if failure is not None:
            view = with_write_failure(view, failure)
        self.hub.show(view, photo=photo, photo_mime=photo_mime)
        self._last_keys = list(visit.debounce_keys)
        self._last_recorded = failure is None and view.checkin_recorded
        self._done(visit)

    def _settle_unrecorded(self, view: PatientView, keys: list[bytes]) -> None:
        self.hub.show(view)
        self._last_keys = list(keys)
        self._last_recorded = False

    def _done(self, visit: Visit) -> None:
        """The visit is over; the check-in callback runs once its view is on the screen."""
        if self.pending is visit:
            self.pending = None
        if self._recorded:
            self._recorded = False
            if self._on_checkin:
                self._on_checkin()


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return exc.sqlite_errorcode == sqlite3.SQLITE_FULL or "full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC
