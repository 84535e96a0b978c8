"""Card side of Chip Authentication and Active Authentication for VirtualCard.

Only the APDU handling lives here; the maths is the product's own, in
:mod:`edge.trust` (one implementation for both sides):

* Active Authentication (ICAO 9303-11 §6.1): INTERNAL AUTHENTICATE (88) with
  an 8-byte challenge, answered by :func:`edge.trust.aa.sign_aa_challenge`
  (RSA: ISO/IEC 9796-2 scheme 1, SHA-1, trailer BC; EC: plain r || s over the
  hash DG14's ActiveAuthenticationInfo names, else the one matching the key).
* Chip Authentication (9303-11 §6.2), ECDH: with 3DES through MSE:Set KAT
  (22 41A6, public key in DO'91'), with AES through MSE:Set AT (22 41A4) then
  GENERAL AUTHENTICATE (86, public key in DO'80'). The answer goes out under
  the old keys, then the card switches to the keys of
  :func:`edge.trust.ca.card_ecdh_session_keys` with SSC 0 (``card.pending_sm``).
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from edge.icao import groups, tlv
from edge.icao.apdu import CommandApdu, ResponseApdu
from edge.icao.errors import TlvError
from edge.icao.groups import CurveParams
from edge.icao.lds.security_infos import ID_CA
from edge.icao.lds.tags import dg_fid
from edge.trust.aa import AAError, aa_hash_from_dg14, sign_aa_challenge
from edge.trust.ca import CIPHERS, CAError, card_ecdh_session_keys
from simulators.vcard.card import CardHandler, VirtualCard


def active_authentication_handler(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> CardHandler:
    """INTERNAL AUTHENTICATE handler for the DG15 private key."""

    def handle(card: VirtualCard, cmd: CommandApdu) -> ResponseApdu:
        if len(cmd.data) != 8:
            return ResponseApdu(b"", 0x6700)
        hash_name = None
        if isinstance(key, ec.EllipticCurvePrivateKey) and dg_fid(14) in card.files:
            try:  # sign with the hash the card's own DG14 announces
                hash_name = aa_hash_from_dg14(card.files[dg_fid(14)])
            except CAError:
                hash_name = None
        try:
            return ResponseApdu(sign_aa_challenge(key, cmd.data, hash_name=hash_name), 0x9000)
        except AAError:
            return ResponseApdu(b"", 0x6F00)

    return handle


@dataclass
class EcKey:
    """A static EC private key on one of the known curves."""

    curve: CurveParams
    d: int

    @property
    def public(self) -> bytes:
        return self.curve.encode(self.curve.mul(self.d, self.curve.generator))


def load_ec_private_key(pkcs8_der: bytes) -> EcKey:
    """Load a PKCS#8 EC key, named or with explicit parameters (as in the BSI
    test set, whose brainpoolP224r1 key ``cryptography`` cannot load)."""
    info = asn1_keys.PrivateKeyInfo.load(pkcs8_der)
    params = info["private_key_algorithm"]["parameters"]
    d = info["private_key"].parsed["private_key"].native
    if params.name == "named":
        curve = groups.BY_OID.get(params.chosen.dotted)
        if curve is None:
            raise ValueError(f"unsupported named curve {params.chosen.native}")
        return EcKey(curve, d)
    spec = params.chosen
    base = spec["base"].native
    size = (spec["field_id"]["parameters"].native.bit_length() + 7) // 8
    matched = groups.match_explicit(
        spec["field_id"]["parameters"].native,
        int.from_bytes(spec["curve"]["a"].native, "big"),
        int.from_bytes(spec["curve"]["b"].native, "big"),
        int.from_bytes(base[1 : 1 + size], "big"),
        int.from_bytes(base[1 + size :], "big"),
        spec["order"].native,
    )
    if matched is None:
        raise ValueError("explicit curve is not a standard one")
    return EcKey(matched, d)


def as_ec_key(key: object) -> EcKey:
    """EcKey from an EcKey, a ``cryptography`` EC private key or PKCS#8 DER."""
    if isinstance(key, EcKey):
        return key
    if isinstance(key, (bytes, bytearray)):
        return load_ec_private_key(bytes(key))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = groups.BY_NAME.get(key.curve.name)
        if curve is not None:
            return EcKey(curve, key.private_numbers().private_value)
    raise ValueError("unsupported Chip Authentication private key")


def chip_authentication_handlers(key: EcKey, protocol: str) -> dict[int, CardHandler]:
    """Handlers for MSE (22) and GENERAL AUTHENTICATE (86) under SM.

    ``protocol`` is the ChipAuthenticationInfo OID of DG14, e.g.
    0.4.0.127.0.7.2.2.3.2.2 for ECDH with AES-128.
    """
    arcs = protocol.split(".")
    if not protocol.startswith(ID_CA + ".2.") or arcs[-1] not in CIPHERS:
        raise ValueError(f"unsupported Chip Authentication protocol {protocol}")
    cipher = CIPHERS[arcs[-1]]
    state: dict[str, bool] = {"set": False}

    def derive(card: VirtualCard, pk_ifd: bytes) -> ResponseApdu | None:
        try:
            keys = card_ecdh_session_keys(key.curve, key.d, pk_ifd, cipher)
        except CAError:
            return ResponseApdu(b"", 0x6A80)
        card.pending_sm = keys.sm_context()
        return None

    def mse(card: VirtualCard, cmd: CommandApdu) -> ResponseApdu:
        try:
            objs = tlv.decode_all(cmd.data)
        except TlvError:
            return ResponseApdu(b"", 0x6A80)
        if (cmd.p1, cmd.p2) == (0x41, 0xA6):  # Set KAT (3DES)
            pk = tlv.find(objs, 0x91)
            if pk is None:
                return ResponseApdu(b"", 0x6A80)
            return derive(card, pk.value) or ResponseApdu(b"", 0x9000)
        if (cmd.p1, cmd.p2) == (0x41, 0xA4):  # Set AT (AES), GA follows
            state["set"] = True
            return ResponseApdu(b"", 0x9000)
        return ResponseApdu(b"", 0x6A86)

    def ga(card: VirtualCard, cmd: CommandApdu) -> ResponseApdu:
        if not state["set"]:
            return ResponseApdu(b"", 0x6985)
        state["set"] = False
        try:
            outer, _ = tlv.decode(cmd.data)
            pk = tlv.find(outer.children(), 0x80)
        except TlvError:
            return ResponseApdu(b"", 0x6A80)
        if outer.tag != 0x7C or pk is None:
            return ResponseApdu(b"", 0x6A80)
        return derive(card, pk.value) or ResponseApdu(b"\x7c\x00", 0x9000)

    return {0x22: mse, 0x86: ga}
