"""Crypto primitives, MRZ, TLV and APDU encoding against ICAO 9303 vectors."""

from __future__ import annotations

import pytest

from edge.icao import crypto, mrz, tlv
from edge.icao.apdu import ApduError, CommandApdu, ResponseApdu, StatusError
from edge.icao.errors import MrzError, TlvError
from tests.chip.testdata import h, vectors


def test_bac_kdf_and_parity_reproduce_appendix_d1() -> None:
    v = vectors()["bac"]
    kseed = h(v["kseed"])
    assert crypto.kdf(kseed, 1, crypto.TDES) == h(v["kenc"])
    assert crypto.kdf(kseed, 2, crypto.TDES) == h(v["kmac"])
    assert crypto.adjust_parity(h(v["kenc_before_parity"])) == h(v["kenc"])


def test_pace_kdf_k_pi_for_mrz_and_can() -> None:
    g1 = vectors()["pace"]["ecdh_gm_brainpoolp256r1_G1"]
    assert crypto.kdf(h(g1["k_password"]), 3, crypto.AES128) == h(g1["k_pi"])
    can = vectors()["pace"]["can_example_non_icao"]
    assert crypto.kdf(can["can"].encode(), 3, crypto.AES128) == h(can["k_pi_aes128"])


def test_retail_mac_reproduces_d4_select_cc() -> None:
    ex = vectors()["sm_examples"][0]
    assert crypto.retail_mac(h(ex["ks_mac"]), h(ex["n"])) == h(ex["cc"])


def test_padding_method2_roundtrip_and_rejects_garbage() -> None:
    assert crypto.pad(b"\x01\x1e") == h("011E800000000000")
    assert crypto.unpad(h("011E800000000000")) == b"\x01\x1e"
    with pytest.raises(crypto.CryptoError):
        crypto.unpad(bytes(8))


@pytest.mark.parametrize("case", [c for c in vectors()["mrz"] if c["kind"] == "check_digit"])
def test_mrz_check_digits_match_icao_examples(case: dict[str, str]) -> None:
    assert mrz.check_digit(case["data"]) == case["check_digit"]


def test_mrz_td1_specimens_parse_with_all_check_digits() -> None:
    for case in vectors()["mrz"]:
        if case["kind"] not in ("td1", "td1_long_document_number"):
            continue
        m = mrz.parse_td1(case["lines"])
        exp = case["expected"]
        assert m.document_number == exp["document_number"]
        assert m.date_of_birth == exp["date_of_birth"]
        assert m.date_of_expiry == exp["date_of_expiry"]
        assert m.sex == exp["sex"]
        assert m.primary_identifier == exp["primary_identifier"]
        assert m.secondary_identifier == exp["secondary_identifier"]
        assert m.mrz_information == case["mrz_information"]


def test_mrz_td3_specimens_parse_and_give_bac_information() -> None:
    for case in vectors()["mrz"]:
        if case["kind"] != "td3":
            continue
        m = mrz.parse_td3(case["lines"])
        for k in ("document_number", "date_of_birth", "date_of_expiry"):
            assert getattr(m, k) == case["expected"][k]
        if "mrz_information" in case:
            assert m.mrz_information == case["mrz_information"]


def test_mrz_information_of_appendix_d2() -> None:
    v = vectors()["bac"]
    assert mrz.mrz_information("L898902C", "690806", "940623") == v["mrz_information"]


# The synthetic example printed in shared/domain/cccd.md.
VN_TD1 = [
    "IDVNM0990123459001099012345<<0",
    "9902015M2402011VNM<<<<<<<<<<<4",
    "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<",
]


def _vn_td1(personal_id: str, dob: str, sex: str, exp: str, name: str) -> list[str]:
    doc = personal_id[3:]
    l1 = "IDVNM" + doc + mrz.check_digit(doc) + personal_id + "<<" + mrz.check_digit(personal_id)
    l1 = l1.ljust(30, "<")
    l2 = dob + mrz.check_digit(dob) + sex + exp + mrz.check_digit(exp) + "VNM"
    l2 = l2.ljust(29, "<")
    comp = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    return [l1, l2 + mrz.check_digit(comp), name.ljust(30, "<")]


def test_domain_doc_vietnamese_td1_example_verifies() -> None:
    m = mrz.parse_td1(VN_TD1)
    assert (m.personal_id, m.document_number, m.sex) == ("001099012345", "099012345", "M")
    assert (m.primary_identifier, m.secondary_identifier) == ("NGUYEN", "VAN AN")


