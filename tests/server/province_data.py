"""The synthetic province both browser suites read (tests/server/test_officer_browser.py and
tests/server/test_dashboard_browser.py): 48 facilities of Thái Bình over its 8 districts (35 with
a reader heard this week: 72.9% against the target), 2 in Hà Nam, 30 days of reads with rejected
ones among them, one reader whose last status is the broker's will. Imported as a plain module
(tests/server is on sys.path)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from server.store import Activity, EventStore

VN = timezone(timedelta(hours=7))
DISTRICTS = ["TP Thái Bình", "Đông Hưng", "Hưng Hà", "Kiến Xương", "Quỳnh Phụ", "Thái Thụy", "Tiền Hải", "Vũ Thư"]
KINDS = [("hospital", "Bệnh viện đa khoa"), ("health_station", "Trạm y tế xã"), ("private_clinic", "Phòng khám")]
#: The facility (its index in the codes) whose reader's last status is the will: a lost connection.
LOST_READER = 7


class Province(NamedTuple):
    codes: list[str]  # Thái Bình's 48 facilities, 34001...34048
    checkins: int  # stored reads that are check-ins
    rejected: int  # stored reads that were rejected (invalid), never inside the check-ins


def checkin(code: str, when: datetime, rng: random.Random, trust: TrustLevel, method: Method) -> CheckInEvent:
    return CheckInEvent(event_id=new_event_id(), facility_code=code, reader_id="desk-1", occurred_at=when,
                        method=method, trust_level=trust, citizen_pseudonym=f"{rng.randrange(3000):064x}")


def populate(store: EventStore, rng: random.Random) -> Province:
    """48 facilities in Thái Bình (35 with a reader heard this week) and 2 in Hà Nam; 30 days of reads."""
    lines = ["code,name,type,province,district,commune"]
    codes = []
    for i in range(48):
        district = DISTRICTS[i % len(DISTRICTS)]
        kind, label = KINDS[0] if i < 8 else KINDS[1] if i < 40 else KINDS[2]
        code = f"34{i + 1:03d}"
        codes.append(code)
        lines.append(f"{code},{label} {district} {i + 1},{kind},Thái Bình,{district},Xã {i + 1}")
    lines += ["35001,Bệnh viện Hà Nam,hospital,Hà Nam,Phủ Lý,", "35002,Trạm y tế Hà Nam,health_station,Hà Nam,Phủ Lý,"]
    store.import_facilities("\n".join(lines) + "\n")
    now = datetime.now(VN)
    active = [c for i, c in enumerate(codes[:44]) if i % 8 != 7 and i % 11 != 5]  # 35 facilities
    for code in [*codes[:44], "35001"]:
        store.add_reader(code, "desk-1")
    store.add_reader(codes[0], "desk-2")
    kinds = [(Method.QR, TrustLevel.QR_ONLY)] * 5 + [(Method.CHIP, TrustLevel.CHIP_VERIFIED)] * 3 + [
        (Method.QR_AND_CHIP, TrustLevel.CHIP_VERIFIED_CLONE_CHECKED)] * 2 + [
        (Method.CHIP, TrustLevel.CHIP_DATA_UNANCHORED), (Method.QR, TrustLevel.INVALID)]
    events = []
    for day in range(30):
        for code in active:
            for _ in range(rng.randint(0, 5) + (3 if day < 9 else 0)):
                method, trust = rng.choice(kinds)
                when = now - timedelta(days=day, minutes=rng.randint(0, 300))
                events.append(checkin(code, when, rng, trust, method))
    store.store(events)
    store.store([], [Activity(codes[LOST_READER], "desk-1", "status", now, "offline"),
                     Activity(codes[0], "desk-1", "heartbeat", now)])
    checkins = sum(1 for e in events if e.trust_level != TrustLevel.INVALID)
    return Province(codes, checkins, len(events) - checkins)
