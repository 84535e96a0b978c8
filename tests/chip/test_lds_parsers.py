"""LDS parsers on the BSI TR-03105-5 reference files, real SODs, and DG13
shape variants."""

from __future__ import annotations

import pytest

from edge.icao import tlv
from edge.icao.der import encode_int, encode_oid
from edge.icao.lds.com import parse_com
from edge.icao.lds.dg1 import parse_dg1
from edge.icao.lds.dg2 import parse_dg2
from edge.icao.lds.dg13 import DG13_OID, parse_dg13
from edge.icao.lds.dg14 import parse_dg14
from edge.icao.lds.dg15 import parse_dg15
from edge.icao.lds.sod import parse_sod
from tests.chip.testdata import data_root

EMRTD = data_root() / "emrtd"
BSI = EMRTD / "bsi_tr03105_5_refdataset"


def test_bsi_reference_files_parse() -> None:
    com = parse_com((BSI / "EF_COM.bin").read_bytes())
    assert com.lds_version == "0107" and com.data_groups == [1, 2, 3, 4, 14]
    dg1 = parse_dg1((BSI / "Datagroup1.bin").read_bytes())
    assert dg1.mrz.format == "TD3" and dg1.mrz.mrz_information == "C11T002JM496081222310314"
    img = parse_dg2((BSI / "Datagroup2.bin").read_bytes()).image
    assert img is not None and img.image_type == "jpeg2000" and (img.width, img.height) == (337, 449)
    dg14 = parse_dg14((BSI / "Datagroup14.bin").read_bytes())
    assert dg14.chip_authentication[0].protocol == "0.4.0.127.0.7.2.2.3.2.1"
    assert len(dg14.chip_authentication_public_keys) == 1 and dg14.terminal_authentication
    dg15 = parse_dg15((BSI / "Datagroup15.bin").read_bytes())
    assert dg15.algorithm == "rsa" and dg15.key_size


def test_dg15_rsa_and_ec_keys() -> None:
    jm = parse_dg15((EMRTD / "jmrtd_bsi2008" / "Datagroup15.bin").read_bytes())
    assert (jm.algorithm, jm.key_size) == ("rsa", 1022)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    spki = ec.generate_private_key(ec.BrainpoolP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    d = parse_dg15(tlv.encode(0x6F, spki))
    assert (d.algorithm, d.curve, d.key_size, d.subject_public_key_info) == (
        "ec", "brainpoolp256r1", 256, spki)


@pytest.mark.parametrize("path", sorted(p.name for p in (EMRTD / "gmrtd_pa").glob("*_EF_SOD.bin")))
def test_real_sods_give_their_raw_bytes_and_data_groups(path: str) -> None:
    raw = (EMRTD / "gmrtd_pa" / path).read_bytes()
    sod = parse_sod(raw)
    assert sod.raw == raw and 1 in sod.data_groups
    assert sod.hash_algorithm in ("sha1", "sha224", "sha256", "sha384", "sha512")


def test_bsi_sod_lists_the_dg_hashes() -> None:
    sod = parse_sod((BSI / "EF_SOD.bin").read_bytes())
    assert sod.data_groups == [1, 2, 3, 4, 14] and len(sod.data_group_hashes[1]) == 32


def _field(n: int, *values: bytes) -> bytes:
    return tlv.encode(0x30, encode_int(n) + b"".join(values))


def _utf8(s: str) -> bytes:
    return tlv.encode(0x0C, s.encode())


def test_dg13_shape_variants_are_tolerated() -> None:
    fields = (
        _field(1, tlv.encode(0x13, b"092188004321"))
        + _field(2, _utf8("Lê Văn A"))
        # parents as one SEQUENCE holding two strings
        + _field(13, tlv.encode(0x30, _utf8("Cha") + _utf8("Mẹ")))
        + _field(14, tlv.encode(0x30, b""))
        + _field(42, _utf8("later field"))
        + _field(9, tlv.encode(0x04, "Số 1".encode()))  # OCTET STRING value
        + tlv.encode(0x30, _utf8("no number"))
    )
    body = encode_int(1) + tlv.encode(0x06, encode_oid(DG13_OID)) + tlv.encode(0x31, fields)
    d = parse_dg13(tlv.encode(0x6D, tlv.encode(0x30, body)))
    assert (d.id_number, d.full_name, d.father, d.mother, d.spouse) == (
        "092188004321", "Lê Văn A", "Cha", "Mẹ", None)
    assert d.residence == "Số 1" and d.unknown_fields == {42: ["later field"]}
    assert d.version == 1 and d.oid == DG13_OID and len(d.warnings) == 1
    # Without the outer SEQUENCE, fields directly under 6D:
    flat = parse_dg13(tlv.encode(0x6D, body))
    assert flat.full_name == "Lê Văn A"


def test_dg13_with_a_broken_nested_value_keeps_the_other_fields() -> None:
    fields = _field(2, _utf8("Lê Văn A")) + tlv.encode(0x30, encode_int(13) + b"\x30\x05\x0c\x09ab")
    d = parse_dg13(tlv.encode(0x6D, tlv.encode(0x31, fields)))
    assert d.full_name == "Lê Văn A" and d.warnings
