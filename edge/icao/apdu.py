"""ISO/IEC 7816-4 APDUs: encoding (short and extended length), status words.

Also the ``Transport`` protocol the terminal side talks through: a reader
driver (pyscard), the vpcd plumbing or an in-process virtual card implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from edge.icao.errors import IcaoError

SW_OK = 0x9000

# Meanings of the status words an eMRTD reader meets (ISO/IEC 7816-4 §5.6).
_SW_MEANINGS: dict[int, str] = {
    0x9000: "success",
    0x6282: "end of file reached before Le bytes",
    0x6300: "authentication failed",
    0x6581: "memory failure",
    0x6700: "wrong length",
    0x6882: "secure messaging not supported",
    0x6883: "last command of the chain expected",
    0x6884: "command chaining not supported",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "incorrect secure messaging data objects",
    0x6A80: "incorrect parameters in the data field",
    0x6A82: "file or application not found",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters (offset outside the EF)",
    0x6D00: "instruction code not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}


def sw_meaning(sw: int) -> str:
    """A short human meaning of a status word (ranges included)."""
    if sw in _SW_MEANINGS:
        return _SW_MEANINGS[sw]
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF} more bytes available"
    if sw >> 8 == 0x6C:
        return f"wrong Le: exact length is {sw & 0xFF}"
    if sw & 0xFFF0 == 0x63C0:
        return f"verification failed, {sw & 0x0F} tries left"
    return "unknown status"


class ApduError(IcaoError):
    """An APDU that cannot be encoded or a response/command that cannot be parsed."""


class StatusError(IcaoError):
    """The card answered with a status word other than 9000."""

    def __init__(self, sw: int, context: str = "") -> None:
        self.sw = sw
        self.meaning = sw_meaning(sw)
        self.context = context
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}card answered {sw:04X} ({self.meaning})")


@dataclass(frozen=True)
class CommandApdu:
    """A command APDU. ``ne`` is the expected response length (None = no Le;
    256 short / 65536 extended mean "as many as possible", encoded 00 / 0000)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    force_extended: bool = False

    @property
    def extended(self) -> bool:
        """True when this APDU must use extended length fields."""
        return (
            self.force_extended
            or len(self.data) > 255
            or (self.ne is not None and self.ne > 256)
        )

    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    def to_bytes(self) -> bytes:
        """Encode as case 1-4, short or extended (ISO/IEC 7816-3 §12.1)."""
        for v in (self.cla, self.ins, self.p1, self.p2):
            if not 0 <= v <= 0xFF:
                raise ApduError("header byte out of range")
        if len(self.data) > 65535:
            raise ApduError("command data longer than 65535 bytes")
        if self.ne is not None and not 0 <= self.ne <= 65536:
            raise ApduError("Ne out of range")
        out = bytearray(self.header())
        if not self.extended:
            if self.data:
                out.append(len(self.data))
                out += self.data
            if self.ne is not None:
                out.append(self.ne & 0xFF)  # 256 -> 00
            return bytes(out)
        if self.data:
            out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.ne is not None:
                out += (self.ne & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
        elif self.ne is not None:
            out += b"\x00" + (self.ne & 0xFFFF).to_bytes(2, "big")
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> CommandApdu:
        """Parse a command APDU (card side). Raises ApduError when malformed."""
        if len(raw) < 4:
            raise ApduError("command APDU shorter than 4 bytes")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:  # case 2 short
            return cls(cla, ins, p1, p2, ne=body[0] or 256)
        if body[0] != 0:  # case 3/4 short
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), ne=body[-1] or 256)
            raise ApduError("inconsistent short Lc")
        # extended (body[0] == 0 and more than one byte)
        if len(body) == 3:  # case 2 extended
            le = int.from_bytes(body[1:3], "big")
            return cls(cla, ins, p1, p2, ne=le or 65536, force_extended=True)
        if len(body) < 3:
            raise ApduError("truncated extended length")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ApduError("extended Lc of zero")
        rest = body[3:]
        if len(rest) == lc:
            return cls(cla, ins, p1, p2, bytes(rest), force_extended=True)
        if len(rest) == lc + 2:
            le = int.from_bytes(rest[lc:], "big")
            return cls(cla, ins, p1, p2, bytes(rest[:lc]), ne=le or 65536, force_extended=True)
        raise ApduError("inconsistent extended Lc")


@dataclass(frozen=True)
class ResponseApdu:
    """A response APDU: data and the two status bytes as one int."""

    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK

    def to_bytes(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ApduError(f"response APDU of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def check(self, context: str = "") -> bytes:
        """Return the data, or raise StatusError when the SW is not 9000."""
        if self.sw != SW_OK:
            raise StatusError(self.sw, context)
        return self.data


@runtime_checkable
class Transport(Protocol):
    """What the terminal side needs from a reader.

    ``transmit`` sends one raw command APDU and returns the raw response
    including SW1 SW2; it raises (any exception) when the card is gone.
    ``extended_length`` says whether reader and card accept extended APDUs.
    """

    extended_length: bool

    def transmit(self, apdu: bytes) -> bytes: ...
