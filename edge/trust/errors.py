"""Errors raised by :mod:`edge.trust`.

Everything the trust package raises on malformed input derives from
:class:`TrustError`, so callers (and the fuzz tests) can catch one type.
"""

from __future__ import annotations


class TrustError(Exception):
    """Base class of every error raised by edge.trust on bad input."""


class SODParseError(TrustError):
    """EF.SOD bytes are not a parsable ICAO LDS security object."""


class MasterListError(TrustError):
    """A CSCA master list could not be parsed or failed verification."""


class CertificateError(TrustError):
    """A certificate or CRL could not be parsed or uses something unsupported."""


class UnsupportedAlgorithm(TrustError):
    """An algorithm or curve the verifier does not implement."""
