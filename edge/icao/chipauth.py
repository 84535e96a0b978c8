"""Chip Authentication, the command steps (ICAO 9303 Part 11 §6.2; BSI TR-03110).

The terminal's half (ephemeral key, command data, the new session keys) is
computed before any APDU by :func:`edge.trust.ca.chip_authentication_request`
(the maths lives in :mod:`edge.trust.ca`); this module only talks to the chip:

* CA v1 with 3DES: MSE:Set KAT (00 22 41 A6) with the ephemeral public key;
* otherwise MSE:Set AT (00 22 41 A4) with the CA OID, then GENERAL
  AUTHENTICATE (00 86 00 00) with the ephemeral public key;
* the chip answers under the old keys and switches; the terminal switches too
  (SSC 0) and re-reads a file under the new keys: only a chip holding DG14's
  private key can answer that correctly (the proof).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from edge.icao.apdu import CommandApdu, StatusError
from edge.icao.errors import SecureMessagingError
from edge.icao.files import FileReadError
from edge.icao.outcome import AuthOutcome, AuthProtocol, AuthStatus
from edge.icao.sm import SmContext

if TYPE_CHECKING:  # pragma: no cover
    from edge.icao.session import ChipSession

__all__ = ["ChipAuthRequest", "chip_authenticate"]

CA = AuthProtocol.CHIP_AUTHENTICATION


@dataclass(frozen=True)
class ChipAuthRequest:
    """The terminal's half of one Chip Authentication, ready to send."""

    description: str  # e.g. "ECDH AES-128"
    cipher: str  # the secure-messaging cipher after the switch
    new_session: SmContext = field(repr=False)  # keys both sides switch to (SSC 0)
    mse_set_kat: bytes | None = None  # CA v1 with 3DES
    mse_set_at: bytes | None = None  # otherwise: MSE:Set AT, then GENERAL AUTHENTICATE
    general_authenticate: bytes | None = None


def _send_key(session: ChipSession, request: ChipAuthRequest) -> None:
    if request.mse_set_kat is not None:
        session.transmit_secure(CommandApdu(0x00, 0x22, 0x41, 0xA6, request.mse_set_kat)).check("MSE:Set KAT")
        return
    if request.mse_set_at is None or request.general_authenticate is None:
        raise ValueError("a ChipAuthRequest needs MSE:Set KAT or MSE:Set AT + GENERAL AUTHENTICATE data")
    session.transmit_secure(CommandApdu(0x00, 0x22, 0x41, 0xA4, request.mse_set_at)).check("MSE:Set AT")
    session.transmit_secure(CommandApdu(0x00, 0x86, 0x00, 0x00, request.general_authenticate, ne=256)).check(
        "GENERAL AUTHENTICATE"
    )


def chip_authenticate(
    session: ChipSession, request: ChipAuthRequest, proof_fid: int, earlier: bytes | None
) -> AuthOutcome:
    """Run CA on ``session`` and prove it by re-reading ``proof_fid`` under the new keys.

    ``earlier`` is that file as read before (the proof must give the same bytes).
    ``failed`` only when the proof under the new keys fails (the session is then
    gone); an error status to MSE / GENERAL AUTHENTICATE is ``not performed``.
    A session lost before the key switch (SecureMessagingError) and transport
    errors propagate: the caller may recover the session and try again.
    """
    try:
        _send_key(session, request)
    except StatusError as e:
        # Refused before any key switch: nothing was proved either way.
        return AuthOutcome.not_performed(CA, f"the chip refused it: {e}", e.sw)
    session.sm = replace(request.new_session)  # a fresh copy: the SSC counts on it
    try:
        again = session.read_raw(proof_fid)
    except (StatusError, SecureMessagingError, FileReadError) as e:
        return AuthOutcome(CA, AuthStatus.FAILED, f"{type(e).__name__}: {e}", getattr(e, "sw", None))
    if earlier is not None and again != earlier:
        return AuthOutcome(CA, AuthStatus.FAILED, "EF.COM differs under the new keys")
    return AuthOutcome(
        CA, AuthStatus.VERIFIED, f"{request.description}, EF.COM read under the new keys",
        session_cipher=request.cipher,
    )
