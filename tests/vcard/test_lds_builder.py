"""The built chip files parse back, match the domain brief, and the SOD signs them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import cv2
import numpy as np
import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from simulators.vcard import lds_builder as lb
from simulators.vcard.pki import CSCA_COMMON_NAME, build_test_pki
from tests.vcard.conftest import parse_tlv, tlv_value


@dataclasses.dataclass
class _Citizen:
    id_number: str = "001099012345"
    old_id_number: str | None = None
    full_name: str = "Nguyễn Văn An"
    date_of_birth: dt.date = dt.date(1999, 2, 1)
    sex: str = "M"
    address: str = "Thôn Đông, Xã Tân Hòa, Huyện Vũ Thư, Thái Bình"
    hometown: str = "Thái Bình"
    ethnicity: str = "Kinh"
    religion: str = "Không"
    nationality: str = "Việt Nam"
    issue_date: dt.date = dt.date(2021, 5, 1)
    father_name: str = "Nguyễn Văn Bố"
    mother_name: str = "Trần Thị Mẹ"
    spouse_name: str | None = None


class AnySet(core.SetOf):
    _child_spec = core.Any


class AnySeq(core.SequenceOf):
    _child_spec = core.Any


def _items(der: bytes, cls=AnySeq) -> list:
    """Children of a SEQUENCE/SET as parsed universal objects (asn1crypto)."""
    return [child.parsed for child in cls.load(der)]


def _spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# ------------------------------------------------------------------ MRZ / DG1
def test_mrz_matches_the_brief_example_exactly():
    mrz, info = lb.build_mrz(_Citizen(), dt.date(2024, 2, 1))
    assert mrz.split("\n") == [
        "IDVNM0990123459001099012345<<0",
        "9902015M2402011VNM<<<<<<<<<<<4",
        "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<",
    ]
    assert info == "0990123459" + "9902015" + "2402011"


def test_mrz_never_expires_encoding_is_documented_and_checked():
    mrz, info = lb.build_mrz(_Citizen(), None)
    line2 = mrz.split("\n")[1]
    assert line2[8:15] == lb.NO_EXPIRY_MRZ + "0"
    assert info.endswith(lb.NO_EXPIRY_MRZ + "0")
    mrz2, _ = lb.build_mrz(_Citizen(), None, no_expiry_mrz="991231")
    assert mrz2.split("\n")[1][8:15] == "991231" + lb.mrz_check_digit("991231")


def test_mrz_name_drops_diacritics_and_d_stroke():
    assert lb.mrz_name("Đặng Thị Ngọc Ánh") == "DANG<<THI<NGOC<ANH<<<<<<<<<<<<"
    assert len(lb.mrz_name("Nguyễn " + "Văn " * 20 + "A")) == 30


def test_dg1_check_digits(profile, citizen):
    mrz = tlv_value(tlv_value(profile.files[0x0101], 0x61), 0x5F1F).decode("ascii")
    assert len(mrz) == 90
    l1, l2, l3 = mrz[:30], mrz[30:60], mrz[60:]
    cd = lb.mrz_check_digit
    assert l1[:5] == "IDVNM"
    assert l1[5:14] == citizen.id_number[-9:] and l1[14] == cd(l1[5:14])
    assert l1[15:27] == citizen.id_number and l1[27:29] == "<<" and l1[29] == cd(citizen.id_number)
    assert l2[:6] == citizen.date_of_birth.strftime("%y%m%d") and l2[6] == cd(l2[:6])
    assert l2[7] == citizen.sex
    assert l2[8:14] == citizen.expiry_date.strftime("%y%m%d") and l2[14] == cd(l2[8:14])
    assert l2[15:18] == "VNM"
    assert l2[29] == cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    assert "<<" in l3 and l3.isascii()
    assert profile.mrz_information == l1[5:15] + l2[0:7] + l2[8:15]
    assert profile.can == citizen.id_number[-6:]


# ------------------------------------------------------------------ EF.COM, CardAccess
def test_ef_com_lists_the_data_groups(profile):
    entries = dict(parse_tlv(tlv_value(profile.files[lb.EF_COM], 0x60)))
    assert entries[0x5F01] == b"0107"
    assert entries[0x5C] == bytes([0x61, 0x75, 0x63, 0x6D, 0x6E, 0x6F])


def test_card_access_advertises_pace_ca_ta(profile):
    parsed = [_items(x.dump()) for x in _items(profile.files[lb.EF_CARD_ACCESS], AnySet)]
    assert [s[0].dotted for s in parsed] == [
        lb.OID_PACE_ECDH_GM_AES_CBC_CMAC_128, lb.OID_CA_ECDH_AES_CBC_CMAC_128, lb.OID_TA]
    pace = parsed[0]
    assert pace[1].native == 2
    assert pace[2].native == 13


# ------------------------------------------------------------------ DG2
def test_dg2_is_a_face_record_with_a_decodable_jpeg(profile):
    bit_group = tlv_value(tlv_value(profile.files[0x0102], 0x75), 0x7F61)
    items = parse_tlv(bit_group)
    assert items[0] == (0x02, b"\x01")
    bit = dict(parse_tlv(items[1][1]))
    assert items[1][0] == 0x7F60
    header = dict(parse_tlv(bit[0xA1]))
    assert header[0x81] == b"\x02"  # face
    record = bit[0x5F2E]
    assert record[:8] == b"FAC\x00010\x00"
    assert int.from_bytes(record[8:12], "big") == len(record)
    jpeg = record[14 + 20 + 12 :]
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    assert 15_000 <= len(jpeg) <= 25_000
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    height, width = int.from_bytes(record[38:40], "big"), int.from_bytes(record[36:38], "big")
    assert image is not None and image.shape[:2] == (height, width)


def test_face_is_deterministic_from_the_seed():
    from simulators.vcard.face import face_jpeg

    assert face_jpeg(11) == face_jpeg(11)
    assert face_jpeg(11) != face_jpeg(12)


# ------------------------------------------------------------------ DG13
def _dg13_fields(dg13: bytes) -> dict[int, list]:
    outer = core.load(dg13)
    assert outer.class_ == 1 and outer.tag == 13  # [APPLICATION 13] = 6D
    version, oid, entries = _items(outer.contents)
    assert version.native == 1
    assert oid.dotted == "1.0.10646.1.0.8"
    fields: dict[int, list] = {}
    for entry in _items(entries.dump(), AnySet):
        number, *raw = _items(entry.dump())
        values = []
        for v in raw:
            if v.tag == 16:  # nested SEQUENCE: its strings
                values.append(_items(v.dump()))
            else:
                values.append(v)
        fields[number.native] = values
    return fields


def test_dg13_has_all_16_fields_with_the_citizens_data(profile, citizen):
    f = _dg13_fields(profile.files[0x010D])
    assert sorted(f) == list(range(1, 17))
    assert isinstance(f[1][0], core.PrintableString) and f[1][0].native == citizen.id_number
    assert isinstance(f[2][0], core.UTF8String) and f[2][0].native == citizen.full_name
    assert f[3][0].native == citizen.date_of_birth.strftime("%d/%m/%Y")
    assert f[4][0].native == ("Nam" if citizen.sex == "M" else "Nữ")
    assert f[5][0].native == "Việt Nam"
    assert f[6][0].native == citizen.ethnicity and f[7][0].native == citizen.religion
    assert f[8][0].native == citizen.hometown and f[9][0].native == citizen.address
    assert f[10][0].native
    assert f[11][0].native == citizen.issue_date.strftime("%d/%m/%Y")
    assert f[12][0].native == citizen.expiry_date.strftime("%d/%m/%Y")
    father, mother = f[13]
    assert [x.native for x in father] == [citizen.father_name]
    assert [x.native for x in mother] == [citizen.mother_name]
    assert [x.native for x in f[14][0]] == [citizen.spouse_name]
    assert f[15][0].native == citizen.old_id_number
    assert len(f[16][0].native) == 16


def test_dg13_never_expiring_card_without_spouse_or_old_id(pki):
    old = _Citizen(date_of_birth=dt.date(1950, 3, 4), issue_date=dt.date(2021, 6, 1))
    p = lb.build_chip_profile(old, pki=pki, face_jpeg=lambda s: (b"\xff\xd8fake\xff\xd9", 1, 1))
    assert p.expiry is None
    f = _dg13_fields(p.files[0x010D])
    assert f[12][0].native == lb.NO_EXPIRY_TEXT == "Không thời hạn"
    assert f[14] == [[]]  # empty SEQUENCE
    assert f[15][0].native == ""
    assert p.mrz.split("\n")[1][8:15] == "<<<<<<0"


# ------------------------------------------------------------------ DG14 / DG15
def test_dg14_and_dg15_hold_the_public_keys_of_the_returned_private_keys(profile):
    seqs = [_items(x.dump()) for x in _items(tlv_value(profile.files[0x010E], 0x6E), AnySet)]
    by_oid = {s[0].dotted: s for s in seqs}
    assert by_oid[lb.OID_CA_ECDH_AES_CBC_CMAC_128][1].native == 1
    spki = by_oid[lb.OID_PK_ECDH][1].dump()
    assert spki == _spki(profile.chip_auth_private_key.public_key())
    assert isinstance(profile.chip_auth_private_key.curve, ec.BrainpoolP256R1)
    assert lb.OID_AA_PROTOCOL in by_oid
    assert tlv_value(profile.files[0x010F], 0x6F) == _spki(profile.aa_private_key.public_key())


def test_rsa_active_authentication_option(citizen, pki):
    p = lb.build_chip_profile(citizen, pki=pki, aa_algorithm="rsa-2048",
                              face_jpeg=lambda s: (b"\xff\xd8\xff\xd9", 1, 1))
    assert isinstance(p.aa_private_key, rsa.RSAPrivateKey) and p.aa_private_key.key_size == 2048
    assert tlv_value(p.files[0x010F], 0x6F) == _spki(p.aa_private_key.public_key())
    assert b"\x67\x81\x08\x01\x01\x05" not in p.files[0x010E]  # no AA info for RSA


# ------------------------------------------------------------------ EF.SOD
def _sod(profile) -> cms.SignedData:
    ci = cms.ContentInfo.load(tlv_value(profile.files[lb.EF_SOD], 0x77))
    assert ci["content_type"].native == "signed_data"
    return ci["content"]


def _lso_hashes(sd: cms.SignedData) -> dict[int, bytes]:
    eci = sd["encap_content_info"]
    assert eci["content_type"].dotted == lb.OID_LDS_SECURITY_OBJECT
    lso = lb.LDSSecurityObject.load(eci["content"].contents)
    assert lso["hash_algorithm"]["algorithm"].native == "sha256"
    return {h["data_group_number"].native: h["data_group_hash_value"].native for h in lso["data_group_hash_values"]}


def test_sod_hashes_match_every_data_group(profile):
    hashes_ = _lso_hashes(_sod(profile))
    assert sorted(hashes_) == [1, 2, 3, 13, 14, 15]
    all_files = {**profile.files, **profile.protected_files}
    for n, digest in hashes_.items():
        assert hashlib.sha256(all_files[0x0100 + n]).digest() == digest, n
    assert 0x0103 not in profile.files  # DG3 is held back


def test_sod_signature_verifies_with_the_document_signer(profile, pki):
    sd = _sod(profile)
    (cert,) = sd["certificates"]
    ds = x509.load_der_x509_certificate(cert.chosen.dump())
    assert ds == pki.ds_certificate
    ds.verify_directly_issued_by(pki.csca_certificate)
    si = sd["signer_infos"][0]
    assert si["sid"].chosen["serial_number"].native == ds.serial_number
    attrs = si["signed_attrs"]
    digest = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
    assert digest == hashlib.sha256(sd["encap_content_info"]["content"].contents).digest()
    signed = b"\x31" + attrs.dump()[1:]  # [0] IMPLICIT -> SET for the signature input
    ds.public_key().verify(si["signature"].native, signed, ec.ECDSA(hashes.SHA256()))


def test_pki_is_deterministic_and_well_formed(tmp_path, pki):
    again = build_test_pki(seed=7)
    assert again.csca_pem() == pki.csca_pem() and again.ds_pem() == pki.ds_pem()
    assert build_test_pki(seed=8).csca_pem() != pki.csca_pem()
    path = pki.write_csca_pem(tmp_path / "csca.pem")
    csca = x509.load_pem_x509_certificate(path.read_bytes())
    assert csca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == CSCA_COMMON_NAME
    csca.verify_directly_issued_by(csca)
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ds = pki.ds_certificate
    ku = ds.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    aki = ds.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    ski = csca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert aki == ski
    assert ds.not_valid_before_utc <= dt.datetime(2026, 1, 1, tzinfo=dt.UTC) <= ds.not_valid_after_utc


# ------------------------------------------------------------------ tampered / cloned
def test_tampered_profile_breaks_only_dg13(citizen, pki, profile):
    bad = lb.tamper_dg13_profile(profile, citizen, seed=7)
    hashes_ = _lso_hashes(_sod(bad))
    assert bad.tampered and bad.files[lb.EF_SOD] == profile.files[lb.EF_SOD]
    assert hashlib.sha256(bad.files[0x010D]).digest() != hashes_[13]
    for n in (1, 2, 14, 15):
        assert hashlib.sha256(bad.files[0x0100 + n]).digest() == hashes_[n]
    assert _dg13_fields(bad.files[0x010D])[9][0].native != citizen.address


def test_cloned_profile_has_same_files_but_other_chip_keys(profile):
    clone = lb.clone_profile(profile, seed=7)
    assert clone.cloned and clone.files == profile.files
    assert _spki(clone.chip_auth_private_key.public_key()) != _spki(profile.chip_auth_private_key.public_key())
    assert _spki(clone.aa_private_key.public_key()) != _spki(profile.aa_private_key.public_key())


def test_same_seed_same_profile(citizen, pki, profile):
    again = lb.build_chip_profile(citizen, pki=pki, seed=7)
    assert again.files == profile.files


# ------------------------------------------------------------------ across the population
@pytest.mark.parametrize("index", range(0, 60, 3))
def test_population_sample_builds_valid_mrz_and_dg13(population, pki, index):
    c = population.citizen(index)
    p = lb.build_chip_profile(c, pki=pki, seed=7, face_jpeg=lambda s: (b"\xff\xd8\xff\xd9", 1, 1))
    l1, l2, l3 = p.mrz.split("\n")
    cd = lb.mrz_check_digit
    assert len(l1) == len(l2) == len(l3) == 30
    assert l1[14] == cd(l1[5:14]) and l1[29] == cd(l1[15:27])
    assert l2[14] == cd(l2[8:14]) and l2[29] == cd(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    assert all(ch.isalnum() or ch == "<" for ch in l1 + l2 + l3) and (l1 + l2 + l3).isascii()
    f = _dg13_fields(p.files[0x010D])
    assert sorted(f) == list(range(1, 17))
    assert f[2][0].native == c.full_name
    assert f[12][0].native == (c.expiry_date.strftime("%d/%m/%Y") if c.expiry_date else lb.NO_EXPIRY_TEXT)
    hashes_ = _lso_hashes(_sod(p))
    assert hashes_[13] == hashlib.sha256(p.files[0x010D]).digest()
