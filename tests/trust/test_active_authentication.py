"""Active Authentication: ISO/IEC 9796-2 scheme 1 (RSA) and plain ECDSA."""

from __future__ import annotations

import os

import pytest
from asn1crypto import core, keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.icao import groups
from edge.trust.aa import AAError, parse_dg15, recover_9796_2, sign_aa_challenge, verify_aa
from edge.trust.result import CheckStatus
from tests.trust.conftest import read

BSI = "bsi_tr03105_5_refdataset"


@pytest.fixture(scope="module")
def bsi_aa_key():
    return serialization.load_der_private_key(read(f"{BSI}/DG15_sk.pkcs8"), None)


@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_bsi_dg15_key_signs_and_verifies_with_iso9796_2(bsi_aa_key, hash_name):
    challenge = os.urandom(8)
    sig = sign_aa_challenge(bsi_aa_key, challenge, hash_name=hash_name)
    c = verify_aa(read(f"{BSI}/Datagroup15.bin"), challenge, sig)
    assert c.status is CheckStatus.PASSED, c.reason
    assert c.reason.detail == f"iso9796-2 scheme 1, {hash_name}"


def test_bsi_aa_wrong_challenge_or_altered_signature_fails(bsi_aa_key):
    challenge = bytes.fromhex("0102030405060708")
    sig = sign_aa_challenge(bsi_aa_key, challenge)
    dg15 = read(f"{BSI}/Datagroup15.bin")
    assert verify_aa(dg15, challenge, sig).status is CheckStatus.PASSED
    assert verify_aa(dg15, bytes(8), sig).codes == ["aa_failed"]
    bad = bytearray(sig)
    bad[40] ^= 1
    assert verify_aa(dg15, challenge, bytes(bad)).codes == ["aa_failed"]


def test_real_passport_aa_vectors_verify(vectors):
    v = vectors["active_authentication"]["real_passport_vectors"]
    dg15 = bytes.fromhex(v["dg15"])
    key = parse_dg15(dg15)["public_key"].parsed
    n, e = key["modulus"].native, key["public_exponent"].native
    for case in v["cases"]:
        challenge, sig = bytes.fromhex(case["challenge"]), bytes.fromhex(case["signature"])
        assert verify_aa(dg15, challenge, sig).status is CheckStatus.PASSED
        m = pow(int.from_bytes(sig, "big"), e, n)
        m = m if m & 0xF == 0xC else n - m
        F = m.to_bytes(128, "big")
        assert F[1 : 1 + len(case["m1"]) // 2].hex().upper() == case["m1"]
        assert verify_aa(dg15, bytes(8), sig).status is CheckStatus.FAILED


def test_bouncycastle_iso9796_vector_verifies(vectors):
    v = vectors["active_authentication"]["bouncycastle_iso9796_vector"]
    c = verify_aa(bytes.fromhex(v["rsa_spki"]), bytes.fromhex(v["challenge"]), bytes.fromhex(v["signature"]))
    assert c.status is CheckStatus.PASSED


def test_icao_appendix_f_representative_recovers(vectors):
    v = vectors["active_authentication"]["icao_appendix_f_like_example"]
    F = bytes.fromhex(v["f_recovered_message_representative"])
    ok, detail = recover_9796_2(F, bytes.fromhex(v["m2_rnd_ifd"]))
    assert ok and "sha1" in detail
    assert F[1:-21].hex().upper() == v["m1"]
    assert not recover_9796_2(F, bytes(8))[0]


def _ec_dg15(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    spki = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"\x6f" + bytes([0x81, len(spki)]) + spki if len(spki) > 127 else b"\x6f" + bytes([len(spki)]) + spki


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.BrainpoolP256R1(), ec.SECP384R1(), ec.BrainpoolP512R1()])
def test_ecdsa_aa_plain_signature_round_trip(curve):
    key = ec.generate_private_key(curve)
    challenge = os.urandom(8)
    sig = sign_aa_challenge(key, challenge)
    assert len(sig) == 2 * ((curve.key_size + 7) // 8)  # plain r||s, not DER
    assert verify_aa(_ec_dg15(key), challenge, sig).status is CheckStatus.PASSED
    assert verify_aa(_ec_dg15(key), bytes(8), sig).status is CheckStatus.FAILED


def _dg14_with_aa_info(sig_oid: str) -> bytes:
    """DG14 holding only ActiveAuthenticationInfo {id-AA, version 1, signatureAlgorithm}."""
    body = (core.ObjectIdentifier("2.23.136.1.1.5").dump() + core.Integer(1).dump()
            + core.ObjectIdentifier(sig_oid).dump())
    seq = b"\x30" + bytes([len(body)]) + body
    sets = b"\x31" + bytes([len(seq)]) + seq
    return b"\x6e" + bytes([len(sets)]) + sets


def test_ecdsa_aa_hash_comes_from_dg14_active_authentication_info():
    key = ec.generate_private_key(ec.SECP256R1())
    challenge = os.urandom(8)
    sig = sign_aa_challenge(key, challenge, hash_name="sha384")
    dg15 = _ec_dg15(key)
    # default for a 256-bit key is SHA-256: fails; DG14 says ecdsa-plain-SHA384: passes
    assert verify_aa(dg15, challenge, sig).status is CheckStatus.FAILED
    dg14 = _dg14_with_aa_info("0.4.0.127.0.7.1.1.4.1.4")
    c = verify_aa(dg15, challenge, sig, dg14=dg14)
    assert c.status is CheckStatus.PASSED and "sha384" in c.reason.detail


def test_ecdsa_aa_on_explicit_brainpool_p224_key_uses_the_fallback_arithmetic():
    # The BSI DG14 key (brainpoolP224r1, explicit parameters) is unusable by cryptography.
    pk_der = read(f"{BSI}/DG14_pk.bin")
    sk = keys.PrivateKeyInfo.load(read(f"{BSI}/DG14_sk.pkcs8"))["private_key"].parsed["private_key"].native
    curve = groups.BY_NAME["brainpoolP224r1"]
    challenge = os.urandom(8)
    import hashlib

    r, s = curve.ecdsa_sign(sk, hashlib.sha224(challenge).digest(), int.from_bytes(os.urandom(27), "big") + 1)
    sig = r.to_bytes(28, "big") + s.to_bytes(28, "big")
    assert verify_aa(pk_der, challenge, sig).status is CheckStatus.PASSED
    assert verify_aa(pk_der, bytes(8), sig).status is CheckStatus.FAILED


def test_malformed_dg15_raises_aa_error():
    with pytest.raises(AAError):
        verify_aa(b"\x6f\x03\x01\x02\x03", bytes(8), bytes(64))
