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

from edge.icao import crypto, der, groups, tlv
from edge.icao.chipauth import ChipAuthRequest
from edge.icao.errors import IcaoError
from edge.icao.groups import CurveParams
from edge.icao.lds import security_infos as si
from edge.icao.lds.dg14 import parse_dg14 as parse_dg14_infos
from edge.icao.sm import SmContext
from edge.trust import _crypto
from edge.trust.errors import TrustError, UnsupportedAlgorithm
from edge.trust.result import Check, CheckStatus

ID_CA = si.ID_CA
ID_PK_DH = si.ID_PK + ".1"
ID_PK_ECDH = si.ID_PK + ".2"
CIPHERS = {"1": "3DES", "2": "AES-128", "3": "AES-192", "4": "AES-256"}
#: cipher name -> the secure-messaging suite of :mod:`edge.icao.crypto`
CIPHER_SPECS = {"3DES": crypto.TDES, "AES-128": crypto.AES128, "AES-192": crypto.AES192, "AES-256": crypto.AES256}
OID_STANDARDIZED_DOMAIN_PARAMETERS = "0.4.0.127.0.7.1.2"


class CAError(TrustError):
    """DG14 or Chip Authentication input that cannot be used."""


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]  # noqa: RUF012 - asn1crypto's class-level spec


class RawPublicKeyInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """SubjectPublicKeyInfo with opaque parameters: DH chip keys use PKCS#3
    dhKeyAgreement (1.2.840.113549.1.3.1), which asn1crypto's keys module lacks."""

    _fields = [("algorithm", _AlgorithmIdentifier), ("public_key", core.BitString)]  # noqa: RUF012 - asn1crypto's class-level spec


