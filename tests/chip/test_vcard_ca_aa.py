"""VirtualCard Chip Authentication and Active Authentication (card side),
checked with test-side terminal steps built from the icao primitives."""

from __future__ import annotations

import hashlib
import os

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils

from edge.icao import access, crypto, tlv
from edge.icao.apdu import CommandApdu
from edge.icao.der import encode_int, encode_oid
from edge.icao.groups import CURVES
from edge.icao.lds.dg15 import parse_dg15
from edge.icao.lds.tags import dg_fid
from edge.icao.session import ChipSession
from edge.icao.sm import SmContext
from simulators.vcard.auth import load_ec_private_key
from simulators.vcard.card import VirtualCard
from simulators.vcard.inprocess import InProcessTransport
from tests.chip import citizen
from tests.chip.testdata import data_root

BSI = data_root() / "emrtd" / "bsi_tr03105_5_refdataset"
KEY = access.key_from_can(citizen.CAN)


def _session(card: VirtualCard) -> ChipSession:
    s = ChipSession(InProcessTransport(card))
    s.authenticate([KEY])
    return s


def test_active_authentication_rsa_iso9796_2_with_the_bsi_dg15_key() -> None:
    files = dict(citizen.card_files().files)
    files[dg_fid(15)] = (BSI / "Datagroup15.bin").read_bytes()
    sk = serialization.load_der_private_key((BSI / "DG15_sk.pkcs8").read_bytes(), None)
    assert isinstance(sk, rsa.RSAPrivateKey)
    card = VirtualCard(files, citizen.CAN, citizen.MRZ_INFORMATION, aa_private_key=sk)
    s = _session(card)
    challenge = os.urandom(8)
    sig = s.transmit_secure(CommandApdu(0, 0x88, 0, 0, challenge, ne=256)).check()
    pub = serialization.load_der_public_key(parse_dg15(files[dg_fid(15)]).subject_public_key_info)
    assert isinstance(pub, rsa.RSAPublicKey)
    n, e = pub.public_numbers().n, pub.public_numbers().e
    f = pow(int.from_bytes(sig, "big"), e, n).to_bytes(len(sig), "big")
    assert f[0] == 0x6A and f[-1] == 0xBC
    m1, digest = f[1:-21], f[-21:-1]
    assert hashlib.sha1(m1 + challenge).digest() == digest


def test_active_authentication_ecdsa() -> None:
    sk = ec.generate_private_key(ec.SECP256R1())
    card = VirtualCard(citizen.card_files().files, citizen.CAN, citizen.MRZ_INFORMATION,
                       aa_private_key=sk)
    challenge = os.urandom(8)
    sig = _session(card).transmit_secure(CommandApdu(0, 0x88, 0, 0, challenge, ne=256)).check()
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    sk.public_key().verify(utils.encode_dss_signature(r, s), challenge, ec.ECDSA(hashes.SHA256()))


def _ca_terminal(s: ChipSession, curve_pk: bytes, curve_id: int, spec: crypto.CipherSpec,
                 oid: str) -> None:
    curve = CURVES[curve_id]
    eph = int.from_bytes(os.urandom(curve.size), "big") % (curve.n - 1) + 1
    pk_ifd = curve.encode(curve.mul(eph, curve.generator))
    if spec.is_aes:
        s.transmit_secure(CommandApdu(0, 0x22, 0x41, 0xA4, tlv.encode(0x80, encode_oid(oid)))).check()
        s.transmit_secure(CommandApdu(0, 0x86, 0, 0, tlv.encode(0x7C, tlv.encode(0x80, pk_ifd)), ne=256)).check()
    else:
        s.transmit_secure(CommandApdu(0, 0x22, 0x41, 0xA6, tlv.encode(0x91, pk_ifd))).check()
    shared = curve.mul(eph, curve.decode(curve_pk))
    assert shared is not None
    k = shared[0].to_bytes(curve.size, "big")
    s.sm = SmContext(spec, crypto.kdf(k, 1, spec), crypto.kdf(k, 2, spec), 0)


def test_chip_authentication_3des_with_the_bsi_dg14_key_switches_sm_keys() -> None:
    files = dict(citizen.card_files().files)
    files[dg_fid(14)] = (BSI / "Datagroup14.bin").read_bytes()
    card = VirtualCard(files, citizen.CAN, citizen.MRZ_INFORMATION,
                       chip_auth_private_key=(BSI / "DG14_sk.pkcs8").read_bytes())
    s = _session(card)
    s.read_files([dg_fid(14)])
    assert s.result.dg14 is not None
    spki = s.result.dg14.chip_authentication_public_keys[0].subject_public_key_info
    pk = asn1_keys.PublicKeyInfo.load(spki)["public_key"].native
    key = load_ec_private_key((BSI / "DG14_sk.pkcs8").read_bytes())
    assert key.curve.name == "brainpoolP224r1" and key.public == pk
    _ca_terminal(s, pk, key.curve.parameter_id, crypto.TDES, "")
    s.read_files([dg_fid(1)])  # only works under the new keys
    assert s.result.files[dg_fid(1)] == files[dg_fid(1)]
    assert s.sm is not None and s.sm.spec == crypto.TDES


def test_chip_authentication_aes128_on_brainpool_p256() -> None:
    sk = ec.generate_private_key(ec.BrainpoolP256R1())
    oid = "0.4.0.127.0.7.2.2.3.2.2"
    spki = sk.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    infos = (tlv.encode(0x30, tlv.encode(0x06, encode_oid("0.4.0.127.0.7.2.2.1.2")) + spki)
             + tlv.encode(0x30, tlv.encode(0x06, encode_oid(oid)) + encode_int(1)))
    files = dict(citizen.card_files().files)
    files[dg_fid(14)] = tlv.encode(0x6E, tlv.encode(0x31, infos))
    card = VirtualCard(files, citizen.CAN, citizen.MRZ_INFORMATION, chip_auth_private_key=sk)
    s = _session(card)
    pk = sk.public_key().public_bytes(serialization.Encoding.X962,
                                      serialization.PublicFormat.UncompressedPoint)
    _ca_terminal(s, pk, 13, crypto.AES128, oid)
    s.read_files([dg_fid(13)])
    assert s.result.dg13 is not None and s.result.dg13.full_name == citizen.NAME


def test_hand_written_ecdh_matches_cryptography() -> None:
    for pid in (12, 13, 16):
        curve = CURVES[pid]
        a = ec.generate_private_key(curve.crypto_curve())
        b = ec.generate_private_key(curve.crypto_curve())
        b_pub = b.public_key().public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
        ours = curve.mul(a.private_numbers().private_value, curve.decode(b_pub))
        assert ours is not None
        theirs = a.exchange(ec.ECDH(), b.public_key())
        assert ours[0].to_bytes(curve.size, "big") == theirs
