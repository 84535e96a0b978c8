"""DG13 of the Vietnamese chip ID card (tag 6D): personal data.

Layout seen on cards: ``SEQUENCE { INTEGER 1, OID 1.0.10646.1.0.8,
SET OF SEQUENCE { INTEGER field-number, value(s) } }``. Parsing keys on the
field number, never on offsets or order: every string under a field number
is collected in order (recursing into nested SEQUENCE/SET, as used for the
parents), unknown field numbers are kept, and malformed parts become
warnings rather than failures. Only a DG13 whose outer object cannot be read
at all raises LdsError.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.icao import tlv
from edge.icao.der import (
    TAG_BMP,
    TAG_IA5,
    TAG_INTEGER,
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_PRINTABLE,
    TAG_SEQUENCE,
    TAG_SET,
    TAG_T61,
    TAG_UTF8,
    TAG_VISIBLE,
    decode_int,
    decode_oid,
    encode_int,
    encode_oid,
)
from edge.icao.errors import LdsError, TlvError

DG13_OID = "1.0.10646.1.0.8"

_STRING_TAGS = {TAG_UTF8, TAG_PRINTABLE, TAG_IA5, TAG_VISIBLE, TAG_T61, TAG_OCTET_STRING}

FIELD_NAMES: dict[int, str] = {
    1: "id_number", 2: "full_name", 3: "date_of_birth", 4: "sex", 5: "nationality",
    6: "ethnicity", 7: "religion", 8: "hometown", 9: "residence", 10: "identifying_marks",
    11: "issue_date", 12: "expiry_date", 13: "parents", 14: "spouse", 15: "old_id", 16: "field16",
}


def _text(obj: tlv.Tlv, warnings: list[str]) -> str:
    if obj.tag == TAG_BMP:
        try:
            return obj.value.decode("utf-16-be")
        except UnicodeDecodeError:
            warnings.append("BMPString not decodable")
            return obj.value.decode("utf-16-be", "replace")
    try:
        return obj.value.decode("utf-8")
    except UnicodeDecodeError:
        warnings.append(f"string with tag {obj.tag:02X} is not UTF-8")
        return obj.value.decode("latin-1")


def _strings(objs: list[tlv.Tlv], warnings: list[str], depth: int = 0) -> list[str]:
    out: list[str] = []
    for o in objs:
        if o.tag in _STRING_TAGS or o.tag == TAG_BMP:
            out.append(_text(o, warnings))
        elif o.constructed and depth < 8:
            try:
                out += _strings(o.children(), warnings, depth + 1)
            except TlvError as e:
                warnings.append(f"unreadable nested value: {e}")
    return out


@dataclass(frozen=True)
class Dg13:
    """Vietnamese DG13 fields by number. Personal data: never log values."""

    fields: dict[int, list[str]]
    version: int | None = None
    oid: str | None = None
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Dg13(fields={sorted(self.fields)}, warnings={len(self.warnings)}, <redacted>)"

    def first(self, number: int) -> str | None:
        values = self.fields.get(number) or []
        return values[0] if values else None

    @property
    def unknown_fields(self) -> dict[int, list[str]]:
        return {k: v for k, v in self.fields.items() if k not in FIELD_NAMES}

    id_number = property(lambda self: self.first(1))
    full_name = property(lambda self: self.first(2))
    date_of_birth = property(lambda self: self.first(3))  # dd/mm/yyyy
    sex = property(lambda self: self.first(4))
    nationality = property(lambda self: self.first(5))
    ethnicity = property(lambda self: self.first(6))
    religion = property(lambda self: self.first(7))
    hometown = property(lambda self: self.first(8))
    residence = property(lambda self: self.first(9))
    identifying_marks = property(lambda self: self.first(10))
    issue_date = property(lambda self: self.first(11))
    expiry_date = property(lambda self: self.first(12))  # text: may not be a date
    spouse = property(lambda self: self.first(14))  # None when the SEQUENCE is empty
    old_id = property(lambda self: self.first(15))
    field16 = property(lambda self: self.first(16))

    @property
    def father(self) -> str | None:
        parents = self.fields.get(13) or []
        return parents[0] if parents else None

    @property
    def mother(self) -> str | None:
        parents = self.fields.get(13) or []
        return parents[1] if len(parents) > 1 else None


def _field_seq(seq: tlv.Tlv, fields: dict[int, list[str]], warnings: list[str]) -> None:
    try:
        ch = seq.children()
    except TlvError as e:
        warnings.append(f"unreadable field: {e}")
        return
    if not ch or ch[0].tag != TAG_INTEGER:
        warnings.append("field without a leading INTEGER number")
        return
    try:
        number = decode_int(ch[0].value)
    except TlvError:
        warnings.append("field with an empty number")
        return
    fields.setdefault(number, []).extend(_strings(ch[1:], warnings))


def parse_dg13(data: bytes) -> Dg13:
    """Parse DG13 tolerantly; LdsError only if the outer object is unreadable."""
    try:
        outer, _ = tlv.decode(data)
        if not outer.constructed:
            raise TlvError("DG13 is not a constructed object")
        top = outer.children()
    except TlvError as e:
        raise LdsError(f"DG13: {e}") from e
    warnings: list[str] = []
    if outer.tag != 0x6D:
        warnings.append(f"DG13 tag is {outer.tag:X}, not 6D")
    # Accept the SEQUENCE wrapper or its contents directly under 6D.
    body = top
    if len(top) == 1 and top[0].tag == TAG_SEQUENCE:
        try:
            body = top[0].children()
        except TlvError as e:
            raise LdsError(f"DG13: {e}") from e
    version: int | None = None
    oid: str | None = None
    fields: dict[int, list[str]] = {}

    for obj in body:
        try:
            if obj.tag == TAG_INTEGER and version is None:
                version = decode_int(obj.value)
            elif obj.tag == TAG_OID:
                oid = decode_oid(obj.value)
            elif obj.tag in (TAG_SET, TAG_SEQUENCE):
                kids = obj.children()
                if kids and kids[0].tag == TAG_INTEGER:  # a field directly
                    _field_seq(obj, fields, warnings)
                else:
                    for seq in kids:
                        if seq.tag == TAG_SEQUENCE:
                            _field_seq(seq, fields, warnings)
                        else:
                            warnings.append(f"unexpected tag {seq.tag:X} among fields")
            else:
                warnings.append(f"unexpected tag {obj.tag:X} in DG13")
        except TlvError as e:
            warnings.append(f"unreadable part: {e}")
    if oid is not None and oid != DG13_OID:
        warnings.append("unexpected DG13 OID")
    return Dg13(fields, version, oid, warnings)


FieldValue = str | list[str] | list[list[str]] | None


def encode_dg13(values: dict[int, FieldValue]) -> bytes:
    """Build a DG13 in the card layout (virtual card and tests).

    A str becomes one UTF8String (PrintableString for field 1), a list of
    str several, a list of lists nested SEQUENCEs (parents), None an empty
    SEQUENCE (no spouse).
    """

    def one(number: int, s: str) -> bytes:
        return tlv.encode(TAG_PRINTABLE if number == 1 else TAG_UTF8, s.encode("utf-8"))

    seqs = b""
    for number, value in values.items():
        inner = encode_int(number)
        if value is None:
            inner += tlv.encode(TAG_SEQUENCE, b"")
        elif isinstance(value, str):
            inner += one(number, value)
        else:
            for item in value:
                if isinstance(item, list):
                    inner += tlv.encode(TAG_SEQUENCE, b"".join(one(number, s) for s in item))
                else:
                    inner += one(number, item)
        seqs += tlv.encode(TAG_SEQUENCE, inner)
    body = encode_int(1) + tlv.encode(TAG_OID, encode_oid(DG13_OID)) + tlv.encode(TAG_SET, seqs)
    return tlv.encode(0x6D, tlv.encode(TAG_SEQUENCE, body))
