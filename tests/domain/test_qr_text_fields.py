"""The QR's text fields are input from the outside world: refused or flagged, each with its code.

Each case is a real card payload with one hostile change; the refusal must name the rule
(a stable code with both languages) and nothing of the payload may reach a record.
"""

from __future__ import annotations

from datetime import date

import pytest

from contract.catalogue import CATALOGUE
from edge.domain.messages import QrError
from edge.domain.qr import MAX_PAYLOAD_CHARS, parse_qr
from edge.domain.text import foreign_letters, text_problem

TODAY = date(2026, 11, 23)
NAME = "Lê Văn A"
ADDRESS = "Tổ 1, Ấp B, Xã C, Huyện D, An Giang"
P2021 = f"089202012345|351234567|{NAME}|23052002|Nam|{ADDRESS}|31122021"


def refused(payload: str | bytes) -> str:
    with pytest.raises(QrError) as info:
        parse_qr(payload, today=TODAY)
    code = info.value.code
    assert code in CATALOGUE and CATALOGUE[code].vi and CATALOGUE[code].en
    assert NAME not in str(info.value) and "An Giang" not in str(info.value)  # no personal data in errors
    return code


# The QR text cases, with their codes (the report lists this table).
HOSTILE = [
    ("nul_in_name", P2021.replace(NAME, "Lê Văn\x00A"), "text.nul"),
    ("nul_in_address", P2021.replace(ADDRESS, ADDRESS + "\x00; DROP"), "text.nul"),
    ("esc_sequence_in_name", P2021.replace(NAME, "\x1b[31mLê Văn A"), "text.control_chars"),
    ("crlf_inside_address", P2021.replace(ADDRESS, "Tổ 1\r\nẤp B, An Giang"), "text.control_chars"),
    ("crlf_at_a_field_edge", P2021.replace(NAME, NAME + "\r\n"), "text.control_chars"),
    ("tab_inside_name", P2021.replace(NAME, "Lê\tVăn A"), "text.control_chars"),
    ("zero_width_space", P2021.replace(NAME, "Lê\u200bVăn A"), "text.control_chars"),
    ("line_separator", P2021.replace(ADDRESS, "Tổ 1\u2028An Giang"), "text.control_chars"),
    ("bidi_override_rlo", P2021.replace(ADDRESS, "\u202eTổ 1, An Giang"), "text.bidi_controls"),
    ("bidi_isolate", P2021.replace(NAME, "Lê \u2067Văn\u2069 A"), "text.bidi_controls"),
    ("right_to_left_mark", P2021.replace(NAME, "Lê\u200f Văn A"), "text.bidi_controls"),
    ("html_in_address", P2021.replace(ADDRESS, "<img src=x onerror=alert(1)>An Giang"), "text.markup"),
    ("html_in_name", P2021.replace(NAME, "<b>Lê</b>"), "text.markup"),
    ("one_megabyte", P2021.replace(ADDRESS, "A" * 1_000_000), "text.too_long"),
    ("one_megabyte_bytes", P2021.replace(ADDRESS, "Ấ" * 400_000).encode(), "text.too_long"),
    ("name_over_100", P2021.replace(NAME, "Nguyễn " * 20), "text.too_long"),
    ("address_over_300", P2021.replace(ADDRESS, "Thôn Đông, " * 40), "text.too_long"),
]


@pytest.mark.parametrize(("payload", "code"), [(p, c) for _, p, c in HOSTILE], ids=[n for n, _, _ in HOSTILE])
def test_hostile_text_is_refused_with_its_code(payload, code):
    assert refused(payload) == code


def test_the_longest_real_fields_still_parse():
    long_name = "Công Tằng Tôn Nữ Thị Hoàng Phương Thảo Nguyên"
    long_address = "Số 123/45/6 Đường Nguyễn Thị Minh Khai, Khu phố 7, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh"
    record = parse_qr(P2021.replace(NAME, long_name).replace(ADDRESS, long_address), today=TODAY)
    assert record.full_name == long_name and record.address == long_address
    assert len(P2021) < MAX_PAYLOAD_CHARS // 4


LOOKALIKES = [
    ("cyrillic_a_in_name", NAME.replace("A", "\u0410"), "name.mixed_script"),  # А
    ("cyrillic_e_and_o", "Nguy\u0435n V\u0103n \u041e", "name.mixed_script"),  # е, О
    ("greek_omicron_in_name", "Lê V\u03bfn A", "name.mixed_script"),  # ο
]


@pytest.mark.parametrize(("name", "code"), [(n, c) for _, n, c in LOOKALIKES], ids=[i for i, _, _ in LOOKALIKES])
def test_look_alike_letters_in_the_name_are_flagged_not_refused(name, code):
    record = parse_qr(P2021.replace(NAME, name), today=TODAY)
    assert code in record.warning_codes()
    assert record.full_name == name  # kept as read: the receptionist compares it with the card


def test_look_alike_letters_in_the_address_are_flagged():
    record = parse_qr(P2021.replace("An Giang", "\u0410n Giang"), today=TODAY)
    assert "address.mixed_script" in record.warning_codes()


def test_every_vietnamese_letter_is_latin_and_not_flagged():
    letters = "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    assert not foreign_letters(letters + letters.upper())
    assert text_problem(letters + letters.upper() + " -'.,/0123456789") is None
    assert "name.mixed_script" not in parse_qr(P2021, today=TODAY).warning_codes()
