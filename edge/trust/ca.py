"""Chip Authentication maths (ICAO 9303 Part 11 §6.2, BSI TR-03110): pure.

* :func:`parse_dg14` reads the SecurityInfos of DG14: ChipAuthenticationInfo
  (protocol OID -> ECDH/DH and cipher, version, keyId),
  ChipAuthenticationPublicKeyInfo (the chip's static key), and the
  ActiveAuthenticationInfo hash.
* Terminal side: :func:`start_chip_authentication` makes an ephemeral key pair
  on the chip key's domain parameters and gives the command data for
  MSE:Set KAT (CA v1, 3DES) or MSE:Set AT + GENERAL AUTHENTICATE (CA v2,
  AES), and the new secure-messaging keys once the chip accepted them.
* Card side: :func:`card_session_keys` derives the same keys from the
  terminal's ephemeral public key with the chip's static private key.

Keys come back as plain bytes with the cipher name so that the secure
messaging layer can restart under them (SSC reset to zero).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from asn1crypto import core, keys
from cryptography.hazmat.primitives.asymmetric import ec

from edge.trust import _crypto, _curves, _ecmath
from edge.trust._kdf import kdf_enc, kdf_mac
from edge.trust.errors import TrustError, UnsupportedAlgorithm
from edge.trust.result import Check, CheckStatus
from edge.trust.sod import unwrap_application

ID_CA = "0.4.0.127.0.7.2.2.3"
ID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
CIPHERS = {"1": "3DES", "2": "AES-128", "3": "AES-192", "4": "AES-256"}
#: BSI TR-03110 standardized domain parameter ids (0.4.0.127.0.7.1.2) for EC
STANDARD_CURVES = {
    8: "secp192r1", 9: "brainpoolP192r1", 10: "secp224r1", 11: "brainpoolP224r1", 12: "secp256r1",
    13: "brainpoolP256r1", 14: "brainpoolP320r1", 15: "secp384r1", 16: "brainpoolP384r1",
    17: "brainpoolP512r1", 18: "secp521r1",
}  # fmt: skip
OID_STANDARDIZED_DOMAIN_PARAMETERS = "0.4.0.127.0.7.1.2"


class CAError(TrustError):
    """DG14 or Chip Authentication input that cannot be used."""


class SecurityInfo(core.Sequence):
    _fields = [
        ("protocol", core.ObjectIdentifier),
        ("required_data", core.Any),
        ("optional_data", core.Any, {"optional": True}),
    ]


class SecurityInfos(core.SetOf):
    _child_spec = SecurityInfo


class _AlgorithmIdentifier(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class RawPublicKeyInfo(core.Sequence):
    """SubjectPublicKeyInfo with opaque parameters: DH chip keys use PKCS#3
    dhKeyAgreement (1.2.840.113549.1.3.1), which asn1crypto's keys module lacks."""

    _fields = [("algorithm", _AlgorithmIdentifier), ("public_key", core.BitString)]


class _DHParameters(core.Sequence):
    # PKCS#3 DHParameter {p, g, privateValueLength} and X9.42 DomainParameters
    # {p, g, q, ...}: only p and g are needed for the agreement.
    _fields = [
        ("p", core.Integer),
        ("g", core.Integer),
        ("third", core.Integer, {"optional": True}),
        ("rest", core.Any, {"optional": True}),
        ("rest2", core.Any, {"optional": True}),
    ]


OID_X942_DH = "1.2.840.10046.2.1"


@dataclass(frozen=True)
class DHGroup:
    """Finite-field DH group of a chip key (cryptography deprecates FFDH: plain ints here)."""

    p: int
    g: int
    q: int | None = None


