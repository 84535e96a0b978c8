"""The 12-digit personal ID number: ``PPP G YY RRRRRR``.

PPP is the province where the birth was registered (a leading non-zero digit means a
foreign country), G the century and sex, YY the last two digits of the birth year, and
RRRRRR a serial. The regulation that defined this structure expired in July 2024, so
the structure is used to decode and to cross-check, never to reject a number outright.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Sex = Literal["M", "F"]

ID_NUMBER_RE = re.compile(r"^[0-9]{12}$")

# Circular 07/2016/TT-BCA, Annex I. Provinces merged into 34 in 2025, but ID numbers
# keep their old prefixes, so the old list is the one that decodes them.
PROVINCES: dict[str, str] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
    "008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
    "014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
    "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
    "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
    "037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
    "044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
    "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
    "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
    "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
    "077": "Bà Rịa–Vũng Tàu", "079": "TP Hồ Chí Minh", "080": "Long An",
    "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long",
    "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
    "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}


class IdNumberInfo(BaseModel):
    """What the ID number itself says about its holder."""

    model_config = ConfigDict(frozen=True)

    province_code: str
    province_name: str | None
    born_abroad: bool
    sex: Sex
    birth_year: int
    serial: str


def is_id_number(value: str) -> bool:
    """True when ``value`` is exactly 12 ASCII digits."""
    return bool(ID_NUMBER_RE.match(value))


def decode_id_number(id_number: str) -> IdNumberInfo:
    """Decode a 12-digit ID number; the caller has checked its format."""
    if not is_id_number(id_number):
        raise ValueError("not a 12-digit ID number")
    province = id_number[0:3]
    century_sex = int(id_number[3])
    yy = int(id_number[4:6])
    return IdNumberInfo(
        province_code=province,
        province_name=PROVINCES.get(province),
        born_abroad=province[0] != "0",
        sex="F" if century_sex % 2 else "M",
        # 0/1 = 1900s, 2/3 = 2000s, 4/5 = 2100s, ...
        birth_year=1900 + 100 * (century_sex // 2) + yy,
        serial=id_number[6:],
    )


def redact_id_number(id_number: str) -> str:
    """The form an ID number may take in a log line: the last 3 digits only."""
    return "*********" + id_number[-3:] if len(id_number) >= 3 else "***"
