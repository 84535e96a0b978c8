"""Typed outcomes of the clone checks (Chip Authentication, Active Authentication).

The protocol modules (:mod:`edge.icao.chipauth`, :mod:`edge.icao.activeauth`)
return an :class:`AuthOutcome`; the read result stores one per protocol and the
trust layer turns it into a check. The distinction that matters for trust:

* ``VERIFIED``: the protocol ran and the chip proved it holds the private key;
* ``FAILED``: the protocol ran and the proof did not verify (clone evidence);
* ``NOT_PERFORMED``: the protocol could not run (an unusable DG, the card
  refused the command, the session was lost) - says nothing about a clone;
* ``NOT_APPLICABLE``: the card does not offer it (no DG14 / DG15).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AuthProtocol(StrEnum):
    CHIP_AUTHENTICATION = "chip_authentication"
    ACTIVE_AUTHENTICATION = "active_authentication"


class AuthStatus(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"
    NOT_PERFORMED = "not_performed"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class AuthOutcome:
    """What one clone check came to, and why (``reason`` is free English detail)."""

    protocol: AuthProtocol
    status: AuthStatus
    reason: str
    sw: int | None = None  # the status word that stopped it, when the card refused
    session_cipher: str | None = None  # CA: the secure-messaging cipher after the key switch

    @property
    def performed(self) -> bool:
        """The protocol ran to a verdict (verified or failed)."""
        return self.status in (AuthStatus.VERIFIED, AuthStatus.FAILED)

    @property
    def verified(self) -> bool:
        return self.status is AuthStatus.VERIFIED

    @classmethod
    def not_applicable(cls, protocol: AuthProtocol, reason: str) -> AuthOutcome:
        return cls(protocol, AuthStatus.NOT_APPLICABLE, reason)

    @classmethod
    def not_performed(cls, protocol: AuthProtocol, reason: str, sw: int | None = None) -> AuthOutcome:
        return cls(protocol, AuthStatus.NOT_PERFORMED, reason, sw)
