"""The ordered trust level reached by a card reading.

Part of the wire contract (a check-in event carries it); the string values
must not change. ``edge.trust.levels`` re-exports it.
"""

from __future__ import annotations

from enum import Enum


class TrustLevel(str, Enum):
    """How far a reading was verified, from worst to best.

    ``invalid < qr_only < chip_data_unanchored < chip_verified <
    chip_verified_clone_checked``.
    """

    INVALID = "invalid"
    #: Only the (unsigned) QR code was read: it identifies, it proves nothing.
    QR_ONLY = "qr_only"
    #: The SOD signature and data-group hashes are fine, but the document signer
    #: does not chain to a trusted CSCA (or pinned DS) valid at the reading date.
    CHIP_DATA_UNANCHORED = "chip_data_unanchored"
    #: Passive authentication complete: anchored, valid, not revoked.
    CHIP_VERIFIED = "chip_verified"
    #: chip_verified plus Chip or Active Authentication passed (not a clone).
    CHIP_VERIFIED_CLONE_CHECKED = "chip_verified_clone_checked"

    @property
    def rank(self) -> int:
        """Position in the order, 0 for ``invalid``."""
        return _RANK[self]

    # str's comparisons would order alphabetically: override with the rank.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, TrustLevel):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, TrustLevel):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, TrustLevel):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, TrustLevel):
            return NotImplemented
        return self.rank >= other.rank

    # Enum with custom ordering still hashes by value.
    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value


_RANK = {level: i for i, level in enumerate(TrustLevel)}
