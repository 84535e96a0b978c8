"""QR <-> chip cross-check."""

from __future__ import annotations

from datetime import date

import pytest

from edge.trust.crosscheck import IdentityFields, crosscheck, names_match, strip_diacritics
from edge.trust.levels import TrustLevel
from edge.trust.result import CheckName, CheckStatus, TrustResult

QR = IdentityFields("001099012345", "Nguyễn Văn An", date(1999, 2, 1), "M")


@pytest.mark.parametrize(
    "a,b",
    [
        ("NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<", "Nguyễn Văn An"),  # MRZ vs QR
        ("Nguyễn Văn An", "NGUYỄN VĂN AN"),  # DG13 capitals
        ("Nguyen Van An", "Nguyễn  Văn An"),  # keyboard-wedge scanner lost the diacritics
        ("TRAN<<DUC<DUNG", "Trần Đức Dũng"),  # Đ -> D
        ("Nguyễn Văn An", "Nguyễn Văn An"),  # NFD vs NFC
        ("TON<<NU<THI<PHUONG<THAO<NGUYEN", "Tôn Nữ Thị Phương Thảo Nguyên Anh"),  # truncated TD1 line 3 (30)
    ],
)
def test_names_that_match(a, b):
    assert names_match(a, b)
    assert names_match(b, a)


@pytest.mark.parametrize(
    "a,b",
    [
        ("Nguyễn Văn An", "Nguyễn Văn Ân"),  # both with diacritics: exact
        ("NGUYEN<<VAN<AN", "Nguyễn Văn Anh"),
        ("Lê Văn A", "Lê Văn B"),
        ("NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<", "Nguyễn Văn Ann"),  # not truncated: filler present
    ],
)
def test_names_that_differ(a, b):
    assert not names_match(a, b)


def test_strip_diacritics_maps_d_with_stroke():
    assert strip_diacritics("Đặng Thị Đào") == "Dang Thi Dao"


def test_same_person_passes():
    chip = IdentityFields("001099012345", "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<", date(1999, 2, 1), "M")
    c = crosscheck(QR, chip)
    assert c.status is CheckStatus.PASSED
    assert c.details["compared"] == ["id_number", "full_name", "date_of_birth", "sex"]


def test_each_mismatch_is_reported_separately_and_makes_the_reading_invalid():
    chip = IdentityFields("001099054321", "Trần Thị Bình", date(1999, 2, 2), "F")
    c = crosscheck(QR, chip)
    assert c.status is CheckStatus.FAILED
    assert c.codes == ["id_number_mismatch", "name_mismatch", "date_of_birth_mismatch", "sex_mismatch"]
    r = TrustResult(qr_present=True).with_check(CheckName.CROSSCHECK, c)
    assert r.level is TrustLevel.INVALID


def test_missing_fields_are_not_compared():
    c = crosscheck(QR, IdentityFields(None, None, None, None))
    assert c.status is CheckStatus.NOT_CHECKED
    c = crosscheck(QR, IdentityFields("001099012345", None, None, None))
    assert c.status is CheckStatus.PASSED and c.details["compared"] == ["id_number"]
