"""Access keys for PACE and BAC: from the QR alone, from typed MRZ lines,
or from a typed CAN.

On the CCCD the CAN is the last 6 digits of the 12-digit ID; the BAC/PACE
MRZ information uses the last 9 digits as the document number with the date
of birth and the date of expiry. From a QR the expiry is not printed: the
caller passes the candidates (``list[date | None]``) in the order to try.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from edge.icao import mrz
from edge.icao.errors import IcaoError, MrzError

# How a card that never expires writes its expiry in the MRZ is not known (?):
# a None candidate is tried in each of these forms, in this order.
NO_EXPIRY_FORMS: tuple[str, ...] = ("<<<<<<", "999999")


class AccessKeyError(IcaoError):
    """Input that cannot make an access key (bad ID, CAN, dates)."""


@dataclass(frozen=True)
class AccessKey:
    """A PACE/BAC password. ``value`` is the CAN or the MRZ information."""

    kind: Literal["can", "mrz"]
    value: str
    source: str = ""  # e.g. "qr", "qr expiry candidate 2", "mrz", "typed"

    def __repr__(self) -> str:  # the value identifies a person: never print it
        return f"AccessKey(kind={self.kind!r}, source={self.source!r}, value=<redacted>)"

    __str__ = __repr__


def _check_id(personal_id: str) -> str:
    pid = personal_id.strip()
    if len(pid) != 12 or not pid.isdigit():
        raise AccessKeyError("the personal ID must be 12 digits")
    return pid


def key_from_can(can: str) -> AccessKey:
    """A typed CAN (6 digits)."""
    c = can.strip()
    if len(c) != 6 or not c.isdigit():
        raise AccessKeyError("a CAN is 6 digits")
    return AccessKey("can", c, "typed")


def can_from_id(personal_id: str) -> AccessKey:
    """CAN = last 6 digits of the 12-digit ID."""
    return AccessKey("can", _check_id(personal_id)[-6:], "id")


def _yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def _mrz_info(doc: str, dob: str, exp: str) -> str:
    # mrz_information() insists on digits; "no expiry" forms may hold '<'.
    return doc + mrz.check_digit(doc) + dob + mrz.check_digit(dob) + exp + mrz.check_digit(exp)


def keys_from_qr(
    personal_id: str, date_of_birth: date, expiry_candidates: list[date | None]
) -> list[AccessKey]:
    """Keys to try from the QR alone: the CAN first, then one MRZ key per
    expiry candidate in the given order (None = "no expiry", expanded into
    NO_EXPIRY_FORMS)."""
    pid = _check_id(personal_id)
    keys = [AccessKey("can", pid[-6:], "qr")]
    doc, dob = pid[3:], _yymmdd(date_of_birth)
    seen: set[str] = set()
    for i, exp in enumerate(expiry_candidates, start=1):
        forms = NO_EXPIRY_FORMS if exp is None else (_yymmdd(exp),)
        for form in forms:
            info = _mrz_info(doc, dob, form)
            if info not in seen:
                seen.add(info)
                keys.append(AccessKey("mrz", info, f"qr expiry candidate {i}"))
    return keys


def keys_from_mrz(lines: list[str] | str) -> list[AccessKey]:
    """Keys from typed MRZ lines (TD1, 3 x 30; TD3 accepted): the MRZ key,
    and the CAN when the MRZ carries the 12-digit ID."""
    try:
        m = mrz.parse(lines)
    except MrzError as e:
        raise AccessKeyError(f"MRZ: {e}") from e
    keys = [AccessKey("mrz", m.mrz_information, "mrz")]
    if m.personal_id:
        keys.append(AccessKey("can", m.personal_id[-6:], "mrz"))
    return keys
