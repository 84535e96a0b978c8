"""The CCCD QR payload: parse, validate and cross-check it into a :class:`CccdRecord`.

The QR is UTF-8 text, fields separated by ``|``, with no header and no signature: it
identifies a card, it never proves one. Cards from 2021 carry 7 fields, cards from 2024
carry 11 (the last four empty so far); apps re-render a 6-field variant that did not
come from a card; the health-insurance (BHYT) card has a QR of its own. Every fatal
problem raises :class:`QrError` with a stable code; findings that are not fatal are
returned as warnings in the record. Where each field sits is one table, :data:`LAYOUTS`.

The text is input from the outside world: NUL, control and bidi characters, markup and
over-long fields are refused (:mod:`edge.domain.text`); names and addresses with letters
of another script (Cyrillic or Greek look-alikes) are flagged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from edge.domain.idnumber import IdNumberInfo, Sex, decode_id_number, is_id_number, redact_id_number
from edge.domain.messages import Finding, QrError
from edge.domain.text import foreign_letters, text_problem
from edge.domain.validity import card_expiry

Layout = Literal["card_7_fields", "card_11_fields", "app_6_fields"]
QrField = Literal["id_number", "old_id_number", "full_name", "date_of_birth", "sex", "address", "issue_date"]

VIETNAM_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SEPARATOR = "|"
ID_NUMBER_LENGTH = 12


@dataclass(frozen=True)
class QrLayout:
    """One QR layout: which field sits where, how its dates are written, whether a card prints it.

    Fields after ``fields`` are kept as ``extra_fields`` (the 2024 card's four trailing ones).
    """

    name: Layout
    field_counts: tuple[int, ...]  # payload field counts read with this layout
    expected_counts: tuple[int, ...]  # the counts real payloads of this layout have
    fields: tuple[QrField, ...]
    date_fields: tuple[QrField, ...]
    date_pattern: re.Pattern[str]
    date_format: str  # for datetime.strptime
    from_card: bool

    def value(self, fields: Sequence[str], name: QrField) -> str:
        """The named field of a split payload ('' when this layout has no such field)."""
        index = self.fields.index(name) if name in self.fields else len(fields)
        return fields[index] if index < len(fields) else ""

    def extras(self, fields: Sequence[str]) -> tuple[str, ...]:
        return tuple(fields[len(self.fields):])


_CARD_FIELDS: tuple[QrField, ...] = (
    "id_number", "old_id_number", "full_name", "date_of_birth", "sex", "address", "issue_date",
)
_CARD_DATE = re.compile(r"^[0-9]{8}$")  # ddmmyyyy
_APP_DATE = re.compile(r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$")  # dd/mm/yyyy
_DATES: tuple[QrField, ...] = ("date_of_birth", "issue_date")

#: Every QR layout the desk reads. Cards from 2021 carry 7 fields, cards from 2024 carry 11
#: (8 to 10 are read the same way, with a warning); apps re-render a 6-field variant.
LAYOUTS: tuple[QrLayout, ...] = (
    QrLayout("app_6_fields", (6,), (6,), ("id_number", "full_name", "date_of_birth", "sex", "address", "issue_date"),
             _DATES, _APP_DATE, "%d/%m/%Y", from_card=False),
    QrLayout("card_7_fields", (7,), (7,), _CARD_FIELDS, _DATES, _CARD_DATE, "%d%m%Y", from_card=True),
    QrLayout("card_11_fields", (8, 9, 10, 11), (11,), _CARD_FIELDS, _DATES, _CARD_DATE, "%d%m%Y", from_card=True),
)
#: No card's QR comes near this (a 2024 card's is about 200 characters): longer is refused
#: before anything else reads it.
MAX_PAYLOAD_CHARS = 1024
#: The free-text fields' bounds, well above the longest name and address a card prints.
MAX_FIELD_CHARS: dict[QrField, int] = {"full_name": 100, "address": 300}
_LAYOUT_BY_COUNT = {count: layout for layout in LAYOUTS for count in layout.field_counts}
MIN_FIELDS = min(_LAYOUT_BY_COUNT)
MAX_FIELDS = max(_LAYOUT_BY_COUNT)


def layout_for(field_count: int) -> QrLayout | None:
    """The layout a payload with this many fields is read with, or None if no layout has it."""
    return _LAYOUT_BY_COUNT.get(field_count)


def split_fields(text: str) -> list[str]:
    """The payload's fields, without the spaces scanners and apps pad them with."""
    return [f.strip() for f in text.split(SEPARATOR)]


def peek_id_number(payload: str | bytes) -> str | None:
    """The 12-digit ID number a payload starts with (every layout puts it first), else None.

    Cheap (no decoding, no parsing): the debouncer runs it on every camera frame.
    """
    if isinstance(payload, str):
        head = payload[: ID_NUMBER_LENGTH + 2].lstrip("\ufeff")
        digits, sep = head[:ID_NUMBER_LENGTH], head[ID_NUMBER_LENGTH:ID_NUMBER_LENGTH + 1]
        ok = sep == SEPARATOR and digits.isascii() and digits.isdigit() and len(digits) == ID_NUMBER_LENGTH
        return digits if ok else None
    raw = bytes(payload[: ID_NUMBER_LENGTH + 4])
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    digits_b = raw[:ID_NUMBER_LENGTH]
    if raw[ID_NUMBER_LENGTH:ID_NUMBER_LENGTH + 1] == b"|" and len(digits_b) == ID_NUMBER_LENGTH and digits_b.isdigit():
        return digits_b.decode("ascii")
    return None


_OLD_ID_RE = re.compile(r"^[0-9]{9}$")
# A BHYT card code: 2 letters (beneficiary group), 1 digit (benefit level), 2 digits
# (province), 10 digits (social-insurance number).
_BHYT_CODE_RE = re.compile(r"^[A-Z]{2}[0-9]{13}$")
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_NAME_PUNCTUATION = frozenset(" -'.")


class CccdRecord(BaseModel):
    """A checked CCCD record from the card's QR code. Holds personal data: never log it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: Layout
    from_card: bool
    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: Sex
    address: str
    issue_date: date | None
    extra_fields: tuple[str, ...] = ()
    id_info: IdNumberInfo
    expiry_date: date | None
    never_expires: bool
    warnings: tuple[Finding, ...] = ()

    @property
    def sex_vi(self) -> str:
        """The sex as the card prints it."""
        return "Nam" if self.sex == "M" else "Nữ"

    def warning_codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def __repr__(self) -> str:  # keep personal data out of logs and tracebacks
        return (
            f"CccdRecord(layout={self.layout!r}, id_number={redact_id_number(self.id_number)!r}, "
            f"warnings={self.warning_codes()!r})"
        )

    __str__ = __repr__


def today_in_vietnam() -> date:
    """Today's date at the desk (clinics work on Vietnam time)."""
    return datetime.now(VIETNAM_TZ).date()


def parse_qr(payload: str | bytes, *, today: date | None = None, clock_trusted: bool = True) -> CccdRecord:
    """Parse and check a CCCD QR payload; raise :class:`QrError` for anything unusable.

    ``clock_trusted=False`` (the desk's clock is not synchronised, :class:`edge.clock.DeskClock`):
    a birth or issue date after ``today`` says more about the desk's date than about the
    card, so it is a warning (``*.future_unsynced``), not a refusal."""
    text = _to_text(payload)
    if not text:
        raise QrError("qr.empty")
    fields = split_fields(text)
    if _looks_like_bhyt(fields):
        raise QrError("qr.bhyt_card")
    layout = layout_for(len(fields))
    if layout is None:
        raise QrError("qr.not_cccd" if len(fields) == 1 else "qr.field_count", f"{len(fields)} fields")
    if _looks_garbled(text):
        raise QrError("qr.garbled_charset")
    problem = text_problem(text)
    if problem is not None:
        raise QrError(problem)
    for name, bound in MAX_FIELD_CHARS.items():
        if len(layout.value(fields, name)) > bound:
            raise QrError("text.too_long", f"{name}: more than {bound} characters")
    return _build_record(layout, fields, today or today_in_vietnam(), clock_trusted)


def _to_text(payload: str | bytes) -> str:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
        if len(raw) > 4 * MAX_PAYLOAD_CHARS:  # UTF-8 takes at most 4 bytes a character
            raise QrError("text.too_long", f"more than {MAX_PAYLOAD_CHARS} characters")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise QrError("qr.not_utf8", f"invalid byte at offset {exc.start}") from None
    else:
        text = payload
    if len(text) > MAX_PAYLOAD_CHARS:
        raise QrError("text.too_long", f"more than {MAX_PAYLOAD_CHARS} characters")
    # Scanners add a BOM in front and CR/LF (sometimes a NUL) at the end.
    text = text.lstrip("\ufeff").strip("\r\n\x00\t ")
    return unicodedata.normalize("NFC", text)


def _looks_like_bhyt(fields: list[str]) -> bool:
    if _BHYT_CODE_RE.match(fields[0]):
        return True
    # The BHYT QR ends with '$' and carries its name hex-encoded.
    return fields[-1].endswith("$") and len(fields) > 2 and bool(_HEX_RE.match(fields[1]))


def _looks_garbled(text: str) -> bool:
    """UTF-8 bytes read as another charset: Shift-JIS gives half-width katakana and kanji,
    Latin-1/cp1252 gives sequences like 'Ã¡' or 'á»' that re-encode into valid UTF-8."""
    for ch in text:
        code = ord(ch)
        if 0xFF61 <= code <= 0xFF9F or 0x3040 <= code <= 0x30FF or 0x4E00 <= code <= 0x9FFF:
            return True
        if 0x80 <= code <= 0x9F:  # C1 controls never appear in Vietnamese text
            return True
    for codec in ("cp1252", "latin-1"):
        try:
            repaired = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if repaired != text:
            return True
    return False


def _build_record(layout: QrLayout, fields: list[str], today: date, clock_trusted: bool = True) -> CccdRecord:
    warnings: list[str] = []
    id_number, old_id_text, name, sex_text, address = (
        layout.value(fields, f) for f in ("id_number", "old_id_number", "full_name", "sex", "address"))
    extra = layout.extras(fields)
    if not layout.from_card:
        warnings.append("layout.app_rendered")
    elif len(fields) not in layout.expected_counts:
        warnings.append("layout.unexpected_field_count")
    if any(extra):
        warnings.append("layout.extra_fields_present")

    if not is_id_number(id_number):
        raise QrError("id.format")
    old_id: str | None = old_id_text or None
    if old_id is not None and not _OLD_ID_RE.match(old_id):
        raise QrError("old_id.format")

    ascii_only = (name + address).isascii()
    sex = _parse_sex(sex_text, ascii_only)
    full_name = _check_name(name)

    dob = _parse_date(layout, fields, "date_of_birth", "dob")
    if dob > today:
        if clock_trusted:
            raise QrError("dob.future")
        warnings.append("dob.future_unsynced")
    issue: date | None = None
    if layout.from_card or layout.value(fields, "issue_date"):
        issue = _parse_date(layout, fields, "issue_date", "issue")
        if issue > today:
            if clock_trusted:
                raise QrError("issue.future")
            warnings.append("issue.future_unsynced")
        if issue <= dob:
            raise QrError("issue.before_birth")

    if not address:
        warnings.append("address.empty")
    elif ascii_only:
        warnings.append("text.no_diacritics")
    if foreign_letters(full_name):
        warnings.append("name.mixed_script")  # look-alike letters: flagged on the screen and to the HIS
    if foreign_letters(address):
        warnings.append("address.mixed_script")

    info = decode_id_number(id_number)
    if info.province_name is None and not info.born_abroad:
        warnings.append("id.unknown_province")
    if info.sex != sex:
        warnings.append("id.sex_mismatch")
    if info.birth_year != dob.year:
        warnings.append("id.birth_year_mismatch")

    expiry = card_expiry(dob, issue) if issue else None
    if expiry is not None and expiry < today:
        warnings.append("card.expired")

    return CccdRecord(
        layout=layout.name,
        from_card=layout.from_card,
        id_number=id_number,
        old_id_number=old_id,
        full_name=full_name,
        date_of_birth=dob,
        sex=sex,
        address=address,
        issue_date=issue,
        extra_fields=extra,
        id_info=info,
        expiry_date=expiry,
        never_expires=issue is not None and expiry is None,
        warnings=tuple(Finding.of(code) for code in warnings),
    )


def _parse_sex(text: str, ascii_only: bool) -> Sex:
    folded = text.casefold()
    if folded == "nam":
        return "M"
    if folded == "nữ":
        return "F"
    if ascii_only and folded in ("nu", "n", ""):
        # "Nữ" typed by a keyboard-mode scanner that cannot type 'ữ'.
        raise QrError("qr.diacritics_lost")
    raise QrError("sex.invalid")


def _check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise QrError("name.empty")
    for ch in name:
        if ch in _NAME_PUNCTUATION:
            continue
        if unicodedata.category(ch)[0] not in ("L", "M"):
            raise QrError("name.invalid")
    return name


def _parse_date(layout: QrLayout, fields: list[str], name: QrField, code_area: str) -> date:
    text = layout.value(fields, name)
    if not layout.date_pattern.match(text):
        raise QrError(f"{code_area}.format")
    try:
        return datetime.strptime(text, layout.date_format).date()
    except ValueError:
        raise QrError(f"{code_area}.invalid_date") from None
