"""The QR payload parser: every rule of the domain brief, one test each."""

from __future__ import annotations

from datetime import date

import pytest

from edge.domain.messages import MESSAGES, QrError
from edge.domain.qr import parse_qr

TODAY = date(2026, 11, 23)
P2021 = "089202012345|351234567|Lê Văn A|23052002|Nam|Tổ 1, Ấp B, Xã C, Huyện D, An Giang|31122021"
P2021_NO_CMND = "034303012345||Nguyễn Thị B|21032003|Nữ|Thôn E, Xã F, Huyện G, Thái Bình|14082021"
P2024 = "093186001234|361234567|Nguyễn Thị C|11011986|Nữ|Số 1 Đường X, Phường Z, Ninh Kiều, Cần Thơ|04102024||||"


def parse(text: str | bytes):
    return parse_qr(text, today=TODAY)


def error_code(text: str | bytes) -> str:
    with pytest.raises(QrError) as info:
        parse(text)
    return info.value.code


def test_2021_card_with_seven_fields_parses_every_field():
    r = parse(P2021)
    assert r.layout == "card_7_fields" and r.from_card
    assert r.id_number == "089202012345"
    assert r.old_id_number == "351234567"
    assert r.full_name == "Lê Văn A"
    assert r.date_of_birth == date(2002, 5, 23)
    assert r.sex == "M" and r.sex_vi == "Nam"
    assert r.address == "Tổ 1, Ấp B, Xã C, Huyện D, An Giang"
    assert r.issue_date == date(2021, 12, 31)
    assert r.extra_fields == ()
    assert r.warnings == ()


def test_empty_old_id_field_is_kept_as_none_not_shifted():
    r = parse(P2021_NO_CMND)
    assert r.old_id_number is None
    assert r.full_name == "Nguyễn Thị B"
    assert r.sex == "F"


def test_2024_card_with_eleven_fields_keeps_the_empty_trailing_fields():
    r = parse(P2024)
    assert r.layout == "card_11_fields"
    assert r.extra_fields == ("", "", "", "")
    assert r.warnings == ()


def test_2024_extra_fields_with_data_are_kept_and_reported():
    r = parse(P2024[:-4] + "||Nguyễn Văn Cha|Trần Thị Mẹ|")
    assert r.extra_fields == ("", "Nguyễn Văn Cha", "Trần Thị Mẹ", "")
    assert "layout.extra_fields_present" in r.warning_codes()


def test_bom_and_crlf_added_by_scanners_are_stripped():
    assert parse("\ufeff" + P2021 + "\r\n").id_number == "089202012345"
    assert parse(b"\xef\xbb\xbf" + P2021.encode() + b"\r\n").full_name == "Lê Văn A"


def test_decomposed_unicode_is_normalised_to_nfc():
    import unicodedata

    r = parse(unicodedata.normalize("NFD", P2021))
    assert r.full_name == "Lê Văn A"
    assert unicodedata.is_normalized("NFC", r.address)


def test_id_number_decodes_province_sex_and_birth_year():
    info = parse(P2021).id_info
    assert (info.province_code, info.province_name) == ("089", "An Giang")
    assert info.sex == "M" and info.birth_year == 2002 and not info.born_abroad
    info_f = parse(P2021_NO_CMND).id_info
    assert info_f.sex == "F" and info_f.birth_year == 2003


def test_century_digit_decodes_1900s_and_2000s():
    r = parse("001086012345||Trần Văn D|01021986|Nam|Hà Nội|01032025")
    assert r.id_info.birth_year == 1986 and r.warnings == ()


def test_sex_mismatch_with_the_id_number_is_a_warning_not_an_error():
    r = parse(P2021.replace("|Nam|", "|Nữ|"))
    assert "id.sex_mismatch" in r.warning_codes()


def test_birth_year_mismatch_with_the_id_number_is_a_warning():
    r = parse(P2021.replace("23052002", "23052001"))
    assert "id.birth_year_mismatch" in r.warning_codes()


def test_unknown_province_prefix_is_a_warning_not_an_error():
    r = parse(P2021.replace("089202", "003202"))
    assert r.id_info.province_name is None
    assert "id.unknown_province" in r.warning_codes()


def test_foreign_birth_prefix_is_decoded_without_a_province_warning():
    r = parse(P2021.replace("089202", "189202"))
    assert r.id_info.born_abroad
    assert "id.unknown_province" not in r.warning_codes()


@pytest.mark.parametrize(
    "payload, code",
    [
        ("", "qr.empty"),
        ("\r\n", "qr.empty"),
        ("https://example.com/x", "qr.not_cccd"),
        ("a|b|c", "qr.field_count"),
        (P2021 + "|" * 6, "qr.field_count"),
        (P2021.replace("089202012345", "08920201234"), "id.format"),
        (P2021.replace("089202012345", "08920201234X"), "id.format"),
        (P2021.replace("351234567", "35123456"), "old_id.format"),
        (P2021.replace("Lê Văn A", ""), "name.empty"),
        (P2021.replace("Lê Văn A", "Lê Văn 4"), "name.invalid"),
        (P2021.replace("23052002", "2305200"), "dob.format"),
        (P2021.replace("23052002", "31022002"), "dob.invalid_date"),
        (P2021.replace("23052002", "23052099"), "dob.future"),
        (P2021.replace("|Nam|", "|Male|"), "sex.invalid"),
        (P2021.replace("31122021", "3112202"), "issue.format"),
        (P2021.replace("31122021", "30022021"), "issue.invalid_date"),
        (P2021.replace("31122021", "01012030"), "issue.future"),
        (P2021.replace("31122021", "01012001"), "issue.before_birth"),
    ],
)
def test_each_malformed_payload_gets_its_own_stable_error_code(payload, code):
    assert error_code(payload) == code


