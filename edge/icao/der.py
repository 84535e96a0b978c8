"""Tiny DER helpers on top of :mod:`edge.icao.tlv` (OIDs and INTEGERs).

SecurityInfos and DG13 carry OIDs the general ASN.1 libraries do not know;
decoding them with the strict TLV reader keeps every failure a TlvError.
"""

from __future__ import annotations

from edge.icao import tlv
from edge.icao.errors import TlvError

TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_OID = 0x06
TAG_UTF8 = 0x0C
TAG_PRINTABLE = 0x13
TAG_T61 = 0x14
TAG_IA5 = 0x16
TAG_VISIBLE = 0x1A
TAG_BMP = 0x1E
TAG_SEQUENCE = 0x30
TAG_SET = 0x31


def decode_oid(value: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets."""
    if not value or value[-1] & 0x80:
        raise TlvError("truncated OBJECT IDENTIFIER")
    arcs: list[int] = []
    acc = 0
    for b in value:
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(acc)
            acc = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def encode_oid(dotted: str) -> bytes:
    """Content octets (no tag/length) of an OBJECT IDENTIFIER."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError as e:
        raise TlvError(f"bad OID {dotted!r}") from e
    if len(arcs) < 2:
        raise TlvError("an OID needs at least two arcs")
    out = bytearray()
    for value in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [value & 0x7F]
        rest = value >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def decode_int(value: bytes) -> int:
    if not value:
        raise TlvError("empty INTEGER")
    return int.from_bytes(value, "big", signed=True)


def encode_int(n: int) -> bytes:
    """A complete DER INTEGER (tag, length, value)."""
    length = max(1, (n.bit_length() + 8) // 8)
    return tlv.encode(TAG_INTEGER, n.to_bytes(length, "big", signed=True))


def expect(obj: tlv.Tlv, tag: int, what: str) -> tlv.Tlv:
    if obj.tag != tag:
        raise TlvError(f"{what}: expected tag {tag:02X}, found {obj.tag:X}")
    return obj
