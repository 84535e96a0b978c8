"""EF.SOD: the document security object (ICAO 9303 Part 10 §4.6.2).

EF.SOD is ``[APPLICATION 23]`` (tag 77) around a CMS ContentInfo holding
SignedData whose eContent (type id-icao-mrtd-security-ldsSecurityObject) is
an LDSSecurityObject listing the hash of each data group. Real SODs may use
BER indefinite lengths (New Zealand 2013): asn1crypto parses them and keeps
the original bytes, which is what the signatures cover.

The parser itself is :mod:`edge.icao.lds.sod` (one parser for the reading
session and the verifier); this module gives it the trust package's error
type and adds what verification needs: finding the signer's certificate and
comparing X.509 names.
"""

from __future__ import annotations

from asn1crypto import cms, x509

from edge.icao.lds import sod as _lds_sod
from edge.icao.lds.sod import OID_LDS_SECURITY_OBJECT, LDSSecurityObject, SodError
from edge.icao.lds.tags import TAG_TO_DG
from edge.trust.errors import SODParseError

__all__ = [
    "OID_LDS_SECURITY_OBJECT",
    "SOD",
    "LDSSecurityObject",
    "dg_number_from_content",
    "econtent_bytes",
    "find_signer_certificate",
    "name_key",
    "names_match",
    "parse_sod",
    "require_signed",
]

#: The parsed EF.SOD: one class for the reading session and the verifier.
SOD = _lds_sod.Sod


def parse_sod(data: bytes) -> SOD:
    """Parse EF.SOD bytes with :func:`edge.icao.lds.sod.parse_sod`; raises
    :class:`SODParseError` on anything malformed or unsigned."""
    try:
        return require_signed(_lds_sod.parse_sod(data))
    except SodError as e:
        raise SODParseError(str(e)) from None


def require_signed(sod: SOD) -> SOD:
    """The SOD itself when it has a SignerInfo to verify; SODParseError otherwise."""
    if sod.signer_info is None:
        raise SODParseError("SignedData has no SignerInfo")
    return sod


def econtent_bytes(signed_data: cms.SignedData) -> bytes:
    try:
        return _lds_sod.econtent_bytes(signed_data)
    except SodError as e:
        raise SODParseError(str(e)) from None


def find_signer_certificate(
    signer_info: cms.SignerInfo, certificates: tuple[x509.Certificate, ...] | list[x509.Certificate]
) -> x509.Certificate | None:
    sid = signer_info["sid"]
    for cert in certificates:
        try:
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                if (
                    ias["serial_number"].native == cert.serial_number
                    and names_match(ias["issuer"], cert.issuer)
                ):
                    return cert
            elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
                return cert
        except (ValueError, TypeError, KeyError):
            continue
    return None


def _rdn_multiset(name: x509.Name) -> list[str]:
    # Name.hashable normalises each attribute value; sorting drops the order.
    return sorted(rdn.hashable for rdn in name.chosen)


def name_key(name: x509.Name) -> str:
    """Index key for a Name: normalised, RDN order ignored."""
    try:
        return "|".join(_rdn_multiset(name))
    except (ValueError, TypeError, KeyError):
        return str(name.dump().hex())


def names_match(a: x509.Name, b: x509.Name) -> bool:
    """Equal names, tolerating a different RDN order (seen in real SODs: the
    Malaysian SignerInfo lists its issuer's RDNs in another order than the
    certificate does)."""
    if a.hashable == b.hashable:
        return True
    try:
        return _rdn_multiset(a) == _rdn_multiset(b)
    except (ValueError, TypeError, KeyError):
        return False


# ---------------------------------------------------------------------------
# data-group files


def dg_number_from_content(data: bytes) -> int:
    """The data-group number announced by a DG file's first tag (61 -> 1 ...)."""
    if not data:
        raise SODParseError("empty data-group file")
    n = TAG_TO_DG.get(data[0])
    if n is None:
        raise SODParseError(f"tag {data[0]:02X} is not a data-group tag")
    return n
