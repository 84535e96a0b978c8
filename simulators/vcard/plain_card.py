"""A plain ISO 7816-4 file card: the chip's files with no access control.

Not an eMRTD: no PACE/BAC, no secure messaging. It answers SELECT by file id
and READ BINARY (short and extended Le), with the CCCD quirks (SELECT of the
MF answers 6D00, protected files such as DG3 answer 6982, absent ones 6A82).
It exists to exercise transports (PC/SC, vpcd) and as a stand-in until the
real card state machine (`simulators.vcard.card.VirtualCard`) is used.

A `hold` event lets a test freeze the card inside a command (a card pulled
mid-transmit): INS 0xEE blocks until the event is set.
"""

from __future__ import annotations

import threading

__all__ = ["DEFAULT_ATR", "PlainFileCard", "atr_with_tck"]


def atr_with_tck(body: bytes) -> bytes:
    """Append TCK (XOR of T0..last byte), required when T=1 is indicated."""
    tck = 0
    for b in body[1:]:
        tck ^= b
    return body + bytes([tck])


# T=1, historical bytes 80 | 73 00 00 C0: card capabilities with command
# chaining and extended Lc/Le (ISO 7816-4 8.1.1.2.7).
DEFAULT_ATR = atr_with_tck(bytes.fromhex("3B858001" "80730000C0"))

SW_OK = b"\x90\x00"


class PlainFileCard:
    def __init__(
        self,
        files: dict[int, bytes],
        *,
        protected: set[int] | frozenset[int] = frozenset({0x0103}),
        atr: bytes = DEFAULT_ATR,
        extended_length: bool = True,
    ) -> None:
        self.files = dict(files)
        self.protected = set(protected)
        self._atr = atr
        self.extended_length = extended_length
        self.selected: int | None = None
        self.hold = threading.Event()
        self.hold.set()
        self.in_hold = threading.Event()
        self.commands = 0

    def atr(self) -> bytes:
        return self._atr

    def reset(self) -> None:
        self.selected = None

    power_on = reset

    def transmit(self, apdu: bytes) -> bytes:
        self.commands += 1
        if len(apdu) < 4:
            return b"\x67\x00"
        cla, ins, p1, p2 = apdu[:4]
        if cla & 0x0C:
            return b"\x69\x88"  # no SM session on this card
        if ins == 0xEE:
            self.in_hold.set()
            self.hold.wait()
            return SW_OK
        if ins == 0xA4:
            return self._select(apdu, p1)
        if ins == 0xB0:
            return self._read_binary(apdu, p1, p2)
        return b"\x6D\x00"

    def _select(self, apdu: bytes, p1: int) -> bytes:
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if p1 == 0x04:  # application by AID: the eMRTD application is the only one
            return SW_OK if data == bytes.fromhex("A0000002471001") else b"\x6A\x82"
        if p1 in (0x00, 0x02) and len(data) == 2:
            fid = int.from_bytes(data, "big")
            if fid == 0x3F00:
                return b"\x6D\x00"
            if fid in self.protected:
                return b"\x69\x82"
            if fid in self.files:
                self.selected = fid
                return SW_OK
            return b"\x6A\x82"
        return b"\x6A\x86"

    def _read_binary(self, apdu: bytes, p1: int, p2: int) -> bytes:
        if p1 & 0x80:  # short EF id in P1
            fid = 0x0100 | (p1 & 0x1F)
            if fid in self.protected:
                return b"\x69\x82"
            if fid not in self.files:
                return b"\x6A\x82"
            self.selected, offset = fid, p2
        else:
            if self.selected is None:
                return b"\x69\x86"
            offset = (p1 << 8) | p2
        body = apdu[4:]
        if len(body) == 1:
            le = body[0] or 256
        elif len(body) == 3 and body[0] == 0:
            if not self.extended_length:
                return b"\x67\x00"
            le = int.from_bytes(body[1:], "big") or 65536
        else:
            return b"\x67\x00"
        content = self.files[self.selected]
        if offset > len(content):
            return b"\x6B\x00"
        chunk = content[offset : offset + le]
        return chunk + (SW_OK if len(chunk) == le else b"\x62\x82")
