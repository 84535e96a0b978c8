"""What the receptionist's screen and the HIS hand-off show about the current patient.

A :class:`PatientView` is built from whatever the desk read — the QR record, the chip's
data groups, the trust result — and is the one object the screen, the HIS API and the
local history read. It holds personal data and never leaves the desk.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.domain.idnumber import redact_id_number
from edge.domain.messages import MESSAGES, DomainError
from edge.domain.qr import CccdRecord
from edge.events import Method, new_event_id
from edge.trust.levels import TrustLevel

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
    def of(cls, code: str, severity: Severity) -> "Badge":
        msg = MESSAGES[code]
        return cls(code=code, severity=severity, vi=msg.vi, en=msg.en)


class PatientView(BaseModel):
    """The current patient as the desk shows it. Personal data: stays on the Pi."""

    model_config = ConfigDict(frozen=True)

    visit_id: str = Field(default_factory=new_event_id)
    scanned_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
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
