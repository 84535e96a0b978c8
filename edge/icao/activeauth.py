"""Active Authentication, the command step (ICAO 9303 Part 11 §6.1).

INTERNAL AUTHENTICATE (00 88 00 00) with an 8-byte random challenge under
secure messaging; the chip signs it with DG15's private key. The verification
(ISO/IEC 9796-2 or ECDSA) is :func:`edge.trust.aa.aa_verifier`'s, given here
as a function ``(challenge, signature) -> (ok, detail)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from edge.icao.apdu import CommandApdu, StatusError
from edge.icao.outcome import AuthOutcome, AuthProtocol, AuthStatus

if TYPE_CHECKING:  # pragma: no cover
    from edge.icao.session import ChipSession

__all__ = ["AaVerifier", "active_authenticate"]

AA = AuthProtocol.ACTIVE_AUTHENTICATION
CHALLENGE_LENGTH = 8

#: (challenge, signature) -> (verified, detail)
AaVerifier = Callable[[bytes, bytes], tuple[bool, str]]


def active_authenticate(session: ChipSession, verify: AaVerifier) -> AuthOutcome:
    """Send INTERNAL AUTHENTICATE with a fresh challenge and verify the answer.

    ``failed`` only for a signature that does not verify; an error status is
    ``not performed``. A lost session (SecureMessagingError) and transport
    errors propagate: the caller may recover the session and try again.
    """
    challenge = session.random(CHALLENGE_LENGTH)
    try:
        signature = session.transmit_secure(CommandApdu(0x00, 0x88, 0x00, 0x00, challenge, ne=256)).check(
            "INTERNAL AUTHENTICATE"
        )
    except StatusError as e:
        # Refused (6D00 not supported, 6982/6985 not now...): no signature, so no verdict on a clone.
        return AuthOutcome.not_performed(AA, f"the chip refused it: {e}", e.sw)
    ok, detail = verify(challenge, signature)
    return AuthOutcome(AA, AuthStatus.VERIFIED if ok else AuthStatus.FAILED, detail)
