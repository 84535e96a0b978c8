"""Machine readable zone: check digits (7-3-1), TD1 (Vietnamese layout), TD3.

The Vietnamese TD1 puts the last 9 digits of the 12-digit personal ID in the
document number field (line 1, positions 6-14), its check digit, then the
full 12-digit ID in the optional data followed by "<" and a check digit over
those 12 digits. The generic TD1 long-document-number form (field ending in
"<" with the overflow in the optional data) is handled too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.icao.errors import MrzError

_WEIGHTS = (7, 3, 1)
_VALID = re.compile(r"^[0-9A-Z<]*$")


def _value(ch: str) -> int:
    if ch.isdigit():
        return ord(ch) - 48
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    if ch == "<":
        return 0
    raise MrzError(f"character {ch!r} not allowed in an MRZ")


def check_digit(data: str) -> str:
    """ICAO 9303 Part 3 §4.9 check digit over ``data`` (weights 7, 3, 1)."""
    return str(sum(_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(data)) % 10)


def _verify(field: str, data: str, digit: str) -> None:
    if digit == "<" and set(data) <= {"<"}:
        return  # an empty field may carry a filler as its check digit
    if check_digit(data) != digit:
        raise MrzError(f"check digit of {field} does not verify")


def mrz_information(doc_no: str, dob_yymmdd: str, expiry_yymmdd: str) -> str:
    """The BAC / PACE-MRZ key string: number+cd, DOB+cd, expiry+cd.

    A document number shorter than 9 characters is padded with '<' (a longer
    one is used whole, per 9303-11 §9.7.2 for long document numbers).
    """
    doc = doc_no.upper()
    if len(doc) < 9:
        doc = doc.ljust(9, "<")
    for name, v in (("date of birth", dob_yymmdd), ("date of expiry", expiry_yymmdd)):
        if not (len(v) == 6 and v.isdigit()):
            raise MrzError(f"{name} must be YYMMDD")
    if not _VALID.match(doc):
        raise MrzError("document number has characters not allowed in an MRZ")
    return (
        doc + check_digit(doc)
        + dob_yymmdd + check_digit(dob_yymmdd)
        + expiry_yymmdd + check_digit(expiry_yymmdd)
    )


def _names(line: str) -> tuple[str, str]:
    primary, _, secondary = line.rstrip("<").partition("<<")
    return primary.replace("<", " ").strip(), secondary.replace("<", " ").strip()


@dataclass(frozen=True)
class Mrz:
    """A parsed and verified MRZ (TD1 or TD3). Holds personal data: never log it."""

    document_code: str
    issuing_state: str
    document_number: str  # full document number (long form resolved)
    date_of_birth: str  # YYMMDD
    sex: str  # "M", "F" or "<"
    date_of_expiry: str  # YYMMDD ("<<<<<<" possible when no expiry)
    nationality: str
    primary_identifier: str
    secondary_identifier: str
    optional_data_1: str
    optional_data_2: str
    personal_id: str | None  # Vietnamese 12-digit ID when present
    format: str  # "TD1" or "TD3"

    @property
    def mrz_information(self) -> str:
        return mrz_information(self.document_number, self.date_of_birth, self.date_of_expiry)

    def __repr__(self) -> str:  # personal data: keep it out of logs
        return f"Mrz(format={self.format}, issuing_state={self.issuing_state}, <redacted>)"


def _clean(lines: list[str] | str, count: int, width: int) -> list[str]:
    if isinstance(lines, str):
        text = lines.replace("\r", "").strip()
        lines = text.split("\n") if "\n" in text else [
            text[i : i + width] for i in range(0, len(text), width)
        ]
    out = [ln.strip().upper() for ln in lines]
    if len(out) != count or any(len(ln) != width for ln in out):
        raise MrzError(f"expected {count} lines of {width} characters")
    for ln in out:
        if not _VALID.match(ln):
            raise MrzError("MRZ has characters outside 0-9 A-Z <")
    return out


def parse_td1(lines: list[str] | str) -> Mrz:
    """Parse and verify a TD1 MRZ (3 x 30), Vietnamese layout included."""
    l1, l2, l3 = _clean(lines, 3, 30)
    doc_field, doc_cd, opt1 = l1[5:14], l1[14], l1[15:30]
    personal_id: str | None = None
    if doc_cd == "<":
        # Long document number: the rest and its check digit sit in opt1.
        ext = opt1.split("<", 1)[0]
        if len(ext) < 2:
            raise MrzError("malformed long document number")
        document_number = doc_field.rstrip("<") + ext[:-1]
        _verify("document number", document_number, ext[-1])
    else:
        document_number = doc_field.rstrip("<") if doc_field.endswith("<") else doc_field
        _verify("document number", doc_field, doc_cd)
        # Vietnamese layout: 12-digit ID, "<<", check digit over the 12
        # digits (last character of line 1). A single "<" before the check
        # digit is accepted too, in case some cards print it that way.
        if opt1[:12].isdigit():
            if opt1[12:14] == "<<" and opt1[14].isdigit():
                id_cd = opt1[14]
            elif opt1[12] == "<" and opt1[13].isdigit() and opt1[14] == "<":
                id_cd = opt1[13]
            else:
                raise MrzError("12-digit ID in the optional data lacks its check digit")
            if opt1[3:12] != doc_field:
                raise MrzError("document number is not the last 9 digits of the ID")
            _verify("personal ID number", opt1[:12], id_cd)
            personal_id = opt1[:12]
    dob, dob_cd, sex = l2[0:6], l2[6], l2[7]
    exp, exp_cd, nat, opt2, composite = l2[8:14], l2[14], l2[15:18], l2[18:29], l2[29]
    _verify("date of birth", dob, dob_cd)
    _verify("date of expiry", exp, exp_cd)
    if sex not in ("M", "F", "<"):
        raise MrzError("sex must be M, F or <")
    _verify("composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], composite)
    primary, secondary = _names(l3)
    return Mrz(
        document_code=l1[0:2].rstrip("<"), issuing_state=l1[2:5],
        document_number=document_number, date_of_birth=dob, sex=sex,
        date_of_expiry=exp, nationality=nat, primary_identifier=primary,
        secondary_identifier=secondary, optional_data_1=opt1.rstrip("<"),
        optional_data_2=opt2.rstrip("<"), personal_id=personal_id, format="TD1",
    )


def parse_td3(lines: list[str] | str) -> Mrz:
    """Parse and verify a TD3 (passport, 2 x 44) MRZ."""
    l1, l2 = _clean(lines, 2, 44)
    doc, doc_cd = l2[0:9], l2[9]
    nat, dob, dob_cd, sex = l2[10:13], l2[13:19], l2[19], l2[20]
    exp, exp_cd, opt, opt_cd, composite = l2[21:27], l2[27], l2[28:42], l2[42], l2[43]
    _verify("document number", doc, doc_cd)
    _verify("date of birth", dob, dob_cd)
    _verify("date of expiry", exp, exp_cd)
    _verify("optional data", opt, opt_cd)
    _verify("composite", l2[0:10] + l2[13:20] + l2[21:43], composite)
    if sex not in ("M", "F", "<"):
        raise MrzError("sex must be M, F or <")
    primary, secondary = _names(l1[5:])
    return Mrz(
        document_code=l1[0:2].rstrip("<"), issuing_state=l1[2:5],
        document_number=doc.rstrip("<"), date_of_birth=dob, sex=sex,
        date_of_expiry=exp, nationality=nat, primary_identifier=primary,
        secondary_identifier=secondary, optional_data_1=opt.rstrip("<"),
        optional_data_2="", personal_id=None, format="TD3",
    )


def parse(text: list[str] | str) -> Mrz:
    """Parse a TD1 or TD3 MRZ, chosen by its total length."""
    joined = "".join(text if isinstance(text, list) else text.split())
    if len(joined) == 90:
        return parse_td1(text)
    if len(joined) == 88:
        return parse_td3(text)
    raise MrzError("MRZ is neither TD1 (90 characters) nor TD3 (88)")
