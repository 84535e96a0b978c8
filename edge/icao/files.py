"""Selecting and reading eMRTD files with the fewest APDUs the reader allows.

Files are selected by file id (the CCCD answers 6D00 to SELECT MF). READ
BINARY asks for the largest length a :class:`edge.icao.sizing.ResponseSizer`
believes this reader and card carry; under secure messaging the plain length
is chosen so the protected response (DO'87' + DO'99' + DO'8E') still fits. The
first read gives the TLV header and thereby the file's total length; the rest
is read in as few APDUs as possible. Offsets above 32767 use READ BINARY with
odd INS (B1) and an offset data object.

A refused size (6700, a transport overflow) shrinks the sizer and the same
offset is asked again; a short answer (6Cxx, 6282 before the end) caps it and
reading carries on from the offset reached. A :class:`FileProgress` keeps what
was read, so a read interrupted by a lost session resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.icao import tlv
from edge.icao.apdu import CommandApdu, ResponseApdu, StatusError
from edge.icao.channel import Channel
from edge.icao.errors import IcaoError, TlvError, TransportOverflowError
from edge.icao.lds.tags import AID_EMRTD
from edge.icao.sizing import EXTENDED_MAX, SHORT_MAX, ResponseSizer

__all__ = [
    "EXTENDED_MAX",
    "MAX_FILE_SIZE",
    "SHORT_MAX",
    "FileProgress",
    "FileReadError",
    "b1_payload",
    "max_read_length",
    "read_file",
    "read_progress",
    "read_selected",
    "select_application",
    "select_file",
]

# No eMRTD file comes near this; a header claiming more is hostile or broken,
# and reading it would take thousands of APDUs.
MAX_FILE_SIZE = 1 << 20
_SHRINK_ON = (0x6700,)


class FileReadError(IcaoError):
    """A file could not be read completely (card stopped short, bad header)."""


def select_application(ch: Channel, aid: bytes = AID_EMRTD) -> None:
    """SELECT the eMRTD application by AID (P1=04, no FCI)."""
    ch.transmit(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid)).check("SELECT application")


def select_file(ch: Channel, fid: int) -> None:
    """SELECT an EF by file id (P1=02, P2=0C: no FCI)."""
    ch.transmit(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))).check(f"SELECT {fid:04X}")


def _sizer_for(ch: Channel, max_response: int | None) -> ResponseSizer:
    return ResponseSizer.start(max_response, extended_hint=ch.extended_length)


def max_read_length(ch: Channel, max_response: int | None = None) -> int:
    """Largest plain READ BINARY length for this channel, before anything is learned.

    ``max_response`` caps the response size (e.g. a reader's buffer); it
    defaults to 65536 with extended length and 256 without.
    """
    return _sizer_for(ch, max_response).plain_length(ch.sm)


@dataclass
class _Chunk:
    data: bytes
    eof: bool  # 6282: the card says the file ended before Le bytes
    asked: int  # the data length asked for (B1 answers lose their DO'53' header to the budget)


def b1_payload(ne: int) -> int:
    """Data bytes that fit in an odd-INS READ BINARY answer of ``ne`` bytes
    (the answer is wrapped in DO'53')."""
    n = max(0, ne - 2)
    while n and n + 1 + len(tlv.encode_length(n)) > ne:
        n -= 1
    return n


def _command(offset: int, length: int) -> CommandApdu:
    if offset <= 0x7FFF:
        return CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, ne=length)
    # B1 wraps the response in DO'53': ask for the wrapper too.
    off = tlv.encode(0x54, offset.to_bytes(3, "big").lstrip(b"\x00") or b"\x00")
    return CommandApdu(0x00, 0xB1, 0x00, 0x00, off, ne=length + 1 + len(tlv.encode_length(length)))


def _send(ch: Channel, cmd: CommandApdu, sizer: ResponseSizer) -> ResponseApdu | None:
    """One READ BINARY; None when the size was refused and the sizer shrank (ask again)."""
    try:
        resp = ch.transmit(cmd)
    except TransportOverflowError as e:
        if sizer.shrink(f"transport overflow ({e})", cmd.extended):
            return None
        raise
    if resp.sw in _SHRINK_ON and sizer.shrink(f"{resp.sw:04X} to READ BINARY Le={cmd.ne}", cmd.extended):
        return None
    return resp


def _read_binary(ch: Channel, offset: int, length: int, sizer: ResponseSizer) -> _Chunk:
    while True:
        plain = sizer.plain_length(ch.sm)
        want = min(length, plain if offset <= 0x7FFF else b1_payload(plain))
        cmd = _command(offset, want)
        resp = _send(ch, cmd, sizer)
        if resp is None:
            continue
        if resp.sw >> 8 == 0x6C and offset <= 0x7FFF:  # wrong Le: the card says how many
            exact = resp.sw & 0xFF or 256
            if exact < want:
                sizer.cap(exact, ch.sm, f"{resp.sw:04X}: the card gives {exact} bytes")
            cmd = _command(offset, exact)
            resp = ch.transmit(cmd)
        if resp.sw not in (0x9000, 0x6282):
            raise StatusError(resp.sw, f"READ BINARY at {offset}")
        sizer.worked(cmd.extended)
        data = resp.data
        if cmd.ins == 0xB1:
            try:
                obj, _ = tlv.decode(data)
            except TlvError as e:
                raise FileReadError(f"READ BINARY (B1) response: {e}") from e
            data = obj.value
        if len(data) > want:
            raise FileReadError(f"card returned {len(data)} bytes for {want} asked")
        return _Chunk(data, resp.sw == 0x6282, want)


@dataclass
class FileProgress:
    """One EF being read: the bytes so far and, once the header is in, the total."""

    fid: int
    data: bytes = b""
    total: int | None = None
    selected: bool = False  # a new session must SELECT again before reading on

    def done(self) -> bool:
        return self.total is not None and len(self.data) >= self.total

    def _learn_total(self) -> None:
        if self.total is not None or len(self.data) < 2:
            return
        try:
            self.total = tlv.total_length(self.data[:12])
        except TlvError as e:
            if len(self.data) >= 12:
                raise FileReadError(f"file header: {e}") from e
            return  # header longer than what was read so far: read on
        if self.total is not None and self.total > MAX_FILE_SIZE:
            raise FileReadError(f"file header claims {self.total} bytes: too large")


def read_progress(ch: Channel, progress: FileProgress, sizer: ResponseSizer) -> bytes:
    """Read ``progress``'s file whole, from where it stopped; SELECT first if needed.

    Errors (StatusError, SecureMessagingError, TransportError) leave
    ``progress`` as far as it got: call again on a new session to resume.
    """
    if not progress.selected:
        select_file(ch, progress.fid)
        progress.selected = True
    while not progress.done():
        have = len(progress.data)
        want = EXTENDED_MAX if progress.total is None else progress.total - have
        part = _read_binary(ch, have, want, sizer)
        if not part.data:
            if have == 0:
                raise FileReadError("file is empty")
            if progress.total is None:
                break
            raise FileReadError(f"card stopped after {have} of {progress.total} bytes")
        progress.data += part.data
        progress._learn_total()
        if progress.total is not None and len(progress.data) > progress.total:
            progress.data = progress.data[: progress.total]  # bytes after the object are not part of it
        if progress.done():
            break
        short = len(part.data) < part.asked
        if part.eof or short:
            if progress.total is None:
                break  # no header: the card's end of file is the end
            # Cut short before the end the header gives: ask no more than that and read on.
            sizer.cap(len(part.data), ch.sm, f"{'6282' if part.eof else 'short answer'}: {len(part.data)} bytes")
        if progress.total is None and len(progress.data) > MAX_FILE_SIZE:
            raise FileReadError("file without a length grows beyond the size limit")
    if progress.total is not None and len(progress.data) < progress.total:
        raise FileReadError(f"file ends after {len(progress.data)} of {progress.total} bytes")
    return progress.data


def read_selected(ch: Channel, max_response: int | None = None, sizer: ResponseSizer | None = None) -> bytes:
    """Read the currently selected EF whole, with the fewest READ BINARYs."""
    progress = FileProgress(0, selected=True)
    return read_progress(ch, progress, sizer or _sizer_for(ch, max_response))


def read_file(ch: Channel, fid: int, max_response: int | None = None, sizer: ResponseSizer | None = None) -> bytes:
    """SELECT the EF by file id, then read it whole."""
    return read_progress(ch, FileProgress(fid), sizer or _sizer_for(ch, max_response))