def test_every_error_code_has_a_vietnamese_and_an_english_message():
    for code, message in MESSAGES.items():
        assert message.vi and message.en, code
    with pytest.raises(QrError) as info:
        parse("a|b")
    as_dict = info.value.to_dict()
    assert as_dict["code"] == "qr.field_count"
    assert as_dict["message"] == as_dict["message_vi"] != as_dict["message_en"]


def test_invalid_utf8_bytes_are_refused_with_a_clear_code():
    assert error_code(b"\xff\xfe089202012345|") == "qr.not_utf8"


def test_name_misread_as_shift_jis_is_detected_as_garbled():
    garbled = "Lê Văn A".encode().decode("shift_jis", errors="replace")
    assert error_code(P2021.replace("Lê Văn A", garbled)) == "qr.garbled_charset"


def test_name_misread_as_latin1_is_detected_as_garbled():
    garbled = "Nguyễn Thị B".encode().decode("latin-1")
    assert error_code(P2021_NO_CMND.replace("Nguyễn Thị B", garbled)) == "qr.garbled_charset"


def test_keyboard_scanner_that_dropped_vietnamese_letters_is_told_to_switch_to_serial():
    dropped = "034303012345||Nguyn Th B|21032003|N|Thn E, X F, Huyn G, Thi Bnh|14082021"
    assert error_code(dropped) == "qr.diacritics_lost"


def test_ascii_only_name_and_address_raise_a_diacritics_warning():
    r = parse("089202012345||Le Van A|23052002|Nam|To 1, Ap B, Xa C, An Giang|31122021")
    assert "text.no_diacritics" in r.warning_codes()


def test_app_rendered_six_field_variant_is_recognised_as_not_from_a_card():
    r = parse("089202012345|Lê Văn A|23/05/2002|Nam|Tổ 1, Ấp B, Xã C, Huyện D, An Giang|31/12/2021")
    assert r.layout == "app_6_fields"
    assert r.from_card is False
    assert r.date_of_birth == date(2002, 5, 23)
    assert r.issue_date == date(2021, 12, 31)
    assert "layout.app_rendered" in r.warning_codes()


def test_health_insurance_card_qr_is_recognised_and_named():
    name_hex = "Nguyễn Văn A".encode().hex()
    addr_hex = "Thái Bình".encode().hex()
    bhyt = (f"DN4340123456789|{name_hex}|01/01/1990|1|{addr_hex}|34 - 001|01/01/2026|-|01/01/2026|34001|-|4|1"
            "|01/01/2021|$")
    assert error_code(bhyt) == "qr.bhyt_card"


def test_expiry_is_computed_by_the_age_rule():
    r = parse(P2021)  # born 23/05/2002, issued 31/12/2021 at 19: valid until 25
    assert r.expiry_date == date(2027, 5, 23)
    assert not r.never_expires


def test_card_issued_after_sixty_never_expires():
    r = parse("001058012345||Trần Văn D|01021958|Nam|Hà Nội|01022022")
    assert r.expiry_date is None and r.never_expires


def test_expired_card_is_a_warning():
    r = parse("001098012345||Trần Văn D|01021998|Nam|Phường X, Hà Nội|01022021", )
    # issued at 22 (less than 2 years before 25? no: 3 years) -> expires at 25 on 01/02/2023
    assert r.expiry_date == date(2023, 2, 1)
    assert "card.expired" in r.warning_codes()


def test_repr_of_a_record_does_not_reveal_personal_data():
    r = parse(P2021)
    text = repr(r) + str(r)
    assert "089202012345" not in text and "Lê Văn A" not in text


@pytest.mark.parametrize(("payload", "code"), [
    (P2021.replace("31122021", "01012030"), "issue.future"),
    (P2021.replace("23052002", "23052099").replace("31122021", "31122100"), "dob.future"),
])
def test_an_unsynchronised_clock_turns_a_future_date_into_a_warning_not_a_refusal(payload, code):
    with pytest.raises(QrError) as refused:
        parse_qr(payload, today=date(2026, 1, 1))
    assert refused.value.code == code
    record = parse_qr(payload, today=date(2026, 1, 1), clock_trusted=False)
    assert f"{code}_unsynced" in record.warning_codes()


def test_a_desk_booted_500_days_in_the_past_accepts_a_card_issued_since_when_its_clock_is_unsynchronised():
    issued_recently = P2021.replace("31122021", "15102026")
    wrong_today = date(2025, 6, 1)
    assert error_code_on(issued_recently, wrong_today) == "issue.future"
    record = parse_qr(issued_recently, today=wrong_today, clock_trusted=False)
    assert record.issue_date == date(2026, 10, 15) and record.warning_codes().count("issue.future_unsynced") == 1


def error_code_on(payload: str, today: date) -> str:
    with pytest.raises(QrError) as info:
        parse_qr(payload, today=today)
    return info.value.code