def parse_security_infos(data: bytes) -> list[tuple[str, bytes, bytes | None]]:
    """(protocol OID, requiredData DER, optionalData DER or None) of DG14 / EF.CardAccess."""
    try:
        inner = unwrap_application(data, 14)
        infos = SecurityInfos.load(inner if inner is not None else data)
        out = []
        for si in infos:
            opt = si["optional_data"]
            out.append(
                (si["protocol"].dotted, si["required_data"].dump(), None if isinstance(opt, core.Void) else opt.dump())
            )
        return out
    except Exception as e:  # asn1crypto raises assorted errors on junk
        raise CAError(f"malformed SecurityInfos: {type(e).__name__}: {e}") from None


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    oid: str
    agreement: str  # "ECDH" | "DH"
    cipher: str  # "3DES" | "AES-128" | "AES-192" | "AES-256"
    version: int
    key_id: int | None


@dataclass(frozen=True)
class ChipAuthenticationPublicKey:
    agreement: str
    public_key: keys.PublicKeyInfo | RawPublicKeyInfo  # RawPublicKeyInfo for DH
    key_id: int | None


@dataclass(frozen=True)
class DG14:
    ca_infos: tuple[ChipAuthenticationInfo, ...] = ()
    ca_public_keys: tuple[ChipAuthenticationPublicKey, ...] = ()
    aa_signature_oid: str | None = None
    other_protocols: tuple[str, ...] = field(default=())

    def chip_authentication(self) -> tuple[ChipAuthenticationInfo, ChipAuthenticationPublicKey]:
        """The (info, key) pair to use: matched by keyId; with no
        ChipAuthenticationInfo, CA v1 with 3DES is implied (ICAO 9303 Part 11)."""
        if not self.ca_public_keys:
            raise CAError("DG14 has no ChipAuthenticationPublicKeyInfo")
        for info in self.ca_infos:
            for pk in self.ca_public_keys:
                if pk.agreement == info.agreement and (info.key_id is None or pk.key_id == info.key_id):
                    return info, pk
        pk = self.ca_public_keys[0]
        if self.ca_infos:
            raise CAError("no ChipAuthenticationPublicKeyInfo matches the ChipAuthenticationInfo")
        oid = f"{ID_CA}.{'2' if pk.agreement == 'ECDH' else '1'}.1"
        return ChipAuthenticationInfo(oid, pk.agreement, "3DES", 1, pk.key_id), pk


def _int_or_none(der: bytes | None) -> int | None:
    if der is None:
        return None
    return core.Integer.load(der).native


def parse_dg14(data: bytes) -> DG14:
    """Parse DG14 (``6E`` wrapper optional); raises :class:`CAError`."""
    infos: list[ChipAuthenticationInfo] = []
    pks: list[ChipAuthenticationPublicKey] = []
    aa_oid = None
    others: list[str] = []
    try:
        for oid, req, opt in parse_security_infos(data):
            if oid.startswith(ID_CA + "."):
                parts = oid[len(ID_CA) + 1 :].split(".")
                if len(parts) != 2 or parts[0] not in ("1", "2") or parts[1] not in CIPHERS:
                    others.append(oid)
                    continue
                infos.append(
                    ChipAuthenticationInfo(
                        oid, "DH" if parts[0] == "1" else "ECDH", CIPHERS[parts[1]], core.Integer.load(req).native,
                        _int_or_none(opt),
                    )
                )  # fmt: skip
            elif oid in (ID_PK_DH, ID_PK_ECDH):
                spki = keys.PublicKeyInfo.load(req) if oid == ID_PK_ECDH else RawPublicKeyInfo.load(req)
                spki.native
                pks.append(ChipAuthenticationPublicKey("DH" if oid == ID_PK_DH else "ECDH", spki, _int_or_none(opt)))
            elif oid == "2.23.136.1.1.5":  # ActiveAuthenticationInfo
                if opt is not None:
                    aa_oid = core.ObjectIdentifier.load(opt).dotted
            else:
                others.append(oid)
    except CAError:
        raise
    except Exception as e:
        raise CAError(f"malformed DG14 entry: {type(e).__name__}: {e}") from None
    return DG14(tuple(infos), tuple(pks), aa_oid, tuple(others))


# --- domain parameters and agreement ----------------------------------------------------


