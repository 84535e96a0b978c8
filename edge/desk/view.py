"""What the receptionist's screen and the HIS hand-off show about the current patient.

A :class:`PatientView` is built from whatever the desk read — the QR record, the chip's
data groups, the trust result — and is the one object the screen, the HIS API and the
local history read. It holds personal data and never leaves the desk.

Its :attr:`PatientView.state` is the screen's one state machine, shown the same way
everywhere:

* ``idle`` — nobody at the desk; ``waiting_card`` — the QR was read and the card is
  awaited on the reader, with the time left before a QR-only check-in (``fallback_at``);
  ``waiting_qr`` — a card lies on the reader, its QR (or CAN) is awaited; ``reading`` —
  the chip is being read. Neutral colours: nothing is recorded yet.
* ``recorded`` (green) — a check-in was written to the outbox and nothing needs a look;
* ``recorded_caution`` (amber) — a check-in was written, with a reason to look (QR only
  after a failed or missing chip read, an unanchored chip, a finding on the QR);
* ``not_recorded`` (red) — no check-in: the read was refused or rejected (clone, QR/chip
  mismatch, bad signature: the attempt's event still goes to the server, as an attempt),
  or the outbox could not be written (``write_failed``). A reason and what to do.

Green only when a check-in was recorded. A rejected read is never handed to the HIS as
the current patient (:attr:`PatientView.handed_to_his`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from contract.catalogue import text, trust_sentence
from edge.domain.idnumber import redact_id_number
from edge.domain.messages import DomainError
from edge.domain.qr import CccdRecord
from edge.domain.text import foreign_letters, text_problem
from edge.events import Method, new_event_id
from edge.trust.levels import TrustLevel
from edge.trust.result import CheckName, CheckStatus, TrustResult

if TYPE_CHECKING:  # the chip reader pulls in the whole chip stack; the view only reads its result
    from edge.chip_reader import ChipCheck

Severity = Literal["ok", "info", "warning", "error"]
ScreenState = Literal["idle", "waiting_card", "waiting_qr", "reading", "recorded", "recorded_caution", "not_recorded"]
Outcome = Literal["pending", "success", "warning", "failure"]

_OUTCOME: dict[ScreenState, Outcome] = {
    "idle": "pending", "waiting_card": "pending", "waiting_qr": "pending", "reading": "pending",
    "recorded": "success", "recorded_caution": "warning", "not_recorded": "failure",
}
#: The states in which a visit is under way: nothing may replace it without the receptionist.
IN_PROGRESS: frozenset[ScreenState] = frozenset({"waiting_card", "reading"})

# Findings that do not weaken the check-in: shown, but in a neutral colour.
_INFO_CODES = frozenset({"layout.extra_fields_present", "layout.unexpected_field_count"})
# The cross-check's reasons, by the field they are about (the trust module decides what differs).
_MISMATCH_FIELD = {
    "id_number_mismatch": "id_number", "name_mismatch": "full_name",
    "date_of_birth_mismatch": "date_of_birth", "sex_mismatch": "sex",
}


class Badge(BaseModel):
    """One finding on the screen: a coded, bilingual statement with a severity."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity
    vi: str
    en: str

    @classmethod
    def of(cls, code: str, severity: Severity) -> Badge:
        """The badge of a catalogue code (:mod:`contract.catalogue`)."""
        msg = text(code)
        return cls(code=code, severity=severity, vi=msg.vi, en=msg.en)


class FieldComparison(BaseModel):
    """One field of a QR/chip mismatch, side by side. Personal data."""

    model_config = ConfigDict(frozen=True)

    field: str  # the catalogue's field name (field.<name>)
    qr: str | None
    chip: str | None
    differs: bool