class _DHParameters(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    # PKCS#3 DHParameter {p, g, privateValueLength} and X9.42 DomainParameters
    # {p, g, q, ...}: only p and g are needed for the agreement.
    _fields = [  # noqa: RUF012 - asn1crypto's class-level spec
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


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    """A ChipAuthenticationInfo of DG14 resolved to what the protocol needs."""

    oid: str
    agreement: str  # "ECDH" | "DH"
    cipher: str  # "3DES" | "AES-128" | "AES-192" | "AES-256"
    version: int
    key_id: int | None

    @property
    def cipher_spec(self) -> crypto.CipherSpec:
        return CIPHER_SPECS[self.cipher]


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


def dg14_security_infos(data: bytes) -> si.SecurityInfos:
    """SecurityInfos of DG14 (``6E`` wrapper optional) through the one LDS parser."""
    try:
        if data[:1] == b"\x6e":
            return parse_dg14_infos(data)
        return si.parse_security_infos(data)
    except IcaoError as e:
        raise CAError(f"malformed SecurityInfos: {e}") from None


def parse_dg14(data: bytes | si.SecurityInfos) -> DG14:
    """DG14 resolved for Chip Authentication (``6E`` wrapper optional); raises :class:`CAError`.

    Built on :func:`edge.icao.lds.dg14.parse_dg14`: entries the LDS parser could
    not type, and protocols other than CA/AA, are listed in ``other_protocols``.
    """
    parsed = data if isinstance(data, si.SecurityInfos) else dg14_security_infos(data)
    infos: list[ChipAuthenticationInfo] = []
    pks: list[ChipAuthenticationPublicKey] = []
    aa_oid = None
    others: list[str] = []
    try:
        for item in parsed.infos:
            if isinstance(item, si.ChipAuthenticationInfo):
                parts = item.protocol[len(ID_CA) + 1 :].split(".")
                if len(parts) != 2 or parts[0] not in ("1", "2") or parts[1] not in CIPHERS:
                    others.append(item.protocol)
                    continue
                agreement = "DH" if parts[0] == "1" else "ECDH"
                infos.append(
                    ChipAuthenticationInfo(item.protocol, agreement, CIPHERS[parts[1]], item.version, item.key_id)
                )
            elif isinstance(item, si.ChipAuthenticationPublicKeyInfo) and item.protocol in (ID_PK_DH, ID_PK_ECDH):
                der_spki = item.subject_public_key_info
                loader = keys.PublicKeyInfo if item.protocol == ID_PK_ECDH else RawPublicKeyInfo
                spki = loader.load(der_spki)
                _ = spki.native  # parse now: junk raises here, not later
                agreement = "DH" if item.protocol == ID_PK_DH else "ECDH"
                pks.append(ChipAuthenticationPublicKey(agreement, spki, item.key_id))
            elif isinstance(item, si.ActiveAuthenticationInfo):
                aa_oid = item.signature_algorithm or aa_oid
            else:
                others.append(item.protocol)
    except Exception as e:  # asn1crypto raises assorted errors on junk
        raise CAError(f"malformed DG14 entry: {type(e).__name__}: {e}") from None
    return DG14(tuple(infos), tuple(pks), aa_oid, tuple(others))


# --- domain parameters and agreement ----------------------------------------------------


def _ec_curve(spki: keys.PublicKeyInfo) -> CurveParams:
    params = spki["algorithm"]["parameters"]
    alg = spki["algorithm"]["algorithm"].dotted
    if alg == OID_STANDARDIZED_DOMAIN_PARAMETERS:
        ident = core.Integer.load(params.dump()).native
        curve = groups.CURVES.get(ident)
        if curve is None:
            raise UnsupportedAlgorithm(f"standardized domain parameters {ident}")
        return curve
    key = _crypto.load_public_key(spki)
    if not isinstance(key, _crypto.ECKey):
        raise UnsupportedAlgorithm("not an EC key")
    return key.curve


def _ec_point(spki: keys.PublicKeyInfo) -> bytes:
    if spki["algorithm"]["algorithm"].native == "ec":
        return bytes(spki["public_key"].native)
    return bytes(spki["public_key"].contents[1:])


def _dh_numbers(spki: keys.PublicKeyInfo | RawPublicKeyInfo) -> tuple[DHGroup, int]:
    raw = RawPublicKeyInfo.load(spki.dump())
    params = _DHParameters.load(raw["algorithm"]["parameters"].dump())
    p, g = params["p"].native, params["g"].native
    q = params["third"].native if raw["algorithm"]["algorithm"].dotted == OID_X942_DH else None
    y = core.Integer.load(bytes(raw["public_key"].contents[1:])).native  # skip the unused-bits byte
    return DHGroup(p, g, q), y


def _ecdh_x(curve: CurveParams, scalar: int, point: bytes) -> bytes:
    """x-coordinate of scalar * point (the ECDH shared secret, ICAO/BSI TR-03111)."""
    if curve.crypto is not None:
        c = getattr(ec, curve.crypto)()
        priv = ec.derive_private_key(scalar, c)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(c, point)
        return priv.exchange(ec.ECDH(), peer)
    try:
        S = curve.mul(scalar, curve.decode(point))  # noqa: N806 - the standard's notation
    except ValueError as e:
        raise CAError(f"invalid peer public key: {e}") from None
    if S is None:
        raise CAError("shared point at infinity")
    return S[0].to_bytes(curve.size, "big")


def _ec_public(curve: CurveParams, scalar: int) -> bytes:
    if curve.crypto is not None:
        key = ec.derive_private_key(scalar, getattr(ec, curve.crypto)())
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return curve.encode(curve.mul(scalar, curve.generator))


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
    k_enc: bytes = field(repr=False)
    k_mac: bytes = field(repr=False)
    shared_secret: bytes = field(repr=False)

    def sm_context(self) -> SmContext:
        """A fresh secure-messaging context under these keys (SSC 0)."""
        return SmContext(CIPHER_SPECS[self.cipher], self.k_enc, self.k_mac, 0)


def _keys(shared: bytes, cipher: str) -> CASessionKeys:
    spec = CIPHER_SPECS[cipher]
    k_enc, k_mac = crypto.kdf(shared, crypto.KDF_ENC, spec), crypto.kdf(shared, crypto.KDF_MAC, spec)
    return CASessionKeys(cipher, k_enc, k_mac, shared)


_tlv = tlv.encode


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
        return _tlv(0x80, der.encode_oid(self.info.oid)) + self._key_ref()

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


def chip_authentication_request(dg14: bytes | DG14) -> ChipAuthRequest:
    """Everything the terminal sends and switches to in one Chip Authentication,
    computed before any APDU (for :func:`edge.icao.chipauth.chip_authenticate`).

    Raises :class:`CAError` for a DG14 (or chip key) that cannot be used, or
    :class:`UnsupportedAlgorithm` for domain parameters not implemented here.
    """
    try:
        terminal = start_chip_authentication(dg14)
        new_session = terminal.session_keys().sm_context()
    except ValueError as e:  # cryptography refusing the chip's key or parameters
        raise CAError(f"chip key: {e}") from None
    description = f"{terminal.info.agreement} {terminal.info.cipher}"
    if terminal.uses_mse_set_kat:
        return ChipAuthRequest(description, terminal.info.cipher, new_session, mse_set_kat=terminal.mse_set_kat_data())
    return ChipAuthRequest(
        description, terminal.info.cipher, new_session,
        mse_set_at=terminal.mse_set_at_data(), general_authenticate=terminal.general_authenticate_data(),
    )


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
            return int(inner["private_key"].native)
        return int(inner.native)  # DH: INTEGER x
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


def card_ecdh_session_keys(curve: CurveParams, scalar: int, terminal_public: bytes, cipher: str) -> CASessionKeys:
    """Chip side of ECDH Chip Authentication from a curve and scalar: the one
    key derivation the virtual card's MSE / GENERAL AUTHENTICATE handlers use.
    Raises :class:`CAError` for a terminal key that is not on the curve."""
    return _keys(_ecdh_x(curve, scalar, terminal_public), cipher)


def chip_authentication_check(succeeded: bool, detail: str | None = None) -> Check:
    """The CA check for a TrustResult: CA succeeded when the chip answered a
    secure-messaging command correctly under the new session keys (known to the
    SM layer, not here)."""
    if succeeded:
        return Check.make(CheckStatus.PASSED, "ca_passed", detail)
    return Check.make(CheckStatus.FAILED, "ca_failed", detail)
