"""How large a response this reader and card really carry, learned while reading.

Readers differ: some carry 64 KB extended-length answers, short-APDU readers
256 bytes, PN532-class readers about 253 bytes in all, and the ATR a PC/SC
reader synthesises for a contactless card may claim extended length the reader
cannot carry. So the size is a belief, not a fact: :class:`ResponseSizer`
starts from the configured maximum (else the transport's hint: the ATR or a
probe) and shrinks when a response is refused (6700, a transport overflow) or
cut short (6Cxx, 6282 before the end of the file):

* an extended command refused before any extended answer worked: straight
  to short APDUs (the extended claim was wrong, halving would waste APDUs);
* otherwise halve, down to the floor: a short APDU's 256 bytes, i.e. 0xDF
  plain bytes under AES secure messaging (the overhead is accounted for by
  :func:`edge.icao.sm.max_plain_response`); below the floor, halve again as a
  last resort down to :data:`MIN_BUDGET`.

The budget is the response data length on the wire (protected bytes under
secure messaging, SW1 SW2 excluded). :class:`SizeMemory` keeps one sizer per
reader name, so the next card on the same reader starts at what worked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.icao.sm import SmContext, max_plain_response, protected_response_length

__all__ = ["EXTENDED_MAX", "FLOOR", "MIN_BUDGET", "SHORT_MAX", "ResponseSizer", "SizeMemory"]

SHORT_MAX = 256
EXTENDED_MAX = 65536
FLOOR = SHORT_MAX  # 0xDF plain bytes under AES secure messaging
MIN_BUDGET = 64


@dataclass
class ResponseSizer:
    """The largest response believed to work; shrinks on refusal, never grows by itself."""

    limit: int
    extended_confirmed: bool = False  # an extended command got a proper answer
    #: one line per shrink: "65536 -> 256: 6700 to an extended READ BINARY"
    history: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, maximum: int | None = None, *, extended_hint: bool = False) -> ResponseSizer:
        """From the configured maximum, else from the transport's hint."""
        limit = maximum if maximum else (EXTENDED_MAX if extended_hint else SHORT_MAX)
        return cls(max(MIN_BUDGET, min(limit, EXTENDED_MAX)))

    @property
    def extended(self) -> bool:
        return self.limit > SHORT_MAX

    def plain_length(self, sm: SmContext | None) -> int:
        """The READ BINARY length whose answer fits the budget (protected under SM)."""
        if sm is None:
            return self.limit
        return max_plain_response(self.limit, sm.spec.block_size)

    def worked(self, extended_command: bool) -> None:
        if extended_command:
            self.extended_confirmed = True

    def shrink(self, reason: str, extended_command: bool) -> bool:
        """Lower the budget after a refusal; False when nothing smaller is left to try."""
        old = self.limit
        if extended_command and not self.extended_confirmed:
            new = SHORT_MAX
        elif old > FLOOR:
            new = max(FLOOR, old // 2)
        else:
            new = old // 2
        if new < MIN_BUDGET or new >= old:
            return False
        self.limit = new
        self.history.append(f"{old} -> {new}: {reason}")
        return True

    def cap(self, plain: int, sm: SmContext | None, reason: str) -> None:
        """The card gave only ``plain`` bytes where more were asked (6Cxx, 6282): ask no more."""
        budget = plain if sm is None else protected_response_length(plain, sm.spec.block_size)
        if MIN_BUDGET <= budget < self.limit:
            self.history.append(f"{self.limit} -> {budget}: {reason}")
            self.limit = budget


@dataclass
class SizeMemory:
    """One :class:`ResponseSizer` per reader name: what worked for the last card."""

    sizers: dict[str, ResponseSizer] = field(default_factory=dict)

    def for_reader(self, reader: str, maximum: int | None = None, *, extended_hint: bool = False) -> ResponseSizer:
        """The reader's sizer (created from ``maximum`` / the hint the first time)."""
        sizer = self.sizers.get(reader)
        if sizer is None:
            sizer = self.sizers[reader] = ResponseSizer.start(maximum, extended_hint=extended_hint)
        return sizer
