"""Counts per area, period, district, facility type and facility, aggregated by the database.

The queries behind the province report, the officer's dashboard and their exports. They
read the daily rollups (``daily_usage``, ``area_daily_usage``, ``daily_citizen``) and the
registry, never the raw events, and group and filter in SQL: their cost grows with the
number of facilities and days asked for, not with the number of events.
The counting rules are in docs/counting.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Table, case, exists, func, literal, or_, select

from contract.status import OFFLINE_STATUSES
from server.localformat import Lang
from server.store.base import AREA, AREA_TYPE, CITIZEN, FACILITY, READER, USAGE, as_utc
from server.store.distinct import area_scope, as_date, bounded, calendar_kind, counters, keyed_scope
from server.store.periods import covered_weeks, used_in

#: The trust level of a read that failed verification: a rejected attempt, not a check-in.
REJECTED = "invalid"
TARGET_RATIO = 1.0
#: At most this many facilities are listed as still without a reader.
MAX_LISTED = 5000

@dataclass(frozen=True)
class Area:
    province: str | None = None
    district: str | None = None
    facility: str | None = None

    def label(self, lang: Lang) -> str:
        everywhere = "Toàn bộ" if lang == "vi" else "All areas"
        if self.facility:
            return self.facility
        if self.district:
            return f"{self.district}, {self.province}" if self.province else self.district
        return self.province or everywhere

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if self.province:
            conds.append(FACILITY.c.province == self.province)
        if self.district:
            conds.append(FACILITY.c.district == self.district)
        if self.facility:
            conds.append(FACILITY.c.code == self.facility)
        return conds


@dataclass
class Figures:
    """The counts of one row of the report (a district, a facility type, a month, or the total)."""

    label: str
    facilities: int = 0
    with_reader: int = 0
    checkins: int = 0
    rejected: int = 0
    citizens: int | None = 0  # None: not countable exactly within the budget (server/store/distinct.py)

    @property
    def share(self) -> float:
        return self.with_reader / self.facilities if self.facilities else 0.0

    @property
    def missing(self) -> int:
        return self.facilities - self.with_reader

    def as_row(self) -> dict[str, str | int | float | None]:
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


def facility_counts(conn: Connection, area: Area, key: ColumnElement[str] | None, start: date,
                    end: date) -> dict[str, tuple[int, int]]:
    """(facilities, with a working reader) per key (district, type) or for the whole area (key None)."""
    used = func.sum(case((used_in(start, end, few=bool(area.district or area.facility)), 1), else_=0))
    cols = [key.label("k")] if key is not None else []
    query = select(*cols, func.count(), used).select_from(FACILITY).where(*area.conditions())
    if key is not None:
        query = query.group_by(key)
    return {str(r[0]) if key is not None else "": (int(r[-2]), int(r[-1] or 0)) for r in conn.execute(query)}


def usage_counts(conn: Connection, area: Area, key: ColumnElement[str] | None, start: date,
                 end: date) -> dict[str, tuple[int, int]]:
    """(check-ins, rejected attempts) per key (province, district, type) or for the whole area (key None).

    An area, by province, district or facility type or not: the per-district rollups
    (``area_daily_usage``, ``type_daily_usage``), which keep the district and type a facility
    had when each event was stored, as the distinct counters do (docs/counting.md). One
    facility, or another key: the facility rollup joined to the registry.
    """
    if not area.facility and key is FACILITY.c.type:
        t = AREA_TYPE  # summing every facility's rows cost 0.9-1.3 s at 10 M events on PostgreSQL
        by_type = (select(t.c.facility_type, func.sum(t.c.checkins), func.sum(t.c.rejected))
                 .where(t.c.day.between(start, end), *([t.c.province == area.province] if area.province else []),
                        *([t.c.district == area.district] if area.district else []))
                 .group_by(t.c.facility_type))
        return {str(k): (int(c or 0), int(r or 0)) for k, c, r in conn.execute(by_type)}
    area_key = {id(FACILITY.c.province): AREA.c.province, id(FACILITY.c.district): AREA.c.district}.get(id(key))
    table, conds = _rollup(area)
    if key is not None and area_key is None:
        table, conds = USAGE, []
        if area.facility:
            conds.append(USAGE.c.facility_code == area.facility)
        elif area.province or area.district:  # the area's facilities by the registry index
            conds.append(USAGE.c.facility_code.in_(select(FACILITY.c.code).where(*area.conditions())))
    rejected = table.c.trust_level == REJECTED
    sums = (func.sum(case((rejected, 0), else_=table.c.checkins)).label("checkins"),
            func.sum(case((rejected, table.c.checkins), else_=0)).label("rejected"))
    if table is AREA:
        cols = [area_key.label("k")] if area_key is not None else []
        query = select(*cols, *sums).where(table.c.day.between(start, end), *conds)
        if area_key is not None:
            query = query.group_by(area_key)
    else:
        # sum per facility first (the rollup's primary-key order), then join the registry: joining
        # row by row through the day index costs seconds for a country-wide quarter
        per = (select(USAGE.c.facility_code, *sums).where(USAGE.c.day.between(start, end), *conds)
               .group_by(USAGE.c.facility_code).subquery())
        cols = [key.label("k")] if key is not None else []
        query = (select(*cols, func.sum(per.c.checkins), func.sum(per.c.rejected))
                 .select_from(per.join(FACILITY, FACILITY.c.code == per.c.facility_code))
                 .where(*area.conditions()))
        if key is not None:
            query = query.group_by(key)
    return {str(r[0]) if key is not None else "": (int(r[-2] or 0), int(r[-1] or 0)) for r in conn.execute(query)}


def citizen_counts(conn: Connection, area: Area, key: ColumnElement[str] | None, start: date,
                   end: date) -> defaultdict[str, int | None]:
    """Distinct citizens (pseudonyms) per key (0 for a key absent): a citizen seen in two
    districts counts once in the total.

    A calendar period reads the counters (one row per key; a district named across
    provinces by the one province that has it); any other range, or a key without a
    counter, is counted exactly within the budget: None when it cannot be afforded
    (server/store/distinct.py).
    """
    kind = calendar_kind(start, end)
    scopes: dict[str, str | None] = {}
    if kind is not None and key is None:
        scopes[""] = area_scope(area.province, area.district, area.facility)
    elif kind is not None and key is not None:
        provinces: dict[str, set[str]] = {}
        for value, prov in conn.execute(select(key, FACILITY.c.province).where(*area.conditions()).distinct()):
            provinces.setdefault(str(value), set()).add(str(prov))
        for value, provs in provinces.items():
            prov = area.province or (next(iter(provs)) if len(provs) == 1 else None)
            scopes[value] = keyed_scope(prov, area.district, area.facility, str(key.key), value)
    out: defaultdict[str, int | None] = defaultdict(int)
    if kind is not None:
        found = counters(conn, [s for s in scopes.values() if s is not None], kind, start)
        out.update({k: found[s] for k, s in scopes.items() if s is not None})
        if len(out) == len(scopes):
            return out
    missing = [k for k, s in scopes.items() if s is None]
    cols = [key.label("k")] if key is not None else [literal("").label("k")]
    query = (
        select(*cols, func.count(func.distinct(CITIZEN.c.citizen_pseudonym)))
        .select_from(CITIZEN.join(FACILITY, FACILITY.c.code == CITIZEN.c.facility_code))
        .where(CITIZEN.c.day.between(start, end), *area.conditions())
    )
    if key is not None:
        if kind is not None:
            query = query.where(key.in_(missing))
        query = query.group_by(key)
    rows = bounded(conn, query)
    if rows is None:  # the keys without a counter: not counted
        if kind is None:
            return defaultdict(lambda: None)
        out.update(dict.fromkeys(missing))
        return out
    out.update({str(k): n for k, n in rows})
    return out


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
        out.append(Figures(label, n, used, checkins, rejected, citizens[k]))
    return out


def without_reader(conn: Connection, area: Area, start: date, end: date) -> tuple[list[MissingFacility], int]:
    readers = select(func.count()).where(READER.c.facility_code == FACILITY.c.code).scalar_subquery()
    heard = select(func.max(READER.c.last_seen_at)).where(READER.c.facility_code == FACILITY.c.code).scalar_subquery()
    conds = [*area.conditions(), ~used_in(start, end, few=bool(area.district or area.facility))]
    total = int(conn.execute(select(func.count()).select_from(FACILITY).where(*conds)).scalar_one())
    query = (
        select(FACILITY.c.code, FACILITY.c.name, FACILITY.c.type, FACILITY.c.district, readers.label("readers"),
               heard.label("heard"))
        .where(*conds)
        .order_by(FACILITY.c.district, FACILITY.c.type, FACILITY.c.code)
        .limit(MAX_LISTED)
    )
    rows = [
        MissingFacility(r.code, r.name, r.type, r.district, int(r.readers or 0), as_utc(r.heard))
        for r in conn.execute(query)
    ]
    return rows, total


# ---------------------------------------------------------------------- the officer's dashboard
@dataclass(frozen=True)
class DayUsage:
    day: date
    checkins: int
    rejected: int


@dataclass(frozen=True)
class WeekCoverage:
    start: date
    used: int
    facilities: int

    @property
    def share(self) -> float:
        return self.used / self.facilities if self.facilities else 0.0


@dataclass(frozen=True)
class FacilityRow:
    code: str
    name: str
    type: str
    district: str
    readers: int
    covered: bool  # live: a reader heard within the coverage window
    last_heard: datetime | None
    checkins: int
    rejected: int
    citizens: int | None  # None: not countable exactly within the budget


@dataclass(frozen=True)
class ReaderRow:
    facility_code: str
    reader_id: str
    state: str  # online / stopped / last_will / missed_heartbeats / never_seen
    last_seen: datetime | None
    last_heartbeat: datetime | None
    last_checkin: datetime | None
    status_at: datetime | None
    registered_at: datetime | None


def _rollup(area: Area) -> tuple[Table, list[ColumnElement[bool]]]:
    """One facility: its daily rollup; an area: the per-district rollup (far fewer rows)."""
    if area.facility:
        return USAGE, [USAGE.c.facility_code == area.facility]
    conds: list[ColumnElement[bool]] = []
    if area.province:
        conds.append(AREA.c.province == area.province)
    if area.district:
        conds.append(AREA.c.district == area.district)
    return AREA, conds


def usage_series(conn: Connection, area: Area, start: date, end: date) -> list[DayUsage]:
    """Check-ins and rejected attempts per local day that had any."""
    table, conds = _rollup(area)
    rejected = table.c.trust_level == REJECTED
    query = (
        select(table.c.day, func.sum(case((rejected, 0), else_=table.c.checkins)),
               func.sum(case((rejected, table.c.checkins), else_=0)))
        .where(table.c.day.between(start, end), *conds)
        .group_by(table.c.day)
        .order_by(table.c.day)
    )
    return [DayUsage(as_date(d), int(c or 0), int(r or 0)) for d, c, r in conn.execute(query)]


def mix(conn: Connection, area: Area, start: date, end: date) -> tuple[dict[str, int], dict[str, int]]:
    """(reads per method, reads per trust level) in the period; rejected attempts are the ``invalid`` level."""
    table, conds = _rollup(area)
    query = (
        select(table.c.method, table.c.trust_level, func.sum(table.c.checkins))
        .where(table.c.day.between(start, end), *conds)
        .group_by(table.c.method, table.c.trust_level)
    )
    methods: dict[str, int] = {}
    trusts: dict[str, int] = {}
    for method, trust, n in conn.execute(query):
        trusts[trust] = trusts.get(trust, 0) + int(n)
        if trust != REJECTED:  # the method mix is of check-ins
            methods[method] = methods.get(method, 0) + int(n)
    return methods, trusts


def coverage_series(conn: Connection, area: Area, weeks: list[tuple[date, date]]) -> list[WeekCoverage]:
    """Per ISO week: facilities of the area with a card read stored that week, out of all (registered now).

    The district counts of ``area_coverage`` (server/store/periods.py): the country's quarter
    scanned every facility-day of it through ``daily_usage`` before (1.1-1.2 s on PostgreSQL at
    2 M events, 4.8 s for the whole dashboard at 10 M)."""
    total = int(conn.execute(select(func.count()).select_from(FACILITY).where(*area.conditions())).scalar_one())
    if any(s.weekday() != 0 or e != s + timedelta(days=6) for s, e in weeks):
        raise ValueError("coverage_series takes ISO weeks (Monday to Sunday)")
    covered = covered_weeks(conn, area.province, area.district, area.facility, [s for s, _ in weeks]) if weeks else {}
    return [WeekCoverage(start, covered.get(start, 0), total) for start, _end in weeks]


def heard_within(cutoff: datetime) -> ColumnElement[bool]:
    """A reader of the facility was heard (a check-in or a heartbeat) since ``cutoff``: live coverage."""
    return exists().where(
        READER.c.facility_code == FACILITY.c.code,
        (READER.c.last_checkin_at >= cutoff) | (READER.c.last_heartbeat_at >= cutoff),
    )


def facility_rows(conn: Connection, area: Area, start: date, end: date, live_cutoff: datetime, *,
                  limit: int = 500, offset: int = 0) -> tuple[list[FacilityRow], int]:
    """The facilities of an area (a page of them) with their figures for the period, and how many there are."""
    conds = area.conditions()
    total = int(conn.execute(select(func.count()).select_from(FACILITY).where(*conds)).scalar_one())
    own = USAGE.c.facility_code == FACILITY.c.code
    in_period = USAGE.c.day.between(start, end)
    rejected = USAGE.c.trust_level == REJECTED
    checkins = select(func.coalesce(func.sum(case((rejected, 0), else_=USAGE.c.checkins)), 0)).where(own, in_period)
    refused = select(func.coalesce(func.sum(case((rejected, USAGE.c.checkins), else_=0)), 0)).where(own, in_period)
    readers = select(func.count()).where(READER.c.facility_code == FACILITY.c.code)
    heard = select(func.max(READER.c.last_seen_at)).where(READER.c.facility_code == FACILITY.c.code)
    query = (
        select(FACILITY.c.code, FACILITY.c.name, FACILITY.c.type, FACILITY.c.district,
               readers.scalar_subquery().label("readers"), heard.scalar_subquery().label("heard"),
               case((heard_within(live_cutoff), 1), else_=0).label("covered"),
               checkins.scalar_subquery().label("checkins"), refused.scalar_subquery().label("rejected"))
        .where(*conds)
        .order_by(FACILITY.c.code)
        .limit(limit)
        .offset(offset)
    )
    rows = list(conn.execute(query))
    codes = [r.code for r in rows]
    citizens: dict[str, int | None] = {}
    if codes:  # per facility: its own rows (primary-key order), exact within the budget
        cq = (
            select(CITIZEN.c.facility_code, func.count(func.distinct(CITIZEN.c.citizen_pseudonym)))
            .where(CITIZEN.c.facility_code.in_(codes), CITIZEN.c.day.between(start, end))
            .group_by(CITIZEN.c.facility_code)
        )
        counted = bounded(conn, cq)
        citizens = {str(c): n for c, n in counted} if counted is not None else dict.fromkeys(codes)
    return [
        FacilityRow(r.code, r.name, r.type, r.district, int(r.readers or 0), bool(r.covered), as_utc(r.heard),
                    int(r.checkins or 0), int(r.rejected or 0), citizens.get(r.code, 0))
        for r in rows
    ], total


def reader_state(cutoff: datetime) -> ColumnElement[str]:
    """online / stopped / last_will / missed_heartbeats / never_seen, decided by the database
    (docs/counting.md): a clean stop and the broker's will (a lost connection) are told apart."""
    return case(
        (READER.c.status == "stopped", literal("stopped")),
        (READER.c.status == "offline", literal("last_will")),
        (READER.c.last_seen_at.is_(None), literal("never_seen")),
        (READER.c.last_seen_at < cutoff, literal("missed_heartbeats")),
        else_=literal("online"),
    )


