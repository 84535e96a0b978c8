"""A seeded synthetic population of Vietnamese citizens, for tests, demos and benchmarks.

Every citizen is made up: names are drawn from common Vietnamese family, middle and given
names, ID numbers follow the ``PPP G YY RRRRRR`` structure with serials from the seed.
The same seed and index always give the same citizen, so a test can regenerate the
exact people a fleet sent and look for them in the broker traffic or the database.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from edge.domain.idnumber import PROVINCES
from edge.domain.validity import LAW_2023_EFFECTIVE, card_expiry

Sex = Literal["M", "F"]

FAMILY_NAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
                "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trương", "Đoàn", "Lương"]
MIDDLE_MALE = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Xuân", "Đình", "Ngọc"]
MIDDLE_FEMALE = ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Phương", "Hồng", "Kim", "Mỹ", "Bích"]
GIVEN_MALE = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hoàng", "Hùng", "Khánh",
              "Long", "Lộc", "Nam", "Phúc", "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt"]
GIVEN_FEMALE = ["Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh",
                "Mai", "Ngân", "Nhung", "Oanh", "Phượng", "Quỳnh", "Thảo", "Trang", "Vân", "Yến"]
HAMLETS = ["Thôn Đông", "Thôn Trung", "Xóm Mới", "Ấp Bắc", "Tổ 3", "Khu phố 5", "Thôn Hạ", "Ấp Phước Lợi"]
COMMUNES = ["Xã Tân Hòa", "Xã Vũ Thắng", "Phường Quang Trung", "Xã Đông Hưng", "Phường Bến Thành",
            "Xã Thụy Liên", "Thị trấn Tiền Hải", "Xã Mỹ Lộc"]
DISTRICTS = ["Huyện Kiến Xương", "Huyện Vũ Thư", "Quận 1", "Huyện Thái Thụy", "Huyện Đông Hưng",
             "Thành phố Thái Bình", "Huyện Tiền Hải", "Huyện Quỳnh Phụ"]
ETHNICITIES = ["Kinh"] * 9 + ["Tày", "Thái", "Mường", "Khmer", "Hoa", "Nùng"]
RELIGIONS = ["Không"] * 8 + ["Phật giáo", "Công giáo"]


@dataclass(frozen=True)
class SyntheticCitizen:
    """One made-up citizen with everything printed on the card and stored on its chip."""

    index: int
    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: Sex
    address: str
    hometown: str
    ethnicity: str
    religion: str
    nationality: str
    issue_date: date
    father_name: str
    mother_name: str
    spouse_name: str | None

    @property
    def card_layout_2024(self) -> bool:
        """Cards issued under the 2023 law carry the 11-field QR."""
        return self.issue_date >= LAW_2023_EFFECTIVE

    @property
    def expiry_date(self) -> date | None:
        return card_expiry(self.date_of_birth, self.issue_date)

    @property
    def can(self) -> str:
        """The PACE card access number: the last 6 digits of the ID number."""
        return self.id_number[-6:]

    def qr_payload(self) -> str:
        """The text of the card's QR code."""
        fields = [
            self.id_number,
            self.old_id_number or "",
            self.full_name,
            self.date_of_birth.strftime("%d%m%Y"),
            "Nam" if self.sex == "M" else "Nữ",
            self.address,
            self.issue_date.strftime("%d%m%Y"),
        ]
        if self.card_layout_2024:
            fields += ["", "", "", ""]
        return "|".join(fields)

    def __repr__(self) -> str:  # personal data (even synthetic) stays out of logs
        return f"SyntheticCitizen(index={self.index})"


class Population:
    """A reproducible population: ``Population(seed).citizen(i)`` is always the same person."""

    def __init__(self, seed: int, *, as_of: date = date(2026, 1, 1)) -> None:
        self.seed = seed
        self.as_of = as_of

    def citizen(self, index: int) -> SyntheticCitizen:
        digest = hashlib.sha256(f"cccd-population/{self.seed}/{index}".encode()).digest()
        rng = random.Random(digest)
        sex: Sex = rng.choice(("M", "F"))
        family = rng.choice(FAMILY_NAMES)
        middle = rng.choice(MIDDLE_MALE if sex == "M" else MIDDLE_FEMALE)
        given = rng.choice(GIVEN_MALE if sex == "M" else GIVEN_FEMALE)
        full_name = f"{family} {middle} {given}"
        if rng.random() < 0.2:  # some names have two given names
            full_name = f"{family} {middle} {rng.choice(GIVEN_MALE + GIVEN_FEMALE)} {given}"

        # Ages 15..90 on the population's reference date.
        dob = self.as_of - timedelta(days=rng.randint(15 * 365, 90 * 365))
        province_code = rng.choice(sorted(PROVINCES))
        century = (dob.year - 1900) // 100
        id_number = (
            f"{province_code}{2 * century + (1 if sex == 'F' else 0)}"
            f"{dob.year % 100:02d}{rng.randrange(10**6):06d}"
        )
        old_id = f"{rng.randrange(10**9):09d}" if rng.random() < 0.6 else None

        # Chip cards from 2021; issued at 14 or later.
        earliest = max(date(2021, 1, 15), dob + timedelta(days=14 * 366))
        latest = self.as_of - timedelta(days=1)
        # Most cards in a clinic's queue are valid: redraw an issue date whose card
        # would expire within three years of the reference date.
        for _ in range(6):
            issue = earliest + timedelta(days=rng.randint(0, max(0, (latest - earliest).days)))
            expiry = card_expiry(dob, issue)
            if expiry is None or expiry > self.as_of + timedelta(days=3 * 365):
                break

        province = PROVINCES[province_code]
        address = (
            f"{rng.choice(HAMLETS)}, {rng.choice(COMMUNES)}, {rng.choice(DISTRICTS)}, {province}"
        )
        hometown = f"{rng.choice(COMMUNES)}, {rng.choice(DISTRICTS)}, {rng.choice(list(PROVINCES.values()))}"
        father = f"{family} {rng.choice(MIDDLE_MALE)} {rng.choice(GIVEN_MALE)}"
        mother = f"{rng.choice(FAMILY_NAMES)} {rng.choice(MIDDLE_FEMALE)} {rng.choice(GIVEN_FEMALE)}"
        spouse = None
        if dob.year < 2000 and rng.random() < 0.6:
            spouse_sex_given = GIVEN_FEMALE if sex == "M" else GIVEN_MALE
            spouse_middle = MIDDLE_FEMALE if sex == "M" else MIDDLE_MALE
            spouse = f"{rng.choice(FAMILY_NAMES)} {rng.choice(spouse_middle)} {rng.choice(spouse_sex_given)}"
        return SyntheticCitizen(
            index=index,
            id_number=id_number,
            old_id_number=old_id,
            full_name=full_name,
            date_of_birth=dob,
            sex=sex,
            address=address,
            hometown=hometown,
            ethnicity=rng.choice(ETHNICITIES),
            religion=rng.choice(RELIGIONS),
            nationality="Việt Nam",
            issue_date=issue,
            father_name=father,
            mother_name=mother,
            spouse_name=spouse,
        )

    def sample(self, count: int, start: int = 0) -> list[SyntheticCitizen]:
        return [self.citizen(i) for i in range(start, start + count)]
