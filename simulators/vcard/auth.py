"""Card side of Chip Authentication and Active Authentication for VirtualCard.

* Active Authentication (ICAO 9303-11 §6.1): INTERNAL AUTHENTICATE (88) with
  an 8-byte challenge. RSA keys sign with ISO/IEC 9796-2 digital signature
  scheme 1 (partial message recovery, SHA-1, trailer BC); EC keys answer a
  plain ECDSA signature r || s (BSI TR-03111) over SHA-256 of the challenge.
* Chip Authentication v1 (9303-11 §6.2), ECDH: with 3DES through MSE:Set KAT
  (22 41A6, public key in DO'91'), with AES through MSE:Set AT (22 41A4) then
  GENERAL AUTHENTICATE (86, public key in DO'80'). The answer goes out under
  the old keys, then the card switches to keys derived from K = x(sk * PK)
  with SSC 0 (``card.pending_sm``).

Terminal-side verification belongs to the trust module; these handlers only
make the virtual card behave like a chip that supports them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from edge.icao import crypto, tlv
from edge.icao.apdu import CommandApdu, ResponseApdu
from edge.icao.errors import TlvError
from edge.icao.groups import CURVES, CurveParams
from edge.icao.lds.security_infos import ID_CA
from edge.icao.sm import SmContext
from simulators.vcard.card import CardHandler, VirtualCard

_CA_CIPHERS = {1: crypto.TDES, 2: crypto.AES128, 3: crypto.AES192, 4: crypto.AES256}


def iso9796_2_sign(key: rsa.RSAPrivateKey, m2: bytes, m1: bytes | None = None) -> bytes:
    """ISO/IEC 9796-2 scheme 1, SHA-1, partial recovery: (6A||M1||H||BC)^d mod n."""
    k = (key.key_size + 7) // 8
    m1 = m1 if m1 is not None else hashlib.sha256(m2 + b"m1").digest() * (k // 32 + 1)
    m1 = m1[: k - 2 - 20]
    f = b"\x6a" + m1 + hashlib.sha1(m1 + m2).digest() + b"\xbc"
    nums = key.private_numbers()
    return pow(int.from_bytes(f, "big"), nums.d, nums.public_numbers.n).to_bytes(k, "big")


def active_authentication_handler(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> CardHandler:
    """INTERNAL AUTHENTICATE handler for the DG15 private key."""

    def handle(card: VirtualCard, cmd: CommandApdu) -> ResponseApdu:
        if len(cmd.data) != 8:
            return ResponseApdu(b"", 0x6700)
        if isinstance(key, rsa.RSAPrivateKey):
            return ResponseApdu(iso9796_2_sign(key, cmd.data), 0x9000)
        der = key.sign(cmd.data, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return ResponseApdu(r.to_bytes(size, "big") + s.to_bytes(size, "big"), 0x9000)

    return handle


@dataclass
class EcKey:
    """A static EC private key on one of the standard curves."""

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
        name = params.chosen.native
        names = {"secp256r1": "secp256r1", "secp384r1": "secp384r1", "secp521r1": "secp521r1",
                 "secp224r1": "secp224r1", "secp192r1": "secp192r1"}
        for c in CURVES.values():
            if c.name.lower() == names.get(name, name).lower():
                return EcKey(c, d)
        raise ValueError(f"unsupported named curve {name}")
    spec = params.chosen
    p = spec["field_id"]["parameters"].native
    a = int.from_bytes(spec["curve"]["a"].native, "big")
    for c in CURVES.values():
        if c.p == p and c.a == a:
            return EcKey(c, d)
    raise ValueError("explicit curve is not a standard one")


_CRYPTO_NAMES = {
    "secp192r1": "secp192r1", "secp224r1": "secp224r1", "secp256r1": "secp256r1",
    "secp384r1": "secp384r1", "secp521r1": "secp521r1", "brainpoolP256r1": "brainpoolP256r1",
    "brainpoolP384r1": "brainpoolP384r1", "brainpoolP512r1": "brainpoolP512r1",
}


def as_ec_key(key: object) -> EcKey:
    """EcKey from an EcKey, a ``cryptography`` EC private key or PKCS#8 DER."""
    if isinstance(key, EcKey):
        return key
    if isinstance(key, (bytes, bytearray)):
        return load_ec_private_key(bytes(key))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        name = _CRYPTO_NAMES.get(key.curve.name)
        for c in CURVES.values():
            if c.name == name:
                return EcKey(c, key.private_numbers().private_value)
    raise ValueError("unsupported Chip Authentication private key")


def chip_authentication_handlers(key: EcKey, protocol: str) -> dict[int, CardHandler]:
    """Handlers for MSE (22) and GENERAL AUTHENTICATE (86) under SM.

    ``protocol`` is the ChipAuthenticationInfo OID of DG14, e.g.
    0.4.0.127.0.7.2.2.3.2.2 for ECDH with AES-128.
    """
    arcs = protocol.split(".")
    if not protocol.startswith(ID_CA + ".2.") or int(arcs[-1]) not in _CA_CIPHERS:
        raise ValueError(f"unsupported Chip Authentication protocol {protocol}")
    spec = _CA_CIPHERS[int(arcs[-1])]
    state: dict[str, bool] = {"set": False}

    def derive(card: VirtualCard, pk_ifd: bytes) -> ResponseApdu | None:
        try:
            point = key.curve.decode(pk_ifd)
        except Exception:
            return ResponseApdu(b"", 0x6A80)
        shared = key.curve.mul(key.d, point)
        if shared is None:
            return ResponseApdu(b"", 0x6A80)
        k = shared[0].to_bytes(key.curve.size, "big")
        card.pending_sm = SmContext(
            spec, crypto.kdf(k, crypto.KDF_ENC, spec), crypto.kdf(k, crypto.KDF_MAC, spec), 0
        )
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
