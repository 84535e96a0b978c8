"""What the receptionist's screen and the HIS hand-off show about the current patient.

A :class:`PatientView` is built from whatever the desk read — the QR record, the chip's
data groups, the trust result — and is the one object the screen, the HIS API and the
local history read. It holds personal data and never leaves the desk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.catalogue import text, trust_sentence
from edge.domain.idnumber import redact_id_number
from edge.domain.messages import DomainError
from edge.domain.qr import CccdRecord
from edge.events import Method, new_event_id
from edge.trust.levels import TrustLevel
from edge.trust.result import CheckStatus, TrustResult

if TYPE_CHECKING:  # the chip reader pulls in the whole chip stack; the view only reads its result
    from edge.chip_reader import ChipCheck

Severity = Literal["ok", "info", "warning", "error"]
Outcome = Literal["success", "warning", "failure"]

# Findings that do not weaken the check-in: shown, but in a neutral colour.
_INFO_CODES = frozenset({"layout.extra_fields_present", "layout.unexpected_field_count"})


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


class PatientView(BaseModel):
    """The current patient as the desk shows it. Personal data: stays on the Pi."""

    model_config = ConfigDict(frozen=True)

    visit_id: str = Field(default_factory=new_event_id)
    scanned_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    outcome: Outcome
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

    def __repr__(self) -> str:
        return (f"PatientView(visit_id={self.visit_id!r}, outcome={self.outcome!r}, "
                f"id={redact_id_number(self.id_number or '')!r}, trust={self.trust_level.value!r})")

    __str__ = __repr__


def view_from_qr(record: CccdRecord, *, checkin_recorded: bool, chip_expected: bool = False) -> PatientView:
    """The screen after a QR-only read."""
    badges = [Badge.of(w.code, "info" if w.code in _INFO_CODES else "warning") for w in record.warnings]
    if not record.from_card:
        next_step = Badge.of("next.scan_id_card", "warning")
        outcome: Outcome = "failure"
        level = TrustLevel.INVALID
    else:
        level = TrustLevel.QR_ONLY
        warned = any(b.severity == "warning" for b in badges)
        outcome = "warning" if warned else "success"
        next_step = Badge.of("next.place_card_on_reader" if chip_expected else "next.none", "info")
    return PatientView(
        outcome=outcome,
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
    )


_NEXT_FOR_ERROR = {
    "qr.diacritics_lost": "next.switch_scanner_to_serial",
    "qr.bhyt_card": "next.scan_id_card",
    "qr.not_cccd": "next.scan_id_card",
}


def view_from_error(error: DomainError) -> PatientView:
    """The screen after a read that produced nothing usable."""
    next_code = _NEXT_FOR_ERROR.get(error.code, "next.rescan_qr")
    return PatientView(
        outcome="failure",
        badges=(Badge(code=error.code, severity="error", vi=error.message_vi, en=error.message_en),),
        next_step=Badge.of(next_code, "warning"),
    )


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


def view_from_chip(check: ChipCheck, qr: CccdRecord | None, *, checkin_recorded: bool) -> PatientView:
    """The screen after a chip read: the chip's own data first, the QR's where the chip has none."""
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
        badges.extend(Badge.of(w.code, "info" if w.code in _INFO_CODES else "warning") for w in qr.warnings)

    if level == TrustLevel.INVALID:
        outcome: Outcome = "failure"
        next_step = Badge.of("next.check_document_by_hand", "error")
    elif level >= TrustLevel.CHIP_VERIFIED and not any(b.severity in ("warning", "error") for b in badges):
        outcome = "success"
        next_step = Badge.of("next.none", "ok")
    else:
        outcome = "warning"
        next_step = Badge.of("next.none", "info")

    def pick(chip_value: str | None, qr_value: str | None) -> str | None:
        return chip_value or qr_value

    return PatientView(
        outcome=outcome,
        method=Method.QR_AND_CHIP if qr is not None else Method.CHIP,
        trust_level=level,
        id_number=pick(identity.id_number if identity else None, qr.id_number if qr else None),
        full_name=pick(identity.full_name if identity else None, qr.full_name if qr else None),
        date_of_birth=(identity.date_of_birth if identity else None) or (qr.date_of_birth if qr else None),
        sex=(identity.sex if identity else None) or (qr.sex if qr else None),
        address=pick(dg13.residence if dg13 else None, qr.address if qr else None),
        nationality=(dg13.nationality if dg13 else None) or "Việt Nam",
        ethnicity=dg13.ethnicity if dg13 else None,
        has_photo=bool(check.face_image),
        badges=tuple(badges),
        next_step=next_step,
        checkin_recorded=checkin_recorded,
    )


def view_from_chip_error(code: str, vi: str, en: str, qr: CccdRecord | None, *, checkin_recorded: bool) -> PatientView:
    """The screen when the chip could not be read: the QR's data (if any) and what to do."""
    chip_badge = Badge(code=code, severity="error", vi=vi, en=en)
    if qr is None:
        return PatientView(outcome="failure", badges=(chip_badge,),
                           next_step=Badge.of("next.keep_card_still", "warning"))
    base = view_from_qr(qr, checkin_recorded=checkin_recorded)
    return base.model_copy(update={
        "outcome": "warning",
        "badges": (chip_badge, *base.badges),
        "next_step": Badge.of("next.none", "info"),
    })
