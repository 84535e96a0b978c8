"""CMS SignedData signer checks shared by EF.SOD and CSCA master lists."""

from __future__ import annotations

from asn1crypto import cms, x509

from edge.trust import _crypto
from edge.trust.errors import UnsupportedAlgorithm


def message_digest_attr(signer_info: cms.SignerInfo) -> bytes | None:
    attrs = signer_info["signed_attrs"]
    if not attrs:
        return None
    for attr in attrs:
        if attr["type"].native == "message_digest":
            return bytes(attr["values"][0].native)
    return None


def check_message_digest(signer_info: cms.SignerInfo, econtent: bytes) -> bool:
    """messageDigest signed attribute == hash(eContent) (true if no signed attributes)."""
    if not signer_info["signed_attrs"]:
        return True
    md = message_digest_attr(signer_info)
    if md is None:
        return False
    alg = signer_info["digest_algorithm"]["algorithm"].native
    return _crypto.digest(alg, econtent) == md


def _signed_bytes_candidates(signer_info: cms.SignerInfo, econtent: bytes) -> list[bytes]:
    attrs = signer_info["signed_attrs"]
    if not attrs:
        return [econtent]
    # The signature covers the DER SET OF, i.e. the [0] IMPLICIT field with tag 31.
    raw = attrs.dump()
    out = [b"\x31" + raw[1:]]
    der = attrs.dump(force=True)  # re-encoded as DER, in case the card sent BER
    if der != raw:
        out.append(b"\x31" + der[1:])
    return out


def verify_signer(signer_info: cms.SignerInfo, econtent: bytes, cert: x509.Certificate) -> bool:
    """Signature of the SignerInfo (over the signed attributes) with ``cert``'s key.

    The algorithm comes from the SignerInfo, never from the certificate.
    Raises UnsupportedAlgorithm for algorithms or keys it cannot handle.
    """
    key = _crypto.load_public_key(cert.public_key)
    digest_alg = signer_info["digest_algorithm"]["algorithm"].native
    scheme = _crypto.scheme_of(signer_info["signature_algorithm"], default_hash=digest_alg)
    signature = signer_info["signature"].native
    return any(_crypto.verify(key, scheme, data, signature) for data in _signed_bytes_candidates(signer_info, econtent))


def signer_scheme_description(signer_info: cms.SignerInfo) -> str:
    try:
        digest_alg = signer_info["digest_algorithm"]["algorithm"].native
        return _crypto.scheme_of(signer_info["signature_algorithm"], default_hash=digest_alg).describe()
    except (UnsupportedAlgorithm, ValueError, KeyError):
        return str(signer_info["signature_algorithm"]["algorithm"].dotted)