class PatientView(BaseModel):
    """The current patient as the desk shows it. Personal data: stays on the Pi."""

    model_config = ConfigDict(frozen=True)

    visit_id: str = Field(default_factory=new_event_id)
    scanned_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    state: ScreenState
    method: Method | None = None
    trust_level: TrustLevel = TrustLevel.INVALID
    id_number: str | None = None
    full_name: str | None = None
    date_of_birth: date | None = None
    sex: Literal["M", "F"] | None = None
    address: str | None = None
    nationality: str | None = None
    ethnicity: str | None = None
    has_photo: bool = False
    badges: tuple[Badge, ...] = ()
    next_step: Badge = Badge.of("next.none", "ok")
    checkin_recorded: bool = False
    #: the read was fine but the outbox could not be written (disk full...)
    write_failed: bool = False
    #: the card was refused (clone, mismatch, bad signature, hostile text): not the HIS's patient
    rejected: bool = False
    #: when a QR visit waiting for its card becomes a QR-only check-in (``waiting_card``)
    fallback_at: datetime | None = None
    comparison: tuple[FieldComparison, ...] = ()

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use on a property
    @property
    def outcome(self) -> Outcome:
        """The state's colour family: pending, success (green), warning (amber), failure (red)."""
        return _OUTCOME[self.state]

    @property
    def reason(self) -> Badge | None:
        """The main reason for a caution or a refusal: the first badge that is not fine."""
        return next((b for b in self.badges if b.severity in ("warning", "error")), None)

    @property
    def handed_to_his(self) -> bool:
        """Whether the HIS gets this patient: a read the desk accepted, recorded or not."""
        accepted = self.state in ("recorded", "recorded_caution") or (self.write_failed and not self.rejected)
        return accepted and self.id_number is not None

    def __repr__(self) -> str:
        return (f"PatientView(visit_id={self.visit_id!r}, state={self.state!r}, "
                f"id={redact_id_number(self.id_number or '')!r}, trust={self.trust_level.value!r})")

    __str__ = __repr__


def _qr_badges(record: CccdRecord) -> list[Badge]:
    return [Badge.of(w.code, "info" if w.code in _INFO_CODES else "warning") for w in record.warnings]


def _settled(badges: list[Badge], *, recorded: bool) -> ScreenState:
    if not recorded:
        return "not_recorded"
    return "recorded_caution" if any(b.severity in ("warning", "error") for b in badges) else "recorded"


def view_from_qr(
    record: CccdRecord, *, checkin_recorded: bool, chip_expected: bool = False, fallback_at: datetime | None = None
) -> PatientView:
    """The screen after a QR read: waiting for the card, recorded QR-only, or refused (not a card's QR)."""
    badges = _qr_badges(record)
    if not record.from_card:
        state: ScreenState = "not_recorded"
        next_step = Badge.of("next.scan_id_card", "warning")
        level = TrustLevel.INVALID
    else:
        level = TrustLevel.QR_ONLY
        if chip_expected and not checkin_recorded:
            state, next_step = "waiting_card", Badge.of("next.place_card_on_reader", "info")
        else:
            state, next_step = _settled(badges, recorded=checkin_recorded), Badge.of("next.none", "info")
    return PatientView(
        state=state,
        method=Method.QR,
        trust_level=level,
        id_number=record.id_number,
        full_name=record.full_name,
        date_of_birth=record.date_of_birth,
        sex=record.sex,
        address=record.address,
        nationality="Việt Nam",
        badges=tuple(badges),
        next_step=next_step,
        checkin_recorded=checkin_recorded,
        fallback_at=fallback_at if state == "waiting_card" else None,
    )


_NEXT_FOR_ERROR = {
    "qr.diacritics_lost": "next.switch_scanner_to_serial",
    "qr.bhyt_card": "next.scan_id_card",
    "qr.not_cccd": "next.scan_id_card",
}


def view_from_error(error: DomainError) -> PatientView:
    """The screen after a read that produced nothing usable (nothing recorded, nothing for the HIS)."""
    next_code = _NEXT_FOR_ERROR.get(error.code, "next.rescan_qr")
    return PatientView(
        state="not_recorded",
        rejected=True,
        badges=(Badge(code=error.code, severity="error", vi=error.message_vi, en=error.message_en),),
        next_step=Badge.of(next_code, "warning"),
    )


def waiting_view(state: ScreenState, next_code: str) -> PatientView:
    """A neutral screen while the desk waits (for the QR, for the chip read)."""
    return PatientView(state=state, next_step=Badge.of(next_code, "info"))


def _badges_from_trust(trust: TrustResult) -> list[Badge]:
    """A badge per reason of each trust check that failed (cross-check findings included)."""
    return [
        Badge(code=f"{name.value}.{reason.code}", severity="error", vi=reason.vi, en=reason.en)
        for name, check in trust.checks.items()
        if check.status is CheckStatus.FAILED
        for reason in check.reasons
    ]


# The levels the desk states as a finding of their own, and in which colour.
_LEVEL_SEVERITY: dict[TrustLevel, Severity] = {
    TrustLevel.CHIP_VERIFIED_CLONE_CHECKED: "ok",
    TrustLevel.CHIP_VERIFIED: "ok",
    TrustLevel.CHIP_DATA_UNANCHORED: "warning",
}


