"""Counts per area, period, district, facility type and facility, aggregated by the database.

The queries behind the province report, the officer's dashboard and their exports. They
read the daily rollups (``daily_usage``, ``area_daily_usage``, ``daily_citizen``) and the
registry, never the raw events, and group and filter in SQL: their cost grows with the
number of facilities and days asked for, not with the number of events.
The counting rules are in docs/counting.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, Connection, case, exists, func, select

from server.db import AreaDailyUsage, DailyCitizen, DailyUsage, Facility, Reader
from server.localformat import Lang

FACILITY = Facility.__table__
READER = Reader.__table__
USAGE = DailyUsage.__table__
AREA = AreaDailyUsage.__table__
CITIZEN = DailyCitizen.__table__

#: The trust level of a read that failed verification: a rejected attempt, not a check-in.
REJECTED = "invalid"
TARGET_RATIO = 1.0
#: At most this many facilities are listed as still without a reader.
MAX_LISTED = 5000

@dataclass(frozen=True)
class Area:
    province: str | None = None
    district: str | None = None

    def label(self, lang: Lang) -> str:
        everywhere = "Toàn bộ" if lang == "vi" else "All areas"
        if self.district:
            return f"{self.district}, {self.province}" if self.province else self.district
        return self.province or everywhere

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.province:
            conds.append(FACILITY.c.province == self.province)
        if self.district:
            conds.append(FACILITY.c.district == self.district)
        return conds


@dataclass
class Figures:
    """The counts of one row of the report (a district, a facility type, a month, or the total)."""

    label: str
    facilities: int = 0
    with_reader: int = 0
    checkins: int = 0
    rejected: int = 0
    citizens: int = 0

    @property
    def share(self) -> float:
        return self.with_reader / self.facilities if self.facilities else 0.0

    @property
    def missing(self) -> int:
        return self.facilities - self.with_reader

    def as_row(self) -> dict[str, str | int | float]:
        return {"label": self.label, "facilities": self.facilities, "with_reader": self.with_reader,
                "share": self.share, "target": TARGET_RATIO, "missing": self.missing, "checkins": self.checkins,
                "rejected": self.rejected, "citizens": self.citizens}


@dataclass(frozen=True)
class MissingFacility:
    code: str
    name: str
    type: str
    district: str
    readers: int
    last_heard: datetime | None



def used_in(start: date, end: date) -> ColumnElement[bool]:
    """The facility stored at least one card read (check-in or rejected attempt) between the days."""
    return exists().where(USAGE.c.facility_code == FACILITY.c.code, USAGE.c.day.between(start, end))


def facility_counts(conn: Connection, area: Area, key: ColumnElement[str] | None, start: date,
                     end: date) -> dict[str, tuple[int, int]]:
    """(facilities, with a working reader) per key (district, type) or for the whole area (key None)."""
    used = func.sum(case((used_in(start, end), 1), else_=0))
    cols = [key.label("k")] if key is not None else []
    query = select(*cols, func.count(), used).where(*area.conditions())
    if key is not None:
        query = query.group_by(key)
    return {str(r[0]) if key is not None else "": (int(r[-2]), int(r[-1] or 0)) for r in conn.execute(query)}


def usage_counts(conn: Connection, area: Area, key: ColumnElement[str] | None, start: date,
                  end: date) -> dict[str, tuple[int, int]]:
    """(check-ins, rejected attempts) per key from the facility rollup."""
    rejected = USAGE.c.trust_level == REJECTED
    cols = [key.label("k")] if key is not None else []
    query = (
        select(*cols, func.sum(case((rejected, 0), else_=USAGE.c.checkins)),
               func.sum(case((rejected, USAGE.c.checkins), else_=0)))
        .select_from(USAGE.join(FACILITY, FACILITY.c.code == USAGE.c.facility_code))
        .where(USAGE.c.day.between(start, end), *area.conditions())
    )
    if key is not None:
        query = query.group_by(key)
    return {str(r[0]) if key is not None else "": (int(r[-2] or 0), int(r[-1] or 0)) for r in conn.execute(query)}


def citizen_counts(conn: Connection, area: Area, key: ColumnElement[str] | None, start: date,
                    end: date) -> dict[str, int]:
    """Distinct citizens (pseudonyms) per key: a citizen seen in two districts counts once in the total."""
    cols = [key.label("k")] if key is not None else []
    query = (
        select(*cols, func.count(func.distinct(CITIZEN.c.citizen_pseudonym)))
        .select_from(CITIZEN.join(FACILITY, FACILITY.c.code == CITIZEN.c.facility_code))
        .where(CITIZEN.c.day.between(start, end), *area.conditions())
    )
    if key is not None:
        query = query.group_by(key)
    return {str(r[0]) if key is not None else "": int(r[-1] or 0) for r in conn.execute(query)}


def figures_by(conn: Connection, area: Area, key: ColumnElement[str] | None, start: date, end: date,
             labels: dict[str, str] | None = None) -> list[Figures]:
    facilities = facility_counts(conn, area, key, start, end)
    usage = usage_counts(conn, area, key, start, end)
    citizens = citizen_counts(conn, area, key, start, end)
    out = []
    for k in sorted(set(facilities) | set(usage)):
        n, used = facilities.get(k, (0, 0))
        checkins, rejected = usage.get(k, (0, 0))
        label = (labels or {}).get(k, k) or "—"
        out.append(Figures(label, n, used, checkins, rejected, citizens.get(k, 0)))
    return out


def without_reader(conn: Connection, area: Area, start: date, end: date) -> tuple[list[MissingFacility], int]:
    readers = select(func.count()).where(READER.c.facility_code == FACILITY.c.code).scalar_subquery()
    heard = select(func.max(READER.c.last_seen_at)).where(READER.c.facility_code == FACILITY.c.code).scalar_subquery()
    conds = [*area.conditions(), ~used_in(start, end)]
    total = int(conn.execute(select(func.count()).select_from(FACILITY).where(*conds)).scalar_one())
    query = (
        select(FACILITY.c.code, FACILITY.c.name, FACILITY.c.type, FACILITY.c.district, readers.label("readers"),
               heard.label("heard"))
        .where(*conds)
        .order_by(FACILITY.c.district, FACILITY.c.type, FACILITY.c.code)
        .limit(MAX_LISTED)
    )
    rows = [
        MissingFacility(r.code, r.name, r.type, r.district, int(r.readers or 0),
                        r.heard.replace(tzinfo=UTC) if r.heard is not None and r.heard.tzinfo is None else r.heard)
        for r in conn.execute(query)
    ]
    return rows, total
