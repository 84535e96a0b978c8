"""Public keys and signature verification for the trust package.

asn1crypto describes the structures, ``cryptography`` does the mathematics.
Two gaps are bridged here: EC keys with *explicit* domain parameters (common in
eMRTD certificates, which ``cryptography`` refuses to load) are mapped back to
their named curve by comparing p, a, b, G and n; and curves ``cryptography``
does not implement at all (brainpoolP224r1...) use the arithmetic of
:mod:`edge.icao.groups`, the product's one curve module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import algos, core, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from edge.icao import groups
from edge.icao.groups import CurveParams
from edge.trust.errors import UnsupportedAlgorithm

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    try:
        return HASHES[name]()
    except KeyError:
        raise UnsupportedAlgorithm(f"hash algorithm {name!r}") from None


def digest(name: str, data: bytes) -> bytes:
    if name not in HASHES:
        raise UnsupportedAlgorithm(f"hash algorithm {name!r}")
    return hashlib.new(name, data).digest()


@dataclass(frozen=True)
class ECKey:
    """An EC public key on a known curve: ``key`` is set when cryptography supports it."""

    curve: CurveParams
    point: bytes  # SEC1 encoding as found in the certificate
    key: ec.EllipticCurvePublicKey | None

    @property
    def bits(self) -> int:
        return self.curve.n.bit_length()


PublicKey = rsa.RSAPublicKey | ECKey


def _curve_of(params: keys.ECDomainParameters) -> CurveParams:
    kind = params.name
    if kind == "named":
        oid = params.chosen.dotted
        curve = groups.BY_OID.get(oid)
        if curve is None:
            raise UnsupportedAlgorithm(f"named curve {oid}")
        return curve
    if kind == "specified":
        spec = params.chosen
        if spec["field_id"]["field_type"].native != "prime_field":
            raise UnsupportedAlgorithm("characteristic-two curves")
        p = spec["field_id"]["parameters"].native
        a = int.from_bytes(spec["curve"]["a"].native, "big")
        b = int.from_bytes(spec["curve"]["b"].native, "big")
        G = spec["base"].native  # noqa: N806 - the standard's notation
        L = (p.bit_length() + 7) // 8  # noqa: N806 - the standard's notation
        if len(G) != 1 + 2 * L or G[0] != 4:
            raise UnsupportedAlgorithm("compressed or malformed base point")
        gx, gy = int.from_bytes(G[1 : 1 + L], "big"), int.from_bytes(G[1 + L :], "big")
        curve = groups.match_explicit(p, a, b, gx, gy, spec["order"].native)
        if curve is None:
            raise UnsupportedAlgorithm("explicit EC parameters of an unknown curve")
        return curve
    raise UnsupportedAlgorithm("implicitly-CA EC parameters")


def ec_key_from_point(curve: CurveParams, point: bytes) -> ECKey:
    if curve.crypto is not None:
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(getattr(ec, curve.crypto)(), point)
        except ValueError as e:
            raise UnsupportedAlgorithm(f"invalid EC point: {e}") from None
        return ECKey(curve, point, key)
    try:
        curve.decode(point)
    except ValueError as e:
        raise UnsupportedAlgorithm(str(e)) from None
    return ECKey(curve, point, None)


def load_public_key(spki: keys.PublicKeyInfo) -> PublicKey:
    """A verifying key for an asn1crypto SubjectPublicKeyInfo."""
    try:
        algo = spki["algorithm"]["algorithm"].native
        if algo in ("rsa", "rsassa_pss"):
            # Built from the numbers: works whatever the RSA algorithm parameters say.
            pk = spki["public_key"].parsed
            return rsa.RSAPublicNumbers(pk["public_exponent"].native, pk["modulus"].native).public_key()
        if algo == "ec":
            curve = _curve_of(spki["algorithm"]["parameters"])
            return ec_key_from_point(curve, spki["public_key"].native)
    except UnsupportedAlgorithm:
        raise
    except Exception as e:  # asn1crypto/cryptography on junk: ValueError, OverflowError...
        raise UnsupportedAlgorithm(f"unreadable public key: {type(e).__name__}: {e}") from None
    raise UnsupportedAlgorithm(f"public key algorithm {algo!r}")


def key_description(key: PublicKey) -> str:
    if isinstance(key, ECKey):
        return f"EC {key.curve.name}"
    return f"RSA {key.key_size}"


# --- signatures --------------------------------------------------------------

_PLAIN_ECDSA_OIDS = {"1.2.840.10045.2.1"}  # id-ecPublicKey used as a signature algorithm


@dataclass(frozen=True)
class SignatureScheme:
    """What a SignedDigestAlgorithm means: scheme, hash, and PSS parameters."""

    scheme: str  # "pkcs1v15" | "pss" | "ecdsa"
    hash: str
    pss_mgf_hash: str | None = None
    pss_salt: int | None = None

    def describe(self) -> str:
        if self.scheme == "pss":
            return f"rsassa-pss({self.hash}, mgf1-{self.pss_mgf_hash}, salt {self.pss_salt})"
        return f"{self.scheme}-{self.hash}"


def scheme_of(sig_alg: algos.SignedDigestAlgorithm, default_hash: str | None = None) -> SignatureScheme:
    """Resolve a signature AlgorithmIdentifier; ``default_hash`` fills in for
    bare ``rsaEncryption``/``id-ecPublicKey`` (the SignerInfo's digest algorithm)."""
    oid = sig_alg["algorithm"].dotted
    try:
        name = sig_alg.signature_algo
    except ValueError:
        name = "ecdsa" if oid in _PLAIN_ECDSA_OIDS else None
    if name is None:
        raise UnsupportedAlgorithm(f"signature algorithm {oid}")
    if name == "rsassa_pss":
        params = sig_alg["parameters"]
        h = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise UnsupportedAlgorithm("PSS mask generation other than MGF1")
        mgf_hash = mgf["parameters"]["algorithm"].native
        return SignatureScheme("pss", h, mgf_hash, params["salt_length"].native)
    try:
        h = sig_alg.hash_algo
    except ValueError:
        h = default_hash
    if h is None:
        raise UnsupportedAlgorithm(f"no hash algorithm for {oid}")
    if name == "rsassa_pkcs1v15":
        return SignatureScheme("pkcs1v15", h)
    if name == "ecdsa":
        return SignatureScheme("ecdsa", h)
    raise UnsupportedAlgorithm(f"signature algorithm {name}")


def _ecdsa_rs(signature: bytes, byte_len: int) -> tuple[int, int]:
    """(r, s) from a DER Ecdsa-Sig-Value, or from plain r||s (some cards/SODs)."""
    try:
        seq = algos.DSASignature.load(signature, strict=True)
        return seq["r"].native, seq["s"].native
    except (ValueError, TypeError):
        if len(signature) % 2 == 0 and len(signature) // 2 <= byte_len + 1:
            half = len(signature) // 2
            return int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        raise InvalidSignature("malformed ECDSA signature") from None


def ecdsa_verify_digest(key: ECKey, digest_bytes: bytes, r: int, s: int, hash_name: str) -> bool:
    if key.key is not None:
        try:
            key.key.verify(
                utils.encode_dss_signature(r, s),
                digest_bytes,
                ec.ECDSA(utils.Prehashed(hash_algorithm(hash_name))),
            )
            return True
        except InvalidSignature:
            return False
    return key.curve.ecdsa_verify(key.curve.decode(key.point), digest_bytes, r, s)


def verify(key: PublicKey, scheme: SignatureScheme, data: bytes, signature: bytes) -> bool:
    """True if ``signature`` over ``data`` verifies; False if not.

    Raises UnsupportedAlgorithm when the key and scheme do not fit together.
    """
    if scheme.scheme in ("pkcs1v15", "pss"):
        if not isinstance(key, rsa.RSAPublicKey):
            raise UnsupportedAlgorithm(f"{scheme.scheme} signature with a non-RSA key")
        if scheme.scheme == "pkcs1v15":
            pad: padding.AsymmetricPadding = padding.PKCS1v15()
        else:
            pad = padding.PSS(
                mgf=padding.MGF1(hash_algorithm(scheme.pss_mgf_hash or scheme.hash)),
                salt_length=scheme.pss_salt if scheme.pss_salt is not None else 20,
            )
        try:
            key.verify(signature, data, pad, hash_algorithm(scheme.hash))
            return True
        except InvalidSignature:
            return False
    if scheme.scheme == "ecdsa":
        if not isinstance(key, ECKey):
            raise UnsupportedAlgorithm("ECDSA signature with a non-EC key")
        try:
            r, s = _ecdsa_rs(signature, key.curve.size)
        except InvalidSignature:
            return False
        return ecdsa_verify_digest(key, digest(scheme.hash, data), r, s, scheme.hash)
    raise UnsupportedAlgorithm(scheme.scheme)


def verify_certificate_signature(cert: core.Asn1Value, issuer_key: PublicKey) -> bool:
    """Whether ``cert`` (asn1crypto x509.Certificate or crl.CertificateList) was
    signed by ``issuer_key``."""
    if "tbs_certificate" in cert:
        tbs, sig = cert["tbs_certificate"], cert["signature_value"]
    else:  # CRL
        tbs, sig = cert["tbs_cert_list"], cert["signature"]
    scheme = scheme_of(cert["signature_algorithm"])
    return verify(issuer_key, scheme, tbs.dump(), sig.native)
