"""Active Authentication (ICAO 9303 Part 11 §6.1): pure verification and card-side signing.

The terminal sends INTERNAL AUTHENTICATE with an 8-byte challenge; the chip
signs it with the private key whose public half is in DG15:

* RSA: ISO/IEC 9796-2 digital signature scheme 1 with partial message
  recovery. The recovered representative is ``6A || M1 || H(M1 || challenge) ||
  trailer``; trailer ``BC`` means SHA-1, ``xx CC`` names the hash (ISO/IEC
  10118-3 identifiers: 33 SHA-1, 34 SHA-256, 35 SHA-512, 36 SHA-384, 38 SHA-224);
* ECDSA: plain ``r || s`` (BSI TR-03111) over the challenge; the hash is the
  one DG14's ActiveAuthenticationInfo names, else chosen by the key size.

The raw RSA operations (modular exponentiation) are done here because
``cryptography`` offers no ISO/IEC 9796-2 padding and no raw RSA primitive.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

from asn1crypto import keys
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from edge.icao.errors import LdsError
from edge.icao.lds import dg15 as lds_dg15
from edge.trust import _crypto
from edge.trust._crypto import ECKey
from edge.trust.errors import TrustError, UnsupportedAlgorithm
from edge.trust.result import Check, CheckStatus

ISO_HASH_IDS = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}
HASH_ISO_IDS = {v: k for k, v in ISO_HASH_IDS.items()}
HASH_LEN = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}

#: ActiveAuthenticationInfo.signatureAlgorithm -> hash (BSI TR-03111 plain ECDSA and X9.62 OIDs)
AA_SIGNATURE_OIDS = {
    "0.4.0.127.0.7.1.1.4.1.1": "sha1",
    "0.4.0.127.0.7.1.1.4.1.2": "sha224",
    "0.4.0.127.0.7.1.1.4.1.3": "sha256",
    "0.4.0.127.0.7.1.1.4.1.4": "sha384",
    "0.4.0.127.0.7.1.1.4.1.5": "sha512",
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
OID_ACTIVE_AUTHENTICATION = "2.23.136.1.1.5"


class AAError(TrustError):
    """Active Authentication input that cannot be used (bad DG15, bad key)."""


def parse_dg15(data: bytes) -> keys.PublicKeyInfo:
    """The SubjectPublicKeyInfo in DG15 (``6F L spki``); a bare SPKI is accepted.

    The 6F structure is parsed by :func:`edge.icao.lds.dg15.parse_dg15`.
    """
    try:
        if data[:1] == b"\x6f":
            data = lds_dg15.parse_dg15(data).subject_public_key_info
        spki = keys.PublicKeyInfo.load(data)
        _ = spki.native
        return spki
    except LdsError as e:
        raise AAError(f"malformed DG15: {e}") from None
    except Exception as e:  # asn1crypto raises assorted errors on junk
        raise AAError(f"malformed DG15: {type(e).__name__}: {e}") from None


def aa_hash_from_dg14(dg14: bytes) -> str | None:
    """The hash named by DG14's ActiveAuthenticationInfo, if any."""
    from edge.trust.ca import parse_dg14  # local import: ca imports this module's peers

    sig_oid = parse_dg14(dg14).aa_signature_oid
    return AA_SIGNATURE_OIDS.get(sig_oid) if sig_oid else None


def default_ecdsa_hash(bits: int) -> str:
    """Hash matching the curve size when DG14 does not say (BSI TR-03111 practice)."""
    if bits <= 160:
        return "sha1"
    if bits <= 224:
        return "sha224"
    if bits <= 256:
        return "sha256"
    if bits <= 384:
        return "sha384"
    return "sha512"


# --- ISO/IEC 9796-2 scheme 1 ----------------------------------------------------


def recover_9796_2(representative: bytes, challenge: bytes) -> tuple[bool, str]:
    """Check a recovered representative F against the challenge: (ok, detail)."""
    F = representative  # noqa: N806 - the standard's notation
    if len(F) < 3 or (F[0] & 0xC0) != 0x40:
        return False, "bad header"
    if not F[0] & 0x20:
        return False, "total message recovery is not used by Active Authentication"
    if F[0] & 0x0F == 0x0A:
        start = 1
    elif F[0] & 0x0F == 0x0B:  # padding nibbles B...BA
        i = 1
        while i < len(F) and F[i] == 0xBB:
            i += 1
        if i >= len(F) or F[i] != 0xBA:
            return False, "bad padding"
        start = i + 1
    else:
        return False, "bad padding"
    if F[-1] == 0xBC:
        hash_name, tlen = "sha1", 1
    elif F[-1] == 0xCC:
        hash_name = ISO_HASH_IDS.get(F[-2], "")
        if not hash_name:
            return False, f"unknown hash identifier {F[-2]:02X}"
        tlen = 2
    else:
        return False, f"unknown trailer {F[-1]:02X}"
    hlen = HASH_LEN[hash_name]
    if len(F) < start + hlen + tlen:
        return False, "representative too short"
    m1 = F[start : len(F) - hlen - tlen]
    d = F[len(F) - hlen - tlen : len(F) - tlen]
    if hmac.compare_digest(_crypto.digest(hash_name, m1 + challenge), d):
        return True, f"iso9796-2 scheme 1, {hash_name}"
    return False, f"hash mismatch ({hash_name})"


