"""Typed errors shared by the ICAO modules.

Every failure a hostile or vanished card can cause ends as one of these, so
callers catch ``IcaoError`` and never see IndexError/ValueError from parsing.
"""

from __future__ import annotations


class IcaoError(Exception):
    """Base class of every error raised by edge.icao."""


class TlvError(IcaoError):
    """Malformed BER-TLV: truncated, overlong or otherwise invalid encoding."""


class MrzError(IcaoError):
    """An MRZ that cannot be parsed or whose check digits do not verify."""


class SecureMessagingError(IcaoError):
    """A secure-messaging response with a bad MAC or a malformed structure.

    Surfaced to the caller, never retried: a bad MAC means the session is
    broken (or someone is tampering) and must be re-established.
    """


class AuthenticationError(IcaoError):
    """BAC or PACE failed (wrong key, bad token, protocol mismatch)."""


class TransportError(IcaoError):
    """The transport failed (card removed, reader gone) mid-exchange."""


class CardRemovedError(TransportError):
    """The card left the field (or lost power) mid-exchange: the session is over.

    Raised by transports (the PC/SC driver's kind subclasses it), caught by type by the
    desk: a removed card asks the receptionist to lay it down again."""


class TransportOverflowError(TransportError):
    """The reader could not carry an answer this large (its buffer is smaller).

    The card did answer: the connection stays usable, the caller asks for less."""


class LdsError(IcaoError):
    """A data group that cannot be parsed."""