def test_vietnamese_td1_gives_12_digit_id_and_last_9_as_document_number() -> None:
    lines = _vn_td1("001099012345", "990201", "M", "240201", "NGUYEN<<VAN<AN")
    m = mrz.parse_td1(lines)
    assert m.personal_id == "001099012345"
    assert m.document_number == "099012345"
    assert m.mrz_information == "0990123459" + "9902015" + "2402011"
    assert "NGUYEN" not in repr(m)


def test_vietnamese_td1_with_a_wrong_id_check_digit_is_rejected() -> None:
    lines = _vn_td1("001099012345", "990201", "M", "240201", "NGUYEN<<VAN<AN")
    bad = lines[0][:29] + str((int(lines[0][29]) + 1) % 10)
    with pytest.raises(MrzError):
        mrz.parse_td1([bad, lines[1], lines[2]])


def test_tlv_multibyte_tags_long_lengths_and_total_length() -> None:
    value = bytes(300)
    enc = tlv.encode(0x7F61, tlv.encode(0x5F2E, value))
    assert tlv.total_length(enc[:8]) == len(enc)
    outer, end = tlv.decode(enc)
    assert outer.tag == 0x7F61 and outer.constructed and end == len(enc)
    inner = outer.children()[0]
    assert inner.tag == 0x5F2E and inner.value == value


@pytest.mark.parametrize(
    "raw",
    [b"\x61", b"\x61\x05\x01", b"\x61\x82\x01", b"\x5f", b"\x61\x85\x00\x00\x00\x00\x01",
     b"\x61\x81\xff" + bytes(10)],
    ids=["no-length", "value-truncated", "long-length-truncated", "tag-truncated",
         "length-of-5-bytes", "overlong-length"],
)
def test_tlv_truncated_or_overlong_raise_tlv_error(raw: bytes) -> None:
    with pytest.raises(TlvError):
        tlv.decode_all(raw)


def test_apdu_short_and_extended_encoding_roundtrip() -> None:
    cases = [
        (CommandApdu(0, 0x84, 0, 0, ne=8), "0084000008"),
        (CommandApdu(0, 0xB0, 0, 0, ne=256), "00B0000000"),
        (CommandApdu(0, 0xB0, 0, 0, ne=65536), "00B0000000000000"[:14]),
        (CommandApdu(0, 0xA4, 2, 0xC, b"\x01\x1e"), "00A4020C02011E"),
        (CommandApdu(0, 0xB0, 1, 0, ne=1000), "00B00100" + "0003E8"),
    ]
    for apdu, hexstr in cases:
        assert apdu.to_bytes().hex().upper() == hexstr
        again = CommandApdu.from_bytes(apdu.to_bytes())
        assert (again.data, again.ne) == (apdu.data, apdu.ne)
    big = CommandApdu(0, 0xDA, 0, 0, bytes(300), ne=65536)
    assert CommandApdu.from_bytes(big.to_bytes()).data == bytes(300)


def test_apdu_malformed_and_status_errors_are_typed() -> None:
    with pytest.raises(ApduError):
        CommandApdu.from_bytes(b"\x00\xa4\x02\x0c\x05\x01")
    with pytest.raises(ApduError):
        ResponseApdu.from_bytes(b"\x90")
    with pytest.raises(StatusError) as e:
        ResponseApdu.from_bytes(b"\x6a\x82").check("select DG11")
    assert e.value.sw == 0x6A82 and "not found" in str(e.value)


def test_secrets_stay_out_of_reprs() -> None:
    from edge.icao import access, bac, pace
    from edge.icao.sm import SmContext

    secret = "0990123459990201524020110"
    assert secret not in repr(bac.BacTerminal(secret)) and secret not in repr(bac.BacCard(secret))
    proto = pace.PaceProtocol.from_oid("0.4.0.127.0.7.2.2.4.2.2")
    assert "123456" not in repr(pace.PaceTerminal(b"123456", 2, proto, 13))
    assert "979E" not in repr(SmContext(crypto.TDES, h("979EC13B1CBFE9DC"), bytes(16), 0)).upper()
    assert "123456" not in repr(access.key_from_can("123456"))


def test_testdata_location_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.chip import testdata

    monkeypatch.setenv("CCCD_TESTDATA", str(tmp_path))
    assert testdata.data_root() == tmp_path
    monkeypatch.delenv("CCCD_TESTDATA")
    assert testdata.data_root() == testdata.REPO.parent / "shared" / "testdata"