def _rsa_verify(key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> tuple[bool, str]:
    nums = key.public_numbers()
    n, e = nums.n, nums.e
    s = int.from_bytes(signature, "big")
    if not 0 < s < n:
        return False, "signature out of range"
    m = pow(s, e, n)
    if m & 0x0F != 0x0C:  # ISO/IEC 9796-2: the signer sent min(J, n - J)
        m = n - m
    if m & 0x0F != 0x0C:
        return False, "bad representative"
    return recover_9796_2(m.to_bytes((n.bit_length() + 7) // 8, "big"), challenge)


def _ec_verify(key: ECKey, challenge: bytes, signature: bytes, hash_name: str) -> tuple[bool, str]:
    L = (key.curve.n.bit_length() + 7) // 8  # noqa: N806 - the standard's notation
    if len(signature) != 2 * L:
        return False, f"plain ECDSA signature of {len(signature)} bytes, expected {2 * L}"
    r, s = int.from_bytes(signature[:L], "big"), int.from_bytes(signature[L:], "big")
    ok = _crypto.ecdsa_verify_digest(key, _crypto.digest(hash_name, challenge), r, s, hash_name)
    return ok, f"ecdsa-plain-{hash_name} on {key.curve.name}"


def aa_verifier(
    dg15: bytes | keys.PublicKeyInfo,
    *,
    dg14: bytes | None = None,
    ecdsa_hash: str | None = None,
) -> Callable[[bytes, bytes], tuple[bool, str]]:
    """The verification of INTERNAL AUTHENTICATE answers with DG15's key:
    ``(challenge, signature) -> (ok, detail)``, for :func:`edge.icao.activeauth.active_authenticate`.

    Everything about the key is resolved here, before anything is sent: raises
    :class:`AAError` for an unusable DG15 or key, or a DG14 that names no usable hash.
    """
    spki = dg15 if isinstance(dg15, keys.PublicKeyInfo) else parse_dg15(dg15)
    try:
        key = _crypto.load_public_key(spki)
    except UnsupportedAlgorithm as e:
        raise AAError(f"DG15 key: {e}") from None
    if isinstance(key, rsa.RSAPublicKey):
        rsa_key = key
        return lambda challenge, signature: _rsa_verify(rsa_key, challenge, signature)
    try:
        from_dg14 = aa_hash_from_dg14(dg14) if dg14 and not ecdsa_hash else None
    except TrustError as e:
        raise AAError(f"DG14 for the AA hash: {e}") from None
    hash_name = ecdsa_hash or from_dg14 or default_ecdsa_hash(key.bits)
    ec_key = key
    return lambda challenge, signature: _ec_verify(ec_key, challenge, signature, hash_name)


def verify_aa(
    dg15: bytes | keys.PublicKeyInfo,
    challenge: bytes,
    signature: bytes,
    *,
    dg14: bytes | None = None,
    ecdsa_hash: str | None = None,
) -> Check:
    """Verify the chip's answer to INTERNAL AUTHENTICATE; ``aa_passed``/``aa_failed``.

    Raises :class:`AAError` for an unusable DG15 or key (not a clone verdict).
    """
    ok, detail = aa_verifier(dg15, dg14=dg14, ecdsa_hash=ecdsa_hash)(challenge, signature)
    if ok:
        return Check.make(CheckStatus.PASSED, "aa_passed", detail)
    return Check.make(CheckStatus.FAILED, "aa_failed", detail)


# --- card side ----------------------------------------------------------------------


def sign_aa_challenge(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    challenge: bytes,
    *,
    hash_name: str | None = None,
    minimal: bool = False,
) -> bytes:
    """The chip's INTERNAL AUTHENTICATE response (for the virtual card).

    RSA: ISO/IEC 9796-2 scheme 1, SHA-1 with trailer BC by default (other hashes
    use the two-byte trailer); the signature is J^d mod n, or min(J^d, n - J^d)
    with ``minimal`` (:func:`verify_aa` accepts both forms, as chips use both).
    ECDSA: plain r||s with ``hash_name`` or the hash matching the curve size.
    """
    if isinstance(private_key, rsa.RSAPrivateKey):
        h = hash_name or "sha1"
        pub = private_key.public_key().public_numbers()
        n, k = pub.n, (pub.n.bit_length() + 7) // 8
        trailer = b"\xbc" if h == "sha1" else bytes([HASH_ISO_IDS[h], 0xCC])
        m1 = os.urandom(k - 1 - HASH_LEN[h] - len(trailer))
        F = b"\x6a" + m1 + _crypto.digest(h, m1 + challenge) + trailer  # noqa: N806 - the standard's notation
        J = int.from_bytes(F, "big")  # noqa: N806 - the standard's notation
        if n <= J:
            raise AAError("modulus too small for ISO/IEC 9796-2 with this hash")
        s = pow(J, private_key.private_numbers().d, n)  # no raw RSA in cryptography
        return (min(s, n - s) if minimal else s).to_bytes(k, "big")
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        bits = private_key.curve.key_size
        h = hash_name or default_ecdsa_hash(bits)
        der = private_key.sign(challenge, ec.ECDSA(_crypto.hash_algorithm(h)))
        r, s = utils.decode_dss_signature(der)
        L = (bits + 7) // 8  # noqa: N806 - the standard's notation
        return r.to_bytes(L, "big") + s.to_bytes(L, "big")
    raise AAError(f"unsupported private key type {type(private_key).__name__}")
