"""An in-process Transport that connects the terminal session to a VirtualCard."""

from __future__ import annotations

from edge.icao.errors import CardRemovedError
from simulators.vcard.card import VirtualCard


class InProcessTransport:
    """edge.icao.apdu.Transport over a VirtualCard in the same process.

    ``extended_length`` defaults to what the card supports; ``trace`` (if a
    list is given) receives (command, response) pairs. :meth:`remove` takes
    the card off the "reader": every exchange then raises
    :class:`edge.icao.errors.CardRemovedError`, as a real reader's driver does;
    :meth:`insert` puts it back (powered up again: no session survives).
    """

    def __init__(
        self,
        card: VirtualCard,
        extended_length: bool | None = None,
        trace: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.card = card
        self.extended_length = card.extended_length if extended_length is None else extended_length
        self.trace = trace
        self.present = True

    def remove(self) -> None:
        self.present = False

    def insert(self) -> None:
        self.card.reset()
        self.present = True

    def transmit(self, apdu: bytes) -> bytes:
        if not self.present:
            raise CardRemovedError("card removed from the in-process reader")
        response = self.card.transmit(bytes(apdu))
        if self.trace is not None:
            self.trace.append((bytes(apdu), response))
        return response
