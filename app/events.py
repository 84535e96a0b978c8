"""The events the desk agent's components send to the desk controller, on one queue.

Each is a frozen dataclass; the controller dispatches on the type (``match``), so a new
event is a new class and a new case, never a tuple shape or a string to compare. They
hold what the visit flow needs and nothing else (a QR payload holds personal data: the
reprs say only its length).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class QrScanned:
    """A QR payload from any source (camera, scanner, standard input)."""

    data: bytes
    seen_at: datetime | None = None
    flags: dict[str, object] = field(default_factory=dict, compare=False)
    source_id: str = "qr"

    def __repr__(self) -> str:  # the payload holds a name and an ID number
        return f"QrScanned(len={len(self.data)}, source_id={self.source_id!r})"


@dataclass(frozen=True)
class CardInserted:
    """A card was laid on a PC/SC reader."""

    reader: str


@dataclass(frozen=True)
class CardRemoved:
    """The card left the reader."""

    reader: str


@dataclass(frozen=True)
class CanEntered:
    """The receptionist typed a card's CAN on the screen (a chip-only read)."""

    can: str
    replace: bool = False  # the receptionist chose to replace the visit waiting for its card

    def __repr__(self) -> str:  # the CAN is the tail of the ID number
        return f"CanEntered(<redacted>, replace={self.replace})"


@dataclass(frozen=True)
class NextPatient:
    """The receptionist pressed "next patient" on the screen."""


@dataclass(frozen=True)
class Rescan:
    """The receptionist pressed "rescan" on the screen."""


@dataclass(frozen=True)
class Stop:
    """Wakes the controller so it can leave its loop."""


AgentEvent = QrScanned | CardInserted | CardRemoved | CanEntered | NextPatient | Rescan | Stop
