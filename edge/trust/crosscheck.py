"""QR code <-> chip cross-check: are both the same person?

Each side is given as plain :class:`IdentityFields` (the caller adapts its
QR/DG1/DG13 models). Every mismatch is reported as its own reason; a mismatch
makes the reading ``invalid`` (see :mod:`edge.trust.result`).

Names: compared exactly (Unicode NFC, case and spacing ignored) when both sides
carry diacritics; when one side has none - the MRZ ("NGUYEN<<VAN<AN"), or a
keyboard-wedge scanner that cannot type Vietnamese - the other side's
diacritics are dropped too, and Đ/đ becomes D as in ICAO transliteration. A
30-character MRZ name without trailing filler may have been truncated: then
the other name only needs to start with it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from edge.trust.result import Check, CheckStatus, Reason

TD1_NAME_LENGTH = 30


@dataclass(frozen=True)
class IdentityFields:
    """The identity fields both sides can provide (None = not available)."""

    id_number: str | None
    full_name: str | None
    date_of_birth: date | None
    sex: Literal["M", "F"] | None


def strip_diacritics(text: str) -> str:
    """"Nguyễn Văn Đức" -> "Nguyen Van Duc" (Đ/đ do not decompose: mapped explicitly)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _has_diacritics(text: str) -> bool:
    return strip_diacritics(text) != text


def _normalise(name: str) -> str:
    name = unicodedata.normalize("NFC", name).replace("<", " ")
    return re.sub(r"\s+", " ", name).strip().upper()


def _looks_truncated_mrz(name: str) -> bool:
    return "<" in name and len(name) == TD1_NAME_LENGTH and not name.endswith("<")


def names_match(a: str, b: str) -> bool:
    """Whether two renderings of a full name denote the same name (see module doc)."""
    na, nb = _normalise(a), _normalise(b)
    if _has_diacritics(na) != _has_diacritics(nb) or not (_has_diacritics(na) or _has_diacritics(nb)):
        na, nb = strip_diacritics(na), strip_diacritics(nb)
    if na == nb:
        return True
    if _looks_truncated_mrz(a) and nb.startswith(na):
        return True
    return bool(_looks_truncated_mrz(b) and na.startswith(nb))


def crosscheck(qr: IdentityFields, chip: IdentityFields) -> Check:
    """Compare ID number, name, date of birth and sex; one reason per mismatch."""
    mismatches: list[Reason] = []
    compared: list[str] = []
    if qr.id_number is not None and chip.id_number is not None:
        compared.append("id_number")
        if qr.id_number.strip() != chip.id_number.strip():
            mismatches.append(Reason.of("id_number_mismatch"))
    if qr.full_name is not None and chip.full_name is not None:
        compared.append("full_name")
        if not names_match(qr.full_name, chip.full_name):
            mismatches.append(Reason.of("name_mismatch"))
    if qr.date_of_birth is not None and chip.date_of_birth is not None:
        compared.append("date_of_birth")
        if qr.date_of_birth != chip.date_of_birth:
            mismatches.append(Reason.of("date_of_birth_mismatch"))
    if qr.sex is not None and chip.sex is not None:
        compared.append("sex")
        if qr.sex != chip.sex:
            mismatches.append(Reason.of("sex_mismatch"))
    if not compared:
        return Check.make(CheckStatus.NOT_CHECKED, "not_checked", "no field available on both sides")
    if mismatches:
        return Check(CheckStatus.FAILED, tuple(mismatches), {"compared": compared})
    return Check(CheckStatus.PASSED, (Reason.of("crosscheck_match"),), {"compared": compared})