def _comparison(trust: TrustResult, qr: CccdRecord, chip: PatientView) -> tuple[FieldComparison, ...]:
    """The QR's and the chip's values side by side, the fields the cross-check found different marked."""
    check = trust.check(CheckName.CROSSCHECK)
    if check.status is not CheckStatus.FAILED:
        return ()
    differing = {_MISMATCH_FIELD[r.code] for r in check.reasons if r.code in _MISMATCH_FIELD}

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    rows = [
        ("id_number", qr.id_number, chip.id_number),
        ("full_name", qr.full_name, chip.full_name),
        ("date_of_birth", iso(qr.date_of_birth), iso(chip.date_of_birth)),
        ("sex", qr.sex, chip.sex),
    ]
    return tuple(FieldComparison(field=f, qr=q, chip=c, differs=f in differing) for f, q, c in rows)


def view_from_chip(check: ChipCheck, qr: CccdRecord | None, *, checkin_recorded: bool) -> PatientView:
    """The screen after a chip read: the chip's own data first, the QR's where the chip has none.

    ``checkin_recorded`` says whether the check-in reached the outbox; a rejected read
    (level ``invalid``) is never a check-in, whatever was written for it.
    """
    trust = check.trust
    level = trust.level
    identity = check.identity
    dg13 = check.read.dg13
    badges = _badges_from_trust(trust)
    if level in _LEVEL_SEVERITY:
        sentence = trust_sentence(level)
        badges.insert(0, Badge(code=f"trust.{level.value}", severity=_LEVEL_SEVERITY[level],
                               vi=sentence.vi, en=sentence.en))
    if qr is not None:
        badges.extend(_qr_badges(qr))

    chip_name = identity.full_name if identity else None
    chip_address = dg13.residence if dg13 else None
    # The chip's text is checked like the QR's: nothing unchecked reaches the screen's HIS feed.
    hostile_text = any(text_problem(v) for v in (chip_name, chip_address, dg13.nationality if dg13 else None,
                                                  dg13.ethnicity if dg13 else None) if v)
    if hostile_text:
        badges.insert(0, Badge.of("chip.text_refused", "error"))
    elif chip_name and foreign_letters(chip_name) and not any(b.code == "name.mixed_script" for b in badges):
        badges.append(Badge.of("name.mixed_script", "warning"))

    rejected = level == TrustLevel.INVALID or hostile_text
    if rejected:
        state: ScreenState = "not_recorded"
        next_step = Badge.of("next.check_document_by_hand", "error")
    else:
        state = _settled(badges, recorded=checkin_recorded)
        if level < TrustLevel.CHIP_VERIFIED and state == "recorded":
            state = "recorded_caution"
        next_step = Badge.of("next.none", "ok" if state == "recorded" else "info")

    def pick(chip_value: str | None, qr_value: str | None) -> str | None:
        return chip_value or qr_value

    view = PatientView(
        state=state,
        method=Method.QR_AND_CHIP if qr is not None else Method.CHIP,
        trust_level=level,
        id_number=pick(identity.id_number if identity else None, qr.id_number if qr else None),
        full_name=pick(chip_name, qr.full_name if qr else None),
        date_of_birth=(identity.date_of_birth if identity else None) or (qr.date_of_birth if qr else None),
        sex=(identity.sex if identity else None) or (qr.sex if qr else None),
        address=pick(chip_address, qr.address if qr else None),
        nationality=(dg13.nationality if dg13 else None) or "Việt Nam",
        ethnicity=dg13.ethnicity if dg13 else None,
        has_photo=bool(check.face_image),
        badges=tuple(badges),
        next_step=next_step,
        checkin_recorded=checkin_recorded and not rejected,
        rejected=rejected,
    )
    if qr is not None:
        view = view.model_copy(update={"comparison": _comparison(trust, qr, view)})
    return view


def view_from_chip_error(code: str, qr: CccdRecord | None, *, checkin_recorded: bool) -> PatientView:
    """The screen when the chip could not be read: the QR's data (if any, recorded QR-only) and what to do."""
    chip_badge = Badge.of(code, "error" if qr is None else "warning")
    if qr is None:
        return PatientView(state="not_recorded", badges=(chip_badge,),
                           next_step=Badge.of("next.rescan_or_next", "warning"))
    base = view_from_qr(qr, checkin_recorded=checkin_recorded)
    return base.model_copy(update={
        "state": "recorded_caution" if checkin_recorded else "not_recorded",
        "badges": (chip_badge, *base.badges),
        "next_step": Badge.of("next.none", "info"),
    })


def with_write_failure(view: PatientView, code: str) -> PatientView:
    """The same read, told as not recorded: the outbox write failed (``outbox.disk_full``...)."""
    return view.model_copy(update={
        "state": "not_recorded",
        "checkin_recorded": False,
        "write_failed": True,
        "badges": (Badge.of(code, "error"), *view.badges),
        "next_step": Badge.of("next.call_technician", "error"),
    })
