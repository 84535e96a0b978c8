"""Selecting and reading eMRTD files with the fewest APDUs (terminal side).

Files are selected by file id (the CCCD answers 6D00 to SELECT MF). READ
BINARY asks for the largest length that fits: 65536 with extended length,
else 256; under secure messaging the plain length is chosen so the
protected response (DO'87' + DO'99' + DO'8E') still fits. The first read
gives the TLV header and thereby the file's total length; the rest is read
in as few APDUs as possible. Offsets above 32767 use READ BINARY with odd
INS (B1) and an offset data object.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.icao import tlv
from edge.icao.apdu import CommandApdu, StatusError
from edge.icao.channel import Channel
from edge.icao.errors import IcaoError, TlvError
from edge.icao.lds.tags import AID_EMRTD
from edge.icao.sm import max_plain_response

SHORT_MAX = 256
EXTENDED_MAX = 65536
# No eMRTD file comes near this; a header claiming more is hostile or broken,
# and reading it would take thousands of APDUs.
MAX_FILE_SIZE = 1 << 20


class FileReadError(IcaoError):
    """A file could not be read completely (card stopped short, bad header)."""


def select_application(ch: Channel, aid: bytes = AID_EMRTD) -> None:
    """SELECT the eMRTD application by AID (P1=04, no FCI)."""
    ch.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid)).check("SELECT application")


def select_file(ch: Channel, fid: int) -> None:
    """SELECT an EF by file id (P1=02, P2=0C: no FCI)."""
    ch.transmit(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))).check(
        f"SELECT {fid:04X}"
    )


def max_read_length(ch: Channel, max_response: int | None = None) -> int:
    """Largest plain READ BINARY length for this channel.

    ``max_response`` caps the response size (e.g. a reader's buffer); it
    defaults to 65536 with extended length and 256 without.
    """
    budget = max_response or (EXTENDED_MAX if ch.extended_length else SHORT_MAX)
    if not ch.extended_length:
        budget = min(budget, SHORT_MAX)
    if ch.sm is None:
        return budget
    return max_plain_response(budget, ch.sm.spec.block_size)


@dataclass
class _Chunk:
    data: bytes
    eof: bool


def b1_payload(ne: int) -> int:
    """Data bytes that fit in an odd-INS READ BINARY answer of ``ne`` bytes
    (the answer is wrapped in DO'53')."""
    n = max(0, ne - 2)
    while n and n + 1 + len(tlv.encode_length(n)) > ne:
        n -= 1
    return n


def _read_binary(ch: Channel, offset: int, length: int, limit: int) -> _Chunk:
    if offset <= 0x7FFF:
        cmd = CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, ne=length)
    else:
        # B1 wraps the response in DO'53': ask for the wrapper too, within limit.
        length = min(length, b1_payload(limit))
        off = tlv.encode(0x54, offset.to_bytes(3, "big").lstrip(b"\x00") or b"\x00")
        cmd = CommandApdu(
            0x00, 0xB1, 0x00, 0x00, off, ne=length + 1 + len(tlv.encode_length(length))
        )
    resp = ch.transmit(cmd)
    if resp.sw >> 8 == 0x6C and offset <= 0x7FFF:  # wrong Le: the card says how many
        resp = ch.transmit(CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, ne=resp.sw & 0xFF or 256))
    if resp.sw not in (0x9000, 0x6282):
        raise StatusError(resp.sw, f"READ BINARY at {offset}")
    data = resp.data
    if cmd.ins == 0xB1:
        try:
            obj, _ = tlv.decode(data)
        except TlvError as e:
            raise FileReadError(f"READ BINARY (B1) response: {e}") from e
        data = obj.value
    if len(data) > length:
        raise FileReadError(f"card returned {len(data)} bytes for {length} asked")
    return _Chunk(data, resp.sw == 0x6282)


def read_selected(ch: Channel, max_response: int | None = None) -> bytes:
    """Read the currently selected EF whole, with the fewest READ BINARYs."""
    chunk = max_read_length(ch, max_response)
    first = _read_binary(ch, 0, chunk, chunk)
    data = first.data
    if not data:
        raise FileReadError("file is empty")
    try:
        total = tlv.total_length(data[:12]) if len(data) >= 2 else None
    except TlvError as e:
        if len(data) >= 12:
            raise FileReadError(f"file header: {e}") from e
        total = None  # header longer than the first answer: read on
    if total is not None and total > MAX_FILE_SIZE:
        raise FileReadError(f"file header claims {total} bytes: too large")
    if total is not None and len(data) > total:
        data = data[:total]  # bytes after the object are not part of it
    while total is None or len(data) < total:
        if first.eof:
            break
        want = chunk if total is None else min(chunk, total - len(data))
        part = _read_binary(ch, len(data), want, chunk)
        if not part.data:
            if total is None:
                break
            raise FileReadError(f"card stopped after {len(data)} of {total} bytes")
        data += part.data
        if total is None and len(data) >= 2:
            try:
                total = tlv.total_length(data[:12])
            except TlvError:
                pass
            if total is not None and total > MAX_FILE_SIZE:
                raise FileReadError(f"file header claims {total} bytes: too large")
        if part.eof or (total is None and len(part.data) < want):
            break
        if total is None and len(data) > MAX_FILE_SIZE:
            raise FileReadError("file without a length grows beyond the size limit")
    if total is not None and len(data) < total:
        raise FileReadError(f"file ends after {len(data)} of {total} bytes")
    return data if total is None else data[:total]


def read_file(ch: Channel, fid: int, max_response: int | None = None) -> bytes:
    """SELECT the EF by file id, then read it whole."""
    select_file(ch, fid)
    return read_selected(ch, max_response)