def _ec_curve(spki: keys.PublicKeyInfo) -> _curves.Curve:
    params = spki["algorithm"]["parameters"]
    alg = spki["algorithm"]["algorithm"].dotted
    if alg == OID_STANDARDIZED_DOMAIN_PARAMETERS:
        ident = core.Integer.load(params.dump()).native
        name = STANDARD_CURVES.get(ident)
        if name is None:
            raise UnsupportedAlgorithm(f"standardized domain parameters {ident}")
        return _curves.BY_NAME[name]
    key = _crypto.load_public_key(spki)
    if not isinstance(key, _crypto.ECKey):
        raise UnsupportedAlgorithm("not an EC key")
    return key.curve


def _ec_point(spki: keys.PublicKeyInfo) -> bytes:
    return spki["public_key"].native if spki["algorithm"]["algorithm"].native == "ec" else spki["public_key"].contents[1:]


def _dh_numbers(spki: "keys.PublicKeyInfo | RawPublicKeyInfo") -> tuple[DHGroup, int]:
    raw = RawPublicKeyInfo.load(spki.dump())
    params = _DHParameters.load(raw["algorithm"]["parameters"].dump())
    p, g = params["p"].native, params["g"].native
    q = params["third"].native if raw["algorithm"]["algorithm"].dotted == OID_X942_DH else None
    y = core.Integer.load(bytes(raw["public_key"].contents[1:])).native  # skip the unused-bits byte
    return DHGroup(p, g, q), y


def _ecdh_x(curve: _curves.Curve, scalar: int, point: bytes) -> bytes:
    """x-coordinate of scalar * point (the ECDH shared secret, ICAO/BSI TR-03111)."""
    if curve.crypto is not None:
        c = getattr(ec, curve.crypto)()
        priv = ec.derive_private_key(scalar, c)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(c, point)
        return priv.exchange(ec.ECDH(), peer)
    S = _ecmath.mul(curve, scalar, _ecmath.decode_point(curve, point))
    if S is None:
        raise CAError("shared point at infinity")
    return S[0].to_bytes(curve.byte_len, "big")


def _ec_public(curve: _curves.Curve, scalar: int) -> bytes:
    if curve.crypto is not None:
        key = ec.derive_private_key(scalar, getattr(ec, curve.crypto)())
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    P = _ecmath.mul(curve, scalar, (curve.gx, curve.gy))
    assert P is not None
    return _ecmath.encode_point(curve, P)


