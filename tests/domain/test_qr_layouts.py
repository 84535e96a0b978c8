"""The one table of QR layouts and the one ID-number peek, as every reader of a payload uses them."""

from __future__ import annotations

from datetime import date

import pytest

from edge.domain.qr import LAYOUTS, MAX_FIELDS, MIN_FIELDS, layout_for, parse_qr, peek_id_number, split_fields

P2021 = "089202012345|351234567|Lê Văn A|23052002|Nam|Tổ 1, Ấp B, Xã C, Huyện D, An Giang|31122021"
APP = "089202012345|Lê Văn A|23/05/2002|Nam|Tổ 1, Ấp B, Xã C, Huyện D, An Giang|31/12/2021"


def test_every_field_count_from_six_to_eleven_has_exactly_one_layout_and_no_other_count_has_one():
    assert (MIN_FIELDS, MAX_FIELDS) == (6, 11)
    counts = [c for layout in LAYOUTS for c in layout.field_counts]
    assert sorted(counts) == list(range(6, 12))
    assert layout_for(5) is None and layout_for(12) is None


@pytest.mark.parametrize("payload", [P2021, APP])
def test_the_table_says_where_each_field_is_and_the_parser_reads_it_there(payload):
    fields = split_fields(payload)
    layout = layout_for(len(fields))
    assert layout is not None
    record = parse_qr(payload, today=date(2026, 11, 23))
    assert record.layout == layout.name and record.from_card is layout.from_card
    assert layout.value(fields, "full_name") == record.full_name
    assert layout.value(fields, "address") == record.address
    assert set(layout.date_fields) == {"date_of_birth", "issue_date"}


def test_a_layout_without_a_field_reads_it_as_empty():
    layout = layout_for(6)
    assert layout is not None and not layout.from_card
    assert layout.value(split_fields(APP), "old_id_number") == ""


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (P2021, "089202012345"),
        (P2021.encode(), "089202012345"),
        ("\ufeff" + P2021, "089202012345"),
        (b"\xef\xbb\xbf" + P2021.encode(), "089202012345"),
        (APP, "089202012345"),
        ("08920201234|x", None),  # 11 digits
        ("0892020123456|x", None),  # 13 digits
        ("089202012345", None),  # no separator: not a CCCD payload
        ("٠٨٩٢٠٢٠١٢٣٤٥|x", None),  # Arabic-Indic digits are digits to str.isdigit, not to a card
        (b"", None),
        ("https://example.org/", None),
    ],
)
def test_peek_id_number_finds_the_leading_id_and_nothing_else(payload, expected):
    assert peek_id_number(payload) == expected
