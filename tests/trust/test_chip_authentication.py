"""Chip Authentication maths: DG14 parsing, key agreement, KDF, command data."""

from __future__ import annotations

import dataclasses

import pytest

from edge.icao import crypto, groups
from edge.trust.ca import CIPHER_SPECS, _ecdh_x, card_session_keys, parse_dg14, start_chip_authentication
from tests.trust.conftest import read

BSI = "bsi_tr03105_5_refdataset"
DG14_FILES = [f"{BSI}/Datagroup14.bin", "jmrtd_bsi2008/Datagroup14.bin", "pymrtd_etsi/DG14.bin"]


def kdf(secret: bytes, counter: int, cipher: str) -> bytes:
    """The one KDF (edge.icao.crypto) addressed by the trust side's cipher names."""
    return crypto.kdf(secret, counter, CIPHER_SPECS[cipher])


def kdf_enc(secret: bytes, cipher: str) -> bytes:
    return kdf(secret, crypto.KDF_ENC, cipher)


def kdf_mac(secret: bytes, cipher: str) -> bytes:
    return kdf(secret, crypto.KDF_MAC, cipher)


def test_kdf_matches_icao_appendix_i_session_keys(vectors):
    v = vectors["pace"]["ecdh_cam_I"]
    k = bytes.fromhex(v["shared_secret_k"])
    assert kdf_enc(k, "AES-128").hex().upper() == v["ks_enc"]
    assert kdf_mac(k, "AES-128").hex().upper() == v["ks_mac"]


def test_kdf_3des_with_parity_matches_bac_appendix_d(vectors):
    v = vectors["bac"]
    kseed = bytes.fromhex(v["kseed"])
    assert kdf(kseed, 1, "3DES").hex().upper() == v["kenc"]
    assert kdf(kseed, 2, "3DES").hex().upper() == v["kmac"]


def test_kdf_key_lengths_per_cipher():
    assert [len(kdf(b"z", 1, c)) for c in ("3DES", "AES-128", "AES-192", "AES-256")] == [16, 16, 24, 32]


@pytest.mark.parametrize("use_openssl", [True, False])
def test_ecdh_shared_secret_matches_icao_appendix_i(vectors, use_openssl):
    v = vectors["pace"]["ecdh_cam_I"]
    curve = groups.BY_NAME["brainpoolP256r1"]
    if not use_openssl:  # the pure-Python path used for curves cryptography lacks
        curve = dataclasses.replace(curve, crypto=None)
    x = _ecdh_x(curve, int(v["sk_dh_ifd"], 16), bytes.fromhex(v["pk_dh_ic"]))
    assert x.hex().upper() == v["shared_secret_k"]


def test_bsi_dg14_parses_as_ecdh_3des_on_brainpool_p224():
    dg14 = parse_dg14(read(f"{BSI}/Datagroup14.bin"))
    info, pk = dg14.chip_authentication()
    assert (info.oid, info.agreement, info.cipher, info.version) == ("0.4.0.127.0.7.2.2.3.2.1", "ECDH", "3DES", 1)
    assert pk.agreement == "ECDH"
    assert "0.4.0.127.0.7.2.2.2" in dg14.other_protocols  # Terminal Authentication, kept not fatal


def test_terminal_and_card_derive_the_same_keys_with_the_bsi_dg14_private_key():
    dg14 = read(f"{BSI}/Datagroup14.bin")
    terminal = start_chip_authentication(dg14)
    assert terminal.uses_mse_set_kat
    assert len(terminal.ephemeral_public) == 1 + 2 * 28 and terminal.ephemeral_public[0] == 4
    data = terminal.mse_set_kat_data()
    assert data[:2] == bytes([0x91, 57]) and data[2:] == terminal.ephemeral_public
    t_keys = terminal.session_keys()
    c_keys = card_session_keys(read(f"{BSI}/DG14_sk.pkcs8"), dg14, terminal.ephemeral_public)
    assert t_keys == c_keys
    assert t_keys.cipher == "3DES" and len(t_keys.k_enc) == len(t_keys.k_mac) == 16
    # each run uses a fresh ephemeral key
    assert start_chip_authentication(dg14).session_keys().k_enc != t_keys.k_enc


@pytest.mark.parametrize("path", DG14_FILES)
def test_each_specimen_dg14_gives_command_data(path):
    t = start_chip_authentication(read(path))
    assert t.mse_set_at_data() == bytes.fromhex("800A04007F00070202030201")  # id-CA-ECDH-3DES-CBC-CBC
    ga = t.general_authenticate_data()
    assert ga[0] == 0x7C and ga.endswith(t.ephemeral_public)


def test_dh_chip_authentication_from_the_spec_sample_dg14():
    dg14 = parse_dg14(read("spec_sample_encoded_dg14.bin"))
    info, _pk = dg14.chip_authentication()
    assert (info.agreement, info.cipher) == ("DH", "3DES")
    t = start_chip_authentication(dg14)
    assert len(t.ephemeral_public) == 128  # 1024-bit group
    assert len(t.session_keys().shared_secret) == 128
