"""Reader profiles: the virtual card behind the readers a clinic can buy.

:class:`ProfiledCard` wraps a :class:`simulators.vcard.card.VirtualCard` and
behaves as the card seen through one kind of reader; it is a card object for
:class:`simulators.vcard.vpcd.VpcdLink` (served through the real pcscd and
vpcd) and for :class:`simulators.vcard.inprocess.InProcessTransport`.

* ``extended``: today's reader: 64 KB extended-length APDUs;
* ``short``: no extended length: an extended APDU is answered 6700 by the
  reader (the card never sees it); at most 256 bytes per response;
* ``pn532``: a PN532-class reader (ACR122U and the cheap Raspberry Pi
  boards): no extended length, and the whole response (SW included) must fit
  255 bytes; a longer answer from the card is lost and the reader says 6700;
* ``lying-atr``: a ``short`` reader whose ATR claims extended length (PC/SC
  readers synthesise the ATR of a contactless card);
* ``flaky``: extended, but the card drops its secure-messaging session once,
  after a random number (seeded) of protected commands: that command is
  answered 6988 in plain, as after a field glitch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.vcard.card import VirtualCard, make_atr

__all__ = ["PROFILES", "ProfiledCard", "ReaderProfile", "profile"]

#: historical bytes whose card capabilities (compact-TLV tag 7) claim extended Lc/Le
EXTENDED_ATR = make_atr(b"\x80\x73\x00\x00\x40")
_REFUSED = b"\x67\x00"


@dataclass(frozen=True)
class ReaderProfile:
    name: str
    extended: bool = True  # the reader carries extended-length APDUs
    max_response_total: int | None = None  # response bytes incl. SW the reader carries
    atr_claims_extended: bool = False
    drop_session_within: tuple[int, int] | None = None  # flaky: the n-th protected command, n in [a, b]


PROFILES: dict[str, ReaderProfile] = {
    p.name: p
    for p in (
        ReaderProfile("extended"),
        ReaderProfile("short", extended=False, max_response_total=256 + 2),
        ReaderProfile("pn532", extended=False, max_response_total=255),
        ReaderProfile("lying-atr", extended=False, max_response_total=256 + 2, atr_claims_extended=True),
        ReaderProfile("flaky", drop_session_within=(1, 20)),
    )
}


def profile(name: str) -> ReaderProfile:
    """The profile by name; KeyError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown reader profile {name!r}; known: {', '.join(PROFILES)}") from None


def _is_extended(apdu: bytes) -> bool:
    # ISO 7816-4: after the header, a 00 byte followed by more bytes starts an extended length field.
    return len(apdu) >= 7 and apdu[4] == 0x00


class ProfiledCard:
    """``card`` as seen through a reader of ``reader`` profile."""

    def __init__(self, card: VirtualCard, reader: ReaderProfile, *, seed: int = 0) -> None:
        self.card = card
        self.reader = reader
        self.extended_length = reader.extended and card.extended_length
        self.protected_commands = 0
        self.drops = 0
        self.drop_at: int | None = None
        if reader.drop_session_within is not None:
            self.drop_at = random.Random(f"flaky|{seed}").randint(*reader.drop_session_within)

    def atr(self) -> bytes:
        return EXTENDED_ATR if self.reader.atr_claims_extended else self.card.atr()

    def reset(self) -> None:
        self.card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        if not self.reader.extended and _is_extended(apdu):
            return _REFUSED  # refused by the reader itself
        if apdu[:1] and apdu[0] & 0x0C == 0x0C and self.card.sm is not None:
            self.protected_commands += 1
            if self.protected_commands == self.drop_at:
                self.drops += 1
                self.card.drop_session()
                return b"\x69\x88"
        response = self.card.transmit(apdu)
        if self.reader.max_response_total is not None and len(response) > self.reader.max_response_total:
            return _REFUSED  # the card answered; the reader could not carry it
        return response