def not_online(cutoff: datetime) -> ColumnElement[bool]:
    """``reader_state(cutoff) != "online"`` as plain column tests: PostgreSQL estimates these from
    its statistics (none match in a healthy fleet), where it guessed almost every row for the CASE
    and walked all 13,334 facilities by index for an empty page (230 ms at 40,000 readers)."""
    return or_(READER.c.status.in_(OFFLINE_STATUSES), READER.c.last_seen_at.is_(None), READER.c.last_seen_at < cutoff)


def reader_rows(conn: Connection, facility: str, offline_cutoff: datetime) -> list[ReaderRow]:
    """The readers of one facility with their state, decided by the database (docs/counting.md)."""
    state = reader_state(offline_cutoff)
    query = (
        select(READER.c.facility_code, READER.c.reader_id, state.label("state"), READER.c.last_seen_at,
               READER.c.last_heartbeat_at, READER.c.last_checkin_at, READER.c.status_at, READER.c.registered_at)
        .where(READER.c.facility_code == facility)
        .order_by(READER.c.reader_id)
    )
    return [
        ReaderRow(r.facility_code, r.reader_id, r.state, as_utc(r.last_seen_at), as_utc(r.last_heartbeat_at),
                  as_utc(r.last_checkin_at), as_utc(r.status_at), as_utc(r.registered_at))
        for r in conn.execute(query)
    ]


def area_names(conn: Connection, province: str | None) -> list[str]:
    """The provinces of the registry, or the districts of one province (for the area pickers)."""
    col = FACILITY.c.province if province is None else FACILITY.c.district
    query = select(col).distinct().order_by(col)
    if province is not None:
        query = query.where(FACILITY.c.province == province)
    return [str(v) for (v,) in conn.execute(query) if v]
