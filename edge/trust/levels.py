"""The overall trust level a card read reached, ordered from worst to best."""

from __future__ import annotations

from enum import Enum


class TrustLevel(str, Enum):
    """How far the desk can trust a card read. Compare with ``<`` and ``>``."""

    INVALID = "invalid"
    QR_ONLY = "qr_only"
    CHIP_DATA_UNANCHORED = "chip_data_unanchored"
    CHIP_VERIFIED = "chip_verified"
    CHIP_VERIFIED_CLONE_CHECKED = "chip_verified_clone_checked"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

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


_ORDER = list(TrustLevel)
