"""Strict BER-TLV (ISO/IEC 7816-4 / X.690 subset used by eMRTD files).

Multi-byte tags are returned as one int (``0x5F1F``, ``0x7F61``). Every
malformation (truncated tag, length or value; length longer than the data;
lengths of more than four bytes) raises :class:`TlvError`, never IndexError.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from edge.icao.errors import TlvError

__all__ = [
    "Tlv",
    "TlvError",
    "decode",
    "decode_all",
    "encode",
    "encode_length",
    "encode_tag",
    "find",
    "read_header",
    "total_length",
]

_MAX_LENGTH_BYTES = 4  # 4 GiB is more than any eMRTD file


@dataclass(frozen=True)
class Tlv:
    """One decoded data object."""

    tag: int
    value: bytes
    header_length: int

    @property
    def constructed(self) -> bool:
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)

    @property
    def total_length(self) -> int:
        return self.header_length + len(self.value)

    def children(self) -> list[Tlv]:
        """The nested objects of a constructed object (strict)."""
        return decode_all(self.value)

    def encode(self) -> bytes:
        return encode(self.tag, self.value)


def _read_tag(buf: bytes, off: int) -> tuple[int, int]:
    if off >= len(buf):
        raise TlvError(f"truncated tag at offset {off}")
    first = buf[off]
    tag = first
    off += 1
    if first & 0x1F == 0x1F:  # multi-byte tag: continue while b8 is set
        for count in range(4):
            if off >= len(buf):
                raise TlvError("truncated multi-byte tag")
            b = buf[off]
            off += 1
            tag = (tag << 8) | b
            if not b & 0x80:
                break
            if count == 3:
                raise TlvError("tag longer than 5 bytes")
    return tag, off


def _read_length(buf: bytes, off: int) -> tuple[int | None, int]:
    """Return (length, offset after it); length None means indefinite form."""
    if off >= len(buf):
        raise TlvError(f"truncated length at offset {off}")
    first = buf[off]
    off += 1
    if first < 0x80:
        return first, off
    if first == 0x80:
        return None, off
    count = first & 0x7F
    if count > _MAX_LENGTH_BYTES:
        raise TlvError(f"length field of {count} bytes is not supported")
    if off + count > len(buf):
        raise TlvError("truncated long-form length")
    return int.from_bytes(buf[off : off + count], "big"), off + count


def read_header(buf: bytes, off: int = 0) -> tuple[int, int | None, int]:
    """Read a tag and length: (tag, length or None if indefinite, header end)."""
    tag, p = _read_tag(buf, off)
    length, p = _read_length(buf, p)
    return tag, length, p


def total_length(prefix: bytes) -> int | None:
    """Total length (header + value) of the TLV a file starts with.

    Needs only the first bytes of the file (at most 10). Returns None for an
    indefinite length (the caller then reads until the card says end of
    file). Raises TlvError if the header itself is incomplete or malformed.
    """
    _tag, length, end = read_header(prefix, 0)
    if length is None:
        return None
    return end + length


def decode(buf: bytes, off: int = 0) -> tuple[Tlv, int]:
    """Decode the object at ``off``; return it and the offset after it."""
    tag, length, p = read_header(buf, off)
    if length is None:
        raise TlvError("indefinite length is not supported here")
    if p + length > len(buf):
        raise TlvError(
            f"length {length} of tag {tag:X} overruns the data ({len(buf) - p} bytes left)"
        )
    return Tlv(tag, bytes(buf[p : p + length]), p - off), p + length


def iter_decode(buf: bytes) -> Iterator[Tlv]:
    off = 0
    while off < len(buf):
        # Padding bytes 00/FF between objects are allowed by ISO 7816-4.
        if buf[off] in (0x00, 0xFF):
            off += 1
            continue
        tlv, off = decode(buf, off)
        yield tlv


def decode_all(buf: bytes) -> list[Tlv]:
    """Decode a concatenation of objects; the data must be consumed exactly."""
    return list(iter_decode(buf))


def find(objs: list[Tlv], tag: int) -> Tlv | None:
    """The first object with ``tag`` in a list (not recursive)."""
    for o in objs:
        if o.tag == tag:
            return o
    return None


def encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise TlvError("negative tag")
    n = max(1, (tag.bit_length() + 7) // 8)
    return tag.to_bytes(n, "big")


def encode_length(length: int) -> bytes:
    """DER length: short form below 128, else 81/82/83/84 + bytes."""
    if length < 0:
        raise TlvError("negative length")
    if length < 0x80:
        return bytes((length,))
    n = (length.bit_length() + 7) // 8
    if n > _MAX_LENGTH_BYTES:
        raise TlvError("length too large")
    return bytes((0x80 | n,)) + length.to_bytes(n, "big")


def encode(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + value
