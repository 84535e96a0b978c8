"""The hand-off to the hospital information system (HIS) in XML130 field names.

Decision 130/QĐ-BYT names the patient fields the HIS sends to the social-insurance
gateway: ``so_cccd``, ``ho_ten`` (with diacritics), ``ngay_sinh`` as ``yyyymmdd0000``,
``gioi_tinh`` 1 = Nam / 2 = Nữ, ``dia_chi``, ``ma_quoctich`` and ``ma_dantoc``.
"""

from __future__ import annotations

import unicodedata

from edge.desk.view import PatientView

# Nationality code of Viet Nam in the HIS catalogue (?): kept in one place to correct.
VIETNAM_NATIONALITY_CODE = "000"

# The 54 ethnic groups in the order of Decision 121-TCTK/PPCĐ, whose position is the
# two-digit code HIS catalogues use (?: verify against the facility's catalogue).
ETHNIC_GROUPS = [
    "Kinh", "Tày", "Thái", "Hoa", "Khơ-me", "Mường", "Nùng", "Hmông", "Dao", "Gia-rai",
    "Ngái", "Ê-đê", "Ba-na", "Xơ-đăng", "Sán Chay", "Cơ-ho", "Chăm", "Sán Dìu", "Hrê", "Mnông",
    "Ra-glai", "Xtiêng", "Bru-Vân Kiều", "Thổ", "Giáy", "Cơ-tu", "Gié-Triêng", "Mạ", "Khơ-mú", "Co",
    "Tà-ôi", "Chơ-ro", "Kháng", "Xinh-mun", "Hà Nhì", "Chu-ru", "Lào", "La Chí", "La Ha", "Phù Lá",
    "La Hủ", "Lự", "Lô Lô", "Chứt", "Mảng", "Pà Thẻn", "Cơ Lao", "Cống", "Bố Y", "Si La",
    "Pu Péo", "Brâu", "Ơ Đu", "Rơ-măm",
]


def _fold(text: str) -> str:
    """Lower case, no diacritics, no hyphens or spaces: 'Khơ-me' == 'Khmer'-ish spellings."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).lower()


_ETHNIC_CODES = {_fold(name): f"{i + 1:02d}" for i, name in enumerate(ETHNIC_GROUPS)}
_ETHNIC_CODES.update({_fold("Khmer"): "05", _fold("Mông"): "08", _fold("H'Mông"): "08", _fold("Ê Đê"): "12"})


def ethnicity_code(name: str | None) -> str | None:
    if not name:
        return None
    return _ETHNIC_CODES.get(_fold(name))


def nationality_code(name: str | None) -> str | None:
    if name and _fold(name) in ("vietnam", "vietnamese", "vnm"):
        return VIETNAM_NATIONALITY_CODE
    return None


def his_fields(view: PatientView) -> dict[str, object]:
    """The current patient in XML130 field names, plus how far the card was trusted.

    ``canh_bao`` lists the codes of the findings the receptionist was shown (look-alike
    letters in the name, an expired card...), so the HIS can flag them too.
    """
    return {
        "so_cccd": view.id_number,
        "ho_ten": view.full_name,
        "ngay_sinh": view.date_of_birth.strftime("%Y%m%d") + "0000" if view.date_of_birth else None,
        "gioi_tinh": {"M": 1, "F": 2}.get(view.sex or ""),
        "dia_chi": view.address,
        "ma_quoctich": nationality_code(view.nationality),
        "ma_dantoc": ethnicity_code(view.ethnicity),
        "quoc_tich": view.nationality,
        "dan_toc": view.ethnicity,
        "muc_tin_cay": view.trust_level.value,
        "phuong_thuc": view.method.value if view.method else None,
        "thoi_diem_quet": view.scanned_at.isoformat(),
        "visit_id": view.visit_id,
        "canh_bao": [b.code for b in view.badges if b.severity in ("warning", "error")],
        "da_ghi_nhan": view.checkin_recorded,
    }


def his_rejection(view: PatientView) -> dict[str, object]:
    """A read the desk refused, as the HIS is told it: when and why, never whose."""
    reason = view.reason
    return {
        "trang_thai": "tu_choi",
        "ly_do": reason.code if reason else None,
        "thong_bao_vi": reason.vi if reason else None,
        "thong_bao_en": reason.en if reason else None,
        "muc_tin_cay": view.trust_level.value,
        "thoi_diem_quet": view.scanned_at.isoformat(),
        "visit_id": view.visit_id,
    }
