"""Dropped-diacritics detection for keyboard-mode scanners (pure)."""

from __future__ import annotations

from reader_drivers.qr.text_checks import diacritics_lost, looks_like_cccd

INTACT = "034303012345||Nguyễn Thị B|21032003|Nữ|Thôn E, Xã F, Huyện G, Thái Bình|14082021"
DROPPED = "034303012345||Nguyn Th B|21032003|N|Thn E, X F, Huyn G, Thi Bnh|14082021"
FOLDED = "034303012345||Nguyen Thi B|21032003|Nu|Thon E, Xa F, Huyen G, Thai Binh|14082021"
FOLDED_MALE = "089202012345|351234567|Le Van A|23052002|Nam|To 1, Ap B, Xa C, Huyen D, An Giang|31122021"


def test_intact_payload_is_fine():
    assert diacritics_lost(INTACT) is None
    assert diacritics_lost(INTACT + "||||\r\n") is None


def test_dropped_and_folded_letters_are_detected_with_the_fix():
    for text in (DROPPED, FOLDED, FOLDED_MALE):
        finding = diacritics_lost(text)
        assert finding is not None
        assert "serial" in finding.message_en.lower() and "serial" in finding.message_vi.lower()
        assert finding.code == "qr.diacritics_lost"


def test_non_cccd_text_is_not_judged():
    assert diacritics_lost("https://example.org/") is None
    assert diacritics_lost("hello|world") is None
    assert looks_like_cccd(INTACT) and not looks_like_cccd("12345|x|y")
