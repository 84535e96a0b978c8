"""The chip input: the PC/SC card observer (card in, card out) and the chip read itself.

The observer runs in pyscard's thread and only puts :class:`CardInserted` /
:class:`CardRemoved` on the desk's queue; the read runs in the desk thread, when the
visit flow asks for it, on the reader that last reported a card.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from app.components import ComponentState
from app.events import AgentEvent, CardInserted, CardRemoved
from edge.chip_reader import ChipCheck, ChipReading
from edge.config import ChipSettings
from edge.domain.qr import CccdRecord
from edge.icao.access import AccessKey
from edge.icao.errors import CardRemovedError, TransportError
from edge.icao.sizing import SizeMemory

if TYPE_CHECKING:
    from edge.trust.store import TrustStore
    from reader_drivers.pcsc import CardObserver

ChipReader = Callable[[Sequence[AccessKey], CccdRecord | None], ChipCheck]
"""Reads and verifies the card on the reader with the keys to try (and the QR read for it)."""


class ChipInput:
    """Card presence from pcscd, and reading the present card."""

    name = "chip"

    def __init__(self, settings: ChipSettings, emit: Callable[[AgentEvent], None]) -> None:
        self.settings = settings
        self._emit = emit
        self._observer: CardObserver | None = None
        self._trust_store: TrustStore | None = None
        self.reader_name: str | None = None  # the reader that last reported a card
        self._sizes = SizeMemory()  # per reader: the response size that worked
        self._reading: tuple[tuple[list[AccessKey], CccdRecord | None], ChipReading] | None = None
        self.trust_store()  # a trust path that does not exist or anchors nothing: TrustStoreError, at start-up

    def start(self) -> None:
        from reader_drivers.pcsc import CardObserver, reader_matcher  # pyscard: only on a desk with a reader

        self._observer = CardObserver(
            on_insert=lambda reader, _atr: self._emit(CardInserted(reader)),
            on_remove=lambda reader: self._emit(CardRemoved(reader)),
            reader_filter=reader_matcher(self.settings.reader),  # the pattern's slots, never a SAM
        ).start()

    def stop(self) -> None:
        observer, self._observer = self._observer, None  # stopped on purpose: not a failure
        if observer is not None:
            observer.stop()

    def state(self) -> ComponentState:
        if self._observer is None:
            return ComponentState.STOPPED
        return ComponentState.RUNNING if self._observer.alive else ComponentState.FAILED

    def trust_store(self) -> TrustStore | None:
        if self._trust_store is None and self.settings.trust_paths:
            from edge.trust.store import load_trust_store

            self._trust_store = load_trust_store([str(p) for p in self.settings.trust_paths])
        return self._trust_store

    def read(self, keys: Sequence[AccessKey], qr: CccdRecord | None) -> ChipCheck:
        """Read and verify the card on :attr:`reader_name` (a :data:`ChipReader`)."""
        if self.reader_name is None:
            raise TransportError("no reader has a card")
        from reader_drivers.pcsc import PcscTransport

        transport = PcscTransport(self.reader_name, timeout=self.settings.timeout)
        sizer = self._sizes.for_reader(self.reader_name, self.settings.max_response,
                                       extended_hint=transport.extended_length)
        # The same visit's keys on a card put back after a removal: resume that reading.
        if self._reading is None or self._reading[0] != (list(keys), qr):
            self._reading = ((list(keys), qr), ChipReading(
                keys, trust_store=self.trust_store(), qr=qr, read_face=self.settings.read_face,
                clone_check=self.settings.clone_check, sizer=sizer))
        try:
            check = self._reading[1].run(transport)
        except CardRemovedError:
            raise  # kept: the card put back resumes it
        except BaseException:
            self._reading = None
            raise
        finally:
            transport.close()
        self._reading = None
        return check