def _dh_shared(numbers: DHGroup, x: int, y_peer: int) -> bytes:
    p = numbers.p
    if not 1 < y_peer < p - 1:
        raise CAError("invalid DH public value")
    # One modular exponentiation; cryptography's FFDH is deprecated.
    return pow(y_peer, x, p).to_bytes((p.bit_length() + 7) // 8, "big")


@dataclass(frozen=True)
class CASessionKeys:
    """New secure-messaging keys after Chip Authentication (SSC restarts at 0)."""

    cipher: str
    k_enc: bytes
    k_mac: bytes
    shared_secret: bytes


def _keys(shared: bytes, cipher: str) -> CASessionKeys:
    return CASessionKeys(cipher, kdf_enc(shared, cipher), kdf_mac(shared, cipher), shared)


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + value


@dataclass
class TerminalCA:
    """Terminal side of one Chip Authentication run."""

    info: ChipAuthenticationInfo
    chip_key: ChipAuthenticationPublicKey
    ephemeral_public: bytes  # uncompressed EC point, or DH public value (len(p) bytes)
    _secret: int = field(repr=False)

    @property
    def uses_mse_set_kat(self) -> bool:
        """CA v1 with 3DES uses MSE:Set KAT; otherwise MSE:Set AT + GENERAL AUTHENTICATE."""
        return self.info.cipher == "3DES"

    def _key_ref(self) -> bytes:
        kid = self.info.key_id if self.info.key_id is not None else self.chip_key.key_id
        if kid is None:
            return b""
        return _tlv(0x84, kid.to_bytes(max(1, (kid.bit_length() + 7) // 8), "big"))

    def mse_set_kat_data(self) -> bytes:
        """Data of MSE:Set KAT (00 22 41 A6): 91 ephemeral key [84 keyId]."""
        return _tlv(0x91, self.ephemeral_public) + self._key_ref()

    def mse_set_at_data(self) -> bytes:
        """Data of MSE:Set AT (00 22 41 A4): 80 CA OID [84 keyId]."""
        oid = core.ObjectIdentifier(self.info.oid).dump()[2:]  # value only
        return _tlv(0x80, oid) + self._key_ref()

    def general_authenticate_data(self) -> bytes:
        """Data of GENERAL AUTHENTICATE (00 86 00 00): 7C { 80 ephemeral key }."""
        return _tlv(0x7C, _tlv(0x80, self.ephemeral_public))

    def session_keys(self) -> CASessionKeys:
        spki = self.chip_key.public_key
        if self.info.agreement == "ECDH":
            shared = _ecdh_x(_ec_curve(spki), self._secret, _ec_point(spki))
        else:
            numbers, y = _dh_numbers(spki)
            shared = _dh_shared(numbers, self._secret, y)
        return _keys(shared, self.info.cipher)


def start_chip_authentication(dg14: bytes | DG14) -> TerminalCA:
    """Ephemeral key pair on the chip key's domain parameters, ready for the APDUs."""
    parsed = dg14 if isinstance(dg14, DG14) else parse_dg14(dg14)
    info, pk = parsed.chip_authentication()
    spki = pk.public_key
    if info.agreement == "ECDH":
        curve = _ec_curve(spki)
        d = secrets.randbelow(curve.n - 1) + 1
        return TerminalCA(info, pk, _ec_public(curve, d), d)
    numbers, _y = _dh_numbers(spki)
    bound = (numbers.q or numbers.p) - 1
    x = secrets.randbelow(bound - 1) + 1
    p = numbers.p
    return TerminalCA(info, pk, pow(numbers.g, x, p).to_bytes((p.bit_length() + 7) // 8, "big"), x)


# --- card side ------------------------------------------------------------------------


def _private_scalar(private_key: bytes | int | ec.EllipticCurvePrivateKey) -> int:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.private_numbers().private_value
    if isinstance(private_key, int):
        return private_key
    # PKCS#8 DER: parsed with asn1crypto because cryptography refuses keys on
    # curves it lacks (the BSI DG14 key is on brainpoolP224r1).
    try:
        pki = keys.PrivateKeyInfo.load(private_key)
        inner = pki["private_key"].parsed
        if pki["private_key_algorithm"]["algorithm"].native == "ec":
            return inner["private_key"].native
        return inner.native  # DH: INTEGER x
    except Exception as e:
        raise CAError(f"unreadable private key: {type(e).__name__}: {e}") from None


def card_session_keys(
    private_key: bytes | int | ec.EllipticCurvePrivateKey,
    dg14: bytes | DG14,
    terminal_public: bytes,
) -> CASessionKeys:
    """Chip side: the keys derived from the terminal's ephemeral public key.

    ``private_key``: PKCS#8 DER (EC or DH), a cryptography EC key, or the scalar.
    """
    parsed = dg14 if isinstance(dg14, DG14) else parse_dg14(dg14)
    info, pk = parsed.chip_authentication()
    scalar = _private_scalar(private_key)
    if info.agreement == "ECDH":
        shared = _ecdh_x(_ec_curve(pk.public_key), scalar, terminal_public)
    else:
        numbers, _ = _dh_numbers(pk.public_key)
        shared = _dh_shared(numbers, scalar, int.from_bytes(terminal_public, "big"))
    return _keys(shared, info.cipher)


def chip_authentication_check(succeeded: bool, detail: str | None = None) -> Check:
    """The CA check for a TrustResult: CA succeeded when the chip answered a
    secure-messaging command correctly under the new session keys (known to the
    SM layer, not here)."""
    if succeeded:
        return Check.make(CheckStatus.PASSED, "ca_passed", detail)
    return Check.make(CheckStatus.FAILED, "ca_failed", detail)
