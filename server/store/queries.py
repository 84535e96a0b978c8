"""The read side: counts and registry views for the API and the dashboard, from the rollups.

Every query returns the API's response models (:mod:`server.schemas`); none scans the raw events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Connection, Date, case, cast, func, literal, or_, select, union_all
from sqlalchemy.exc import OperationalError

from contract.status import OFFLINE_STATUSES
from server.schemas import (
    FACILITY_LIST,
    Coverage,
    CoverageArea,
    CoverageTotal,
    DistrictUsage,
    FacilityOut,
    FacilityUsage,
    GroupBy,
    Level,
    OfflineReason,
    QuarantineOut,
    ReaderOut,
    UncoveredFacility,
    Usage,
    UsageDay,
    UsagePeriod,
)
from server.store.base import (
    AREA,
    CITIZEN,
    EVENTS,
    FACILITY,
    FACILITY_MONTH,
    QUARANTINE,
    READER,
    REFUSED,
    USAGE,
    StoreBase,
    as_utc,
    utcnow,
)
from server.store.distinct import (
    BREAKDOWN_BUDGET_S,
    OVER_BUDGET,
    Kind,
    area_scope,
    as_date,
    bounded,
    calendar_kind,
    calendar_period,
    counter_series,
    counters,
    interrupted,
    time_budget,
)

#: The most facilities one per-facility breakdown lists (a province has a few thousand; the country
#: 40,000 made a 4.4 MB answer of 1.7 s on PostgreSQL at 10 M events).
MAX_BREAKDOWN_FACILITIES = 10_000
#: Why a per-facility breakdown was refused (422): the figures are exact or not given.
BREAKDOWN_OVER_BUDGET = ("too many facility-days in this range to list every facility within the time budget: "
                         "ask for a province or a district, or a shorter range")


class OverBudget(ValueError):
    """A figure the store cannot work out within its time budget (the API answers 422 with the reason)."""

#: A condition on a facility-code column (one facility, or the facilities of an area).
FacilityFilter = Callable[[ColumnElement[str]], ColumnElement[bool]]


def period_start(day: date, group_by: GroupBy) -> date:
    return calendar_period(group_by.value, day)[0]


def period_end(start: date, group_by: GroupBy) -> date:
    return calendar_period(group_by.value, start)[1]


_KINDS: dict[GroupBy, Kind] = {GroupBy.day: "day", GroupBy.week: "week", GroupBy.month: "month"}


@dataclass
class _Period:
    checkins: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    by_trust: Counter[str] = field(default_factory=Counter)


class Queries(StoreBase):
    """Read-only queries."""

    def facilities(self, province: str | None = None, district: str | None = None) -> list[FacilityOut]:
        query = select(FACILITY).order_by(FACILITY.c.province, FACILITY.c.district, FACILITY.c.code)
        if province:
            query = query.where(FACILITY.c.province == province)
        if district:
            query = query.where(FACILITY.c.district == district)
        with self.engine.connect() as conn:  # one validation call for the list: a third less for 40,000
            return FACILITY_LIST.validate_python(conn.execute(query).mappings().all())

    def readers(
        self, offline_after: timedelta, facility: str | None = None, *, offline: bool | None = None,
        province: str | None = None, limit: int | None = None, offset: int = 0,
    ) -> list[ReaderOut]:
        """Readers in (facility, reader) order, filtered (``offline``, ``facility``,
        ``province``) and paged (``limit``, ``offset``) in the database: at 40,000 readers
        the whole fleet is never built in Python (3-16 s per call before)."""
        now = utcnow()
        query = (
            select(READER.c.facility_code, READER.c.reader_id, READER.c.mqtt_username, READER.c.registered_at,
                   READER.c.last_checkin_at, READER.c.last_heartbeat_at, READER.c.last_seen_at,
                   READER.c.status, READER.c.status_at, FACILITY.c.name, FACILITY.c.province, FACILITY.c.district)
            .join(FACILITY, FACILITY.c.code == READER.c.facility_code)
            .order_by(READER.c.facility_code, READER.c.reader_id)
        )
        if facility:
            query = query.where(READER.c.facility_code == facility)
        if province:
            query = query.where(FACILITY.c.province == province)
        if offline is not None:
            # the same rule as offline_reason below: its last will, never heard, or silent too long
            silent = or_(func.coalesce(READER.c.status, "").in_(OFFLINE_STATUSES), READER.c.last_seen_at.is_(None),
                         READER.c.last_seen_at < now - offline_after)
            query = query.where(silent if offline else ~silent)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        out = []
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                row = dict(r._mapping)
                for key in ("registered_at", "last_checkin_at", "last_heartbeat_at", "last_seen_at", "status_at"):
                    value = as_utc(row[key])
                    row[key] = value.isoformat() if value else None
                seen = as_utc(r.last_seen_at)
                reason: OfflineReason | None = None
                if r.status == "stopped":
                    reason = OfflineReason.stopped
                elif r.status == "offline":
                    reason = OfflineReason.last_will
                elif seen is None:
                    reason = OfflineReason.never_seen
                elif now - seen > offline_after:
                    reason = OfflineReason.missed_heartbeats
                row["online"], row["offline_reason"] = reason is None, reason
                row["facility_name"] = row.pop("name")
                out.append(ReaderOut.model_validate(row))
        return out

    def coverage(self, level: str | Level, days: int, province: str | None = None) -> Coverage:
        """Covered / all facilities per district or province; covered = a reader heard within ``days``."""
        level = Level(level)
        cutoff = utcnow() - timedelta(days=days)
        active = (
            select(READER.c.facility_code)
            .where(or_(READER.c.last_checkin_at >= cutoff, READER.c.last_heartbeat_at >= cutoff))
            .distinct()
            .subquery()
        )
        covered = case((FACILITY.c.code.in_(select(active.c.facility_code)), 1), else_=0)
        keys = [FACILITY.c.province] + ([FACILITY.c.district] if level == Level.district else [])
        query = select(*keys, func.count().label("facilities"), func.sum(covered).label("covered")).group_by(*keys)
        query = query.order_by(*keys)
        if province:
            query = query.where(FACILITY.c.province == province)
        areas = []
        total = covered_total = 0
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                n, c = int(r.facilities), int(r.covered or 0)
                total += n
                covered_total += c
                area = CoverageArea(
                    province=r.province, facilities=n, covered=c, ratio=round(c / n, 4) if n else 0.0,
                    missing_to_target=n - c,
                )
                if level == Level.district:  # set only here: a province's CSV has no district column
                    area.district = r.district
                areas.append(area)
        return Coverage(
            level=level, window_days=days, target_ratio=1.0, areas=areas,
            total=CoverageTotal(
                facilities=total, covered=covered_total,
                ratio=round(covered_total / total, 4) if total else 0.0, missing_to_target=total - covered_total,
            ),
        )

    def uncovered_facilities(self, days: int) -> list[UncoveredFacility]:
        cutoff = utcnow() - timedelta(days=days)
        active = select(READER.c.facility_code).where(
            or_(READER.c.last_checkin_at >= cutoff, READER.c.last_heartbeat_at >= cutoff)
        )
        readers = select(func.count()).where(READER.c.facility_code == FACILITY.c.code).scalar_subquery()
        query = (
            select(FACILITY, readers.label("readers"))
            .where(FACILITY.c.code.not_in(active))
            .order_by(FACILITY.c.province, FACILITY.c.district, FACILITY.c.code)
        )
        with self.engine.connect() as conn:
            return [UncoveredFacility.model_validate(dict(r._mapping)) for r in conn.execute(query)]

    @staticmethod
    def _facility_filter(facility: str | None, district: str | None, province: str | None) -> FacilityFilter | None:
        if facility:
            return lambda col: col == facility
        if district or province:
            sub = select(FACILITY.c.code)
            if province:
                sub = sub.where(FACILITY.c.province == province)
            if district:
                sub = sub.where(FACILITY.c.district == district)
            return lambda col: col.in_(sub)
        return None

    def usage(
        self,
        facility_code: str | None,
        start: date,
        end: date,
        *,
        group_by: str | GroupBy = GroupBy.day,
        district: str | None = None,
        province: str | None = None,
        distinct: bool = True,
    ) -> Usage:
        """Check-ins (by method and trust level) and distinct citizens per period, from the rollups."""
        group = GroupBy(group_by)
        where = self._facility_filter(facility_code, district, province)
        # one facility: its daily rollup; an area or everything: the per-district rollup
        table = USAGE if facility_code else AREA
        conds: list[ColumnElement[bool]] = [table.c.day.between(start, end)]
        if facility_code:
            conds.append(USAGE.c.facility_code == facility_code)
        else:
            if province:
                conds.append(AREA.c.province == province)
            if district:
                conds.append(AREA.c.district == district)
        query = (
            select(table.c.day, table.c.method, table.c.trust_level, func.sum(table.c.checkins))
            .where(*conds)
            .group_by(table.c.day, table.c.method, table.c.trust_level)
        )
        periods: dict[date, _Period] = {}
        by_method: Counter[str] = Counter()
        by_trust: Counter[str] = Counter()
        with self.engine.connect() as conn:
            for day, method, trust, count in conn.execute(query):
                n = int(count)
                p = periods.setdefault(period_start(day, group), _Period())
                p.checkins += n
                p.by_method[method] += n
                p.by_trust[trust] += n
                by_method[method] += n
                by_trust[trust] += n
            distinct_per: dict[date, int | None] = {}
            distinct_total: int | None = 0
            if distinct and periods:
                scope = area_scope(province, district, facility_code)
                distinct_per = self._distinct_per_period(conn, scope, where, start, end, group)
                if period_start(start, group) == period_start(end, group):  # one period: the same count
                    distinct_total = distinct_per.get(period_start(start, group), 0)
                else:
                    distinct_total = self._distinct(conn, scope, where, start, end)
        rows = [
            UsagePeriod(period=ps.isoformat(), checkins=periods[ps].checkins,
                        distinct_citizens=distinct_per.get(ps, 0),
                        by_method=dict(periods[ps].by_method), by_trust=dict(periods[ps].by_trust))
            for ps in sorted(periods)
        ]
        missing = distinct_total is None or any(r.distinct_citizens is None for r in rows)
        return Usage(
            facility=facility_code, district=district, province=province, from_=start, to=end, group_by=group,
            periods=rows, total_checkins=sum(r.checkins for r in rows), distinct_citizens=distinct_total,
            distinct_citizens_note=OVER_BUDGET if missing else None,
            by_method=dict(by_method), by_trust=dict(by_trust),
            days=[UsageDay(day=r.period, checkins=r.checkins, distinct_citizens=r.distinct_citizens) for r in rows]
            if group == GroupBy.day else None,
        )

    def _distinct_per_period(
        self, conn: Connection, scope: str | None, where: FacilityFilter | None, start: date, end: date,
        group_by: GroupBy,
    ) -> dict[date, int | None]:
        """Distinct pseudonyms per period (docs/counting.md): a period wholly inside the range
        reads its counter (one query for all of them); a period cut by the range's ends, or
        an area without counters, is counted exactly within the budget (None beyond it)."""
        kind = _KINDS[group_by]
        out: dict[date, int | None] = {}
        first, last = period_start(start, group_by), period_start(end, group_by)
        if scope is not None:
            full_first = first if first == start else period_end(first, group_by) + timedelta(days=1)
            full_last = last if period_end(last, group_by) == end else last - timedelta(days=1)
            if full_first <= full_last:
                out.update(counter_series(conn, scope, kind, full_first, period_start(full_last, group_by)))
            cut = [p for p in {first, last} if p < full_first or p > full_last]
            for ps in sorted(cut):
                out[ps] = self._exact(conn, where, max(ps, start), min(period_end(ps, group_by), end))
            return {k: v for k, v in out.items() if v != 0}
        day = CITIZEN.c.day
        bucket: ColumnElement[date]
        if group_by == GroupBy.day:
            bucket = day
        elif conn.dialect.name == "postgresql":
            bucket = cast(func.date_trunc(group_by.value, day), Date)
        elif group_by == GroupBy.week:  # back 6 days, then on to a Monday: the ISO week's Monday
            bucket = func.date(day, "-6 days", "weekday 1", type_=Date)
        else:
            bucket = func.date(day, "start of month", type_=Date)
        conds: list[ColumnElement[bool]] = [day.between(start, end)]
        if where is not None:
            conds.append(where(CITIZEN.c.facility_code))
        query = (
            select(bucket.label("p"), func.count(func.distinct(CITIZEN.c.citizen_pseudonym)))
            .where(*conds)
            .group_by(bucket)
        )
        rows = bounded(conn, query)
        if rows is None:  # every period unknown, each said so
            ps = first
            while ps <= end:
                out[ps] = None
                ps = period_end(ps, group_by) + timedelta(days=1)
            return out
        return {as_date(p): n for p, n in rows}

    def _distinct(
        self, conn: Connection, scope: str | None, where: FacilityFilter | None, start: date, end: date
    ) -> int | None:
        """Distinct pseudonyms over the range: a calendar period's counter, else exact within the budget."""
        kind = calendar_kind(start, end)
        if scope is not None and kind is not None:
            return counters(conn, [scope], kind, start)[scope]
        return self._exact(conn, where, start, end)

    @staticmethod
    def _exact(conn: Connection, where: FacilityFilter | None, start: date, end: date) -> int | None:
        conds: list[ColumnElement[bool]] = [CITIZEN.c.day.between(start, end)]
        if where is not None:
            conds.append(where(CITIZEN.c.facility_code))
        query = select(literal(""), func.count(func.distinct(CITIZEN.c.citizen_pseudonym))).where(*conds)
        rows = bounded(conn, query)
        return None if rows is None else rows[0][1]

    def usage_by_facility(
        self, start: date, end: date, district: str | None = None, province: str | None = None
    ) -> list[FacilityUsage]:
        """Check-ins per facility over a range (from the rollups), every facility of the area listed.

        Summed per facility first (the rollup's key order), then joined to the registry: the
        outer join of every facility with its days, grouped by its name and area, cost 3.5 s for
        a country-wide quarter at 10 M events on PostgreSQL. A range and area whose facility-days
        cannot be summed within :data:`BREAKDOWN_BUDGET_S`, or an area of more than
        :data:`MAX_BREAKDOWN_FACILITIES`, raise :class:`OverBudget` (the API's 422).
        """
        area = [FACILITY.c.province == province] if province else []
        area += [FACILITY.c.district == district] if district else []
        with self.engine.connect() as conn:
            listed = int(conn.execute(select(func.count()).select_from(FACILITY).where(*area)).scalar_one())
        if listed > MAX_BREAKDOWN_FACILITIES:  # megabytes of JSON and seconds of serialisation
            raise OverBudget(f"{listed} facilities in this area, at most {MAX_BREAKDOWN_FACILITIES} in one "
                             "per-facility breakdown: ask for a province or a district")
        # every read, as the API's ``checkins`` (by_trust splits them): the range's whole months from
        # the monthly rollup, the days of a month cut at either end from the daily one
        first = start if start.day == 1 else calendar_period("month", start)[1] + timedelta(days=1)
        last = end if calendar_period("month", end)[1] == end else end.replace(day=1) - timedelta(days=1)
        parts: list[tuple[ColumnElement[str], ColumnElement[int], ColumnElement[bool]]] = []
        if first < last:
            month = FACILITY_MONTH.c
            parts.append((month.facility_code, month.checkins, month.month.between(first, last)))
            days = [(start, first - timedelta(days=1)), (last + timedelta(days=1), end)]
        else:
            days = [(start, end)]
        parts += [(USAGE.c.facility_code, USAGE.c.checkins, USAGE.c.day.between(a, b)) for a, b in days if a <= b]
        selects = []
        for code, checkins, in_range in parts:
            part = select(code.label("facility_code"), checkins.label("checkins")).where(in_range)
            if area:
                part = part.where(code.in_(select(FACILITY.c.code).where(*area)))
            selects.append(part)
        rows_in = union_all(*selects).subquery()
        per = (select(rows_in.c.facility_code, func.sum(rows_in.c.checkins).label("checkins"))
               .group_by(rows_in.c.facility_code).subquery())
        query = (
            select(FACILITY.c.code, FACILITY.c.name, FACILITY.c.province, FACILITY.c.district,
                   func.coalesce(per.c.checkins, 0))
            .select_from(FACILITY.outerjoin(per, per.c.facility_code == FACILITY.c.code))
            .where(*area)
            .order_by(FACILITY.c.province, FACILITY.c.district, FACILITY.c.code)
        )
        with self.engine.connect() as conn:
            try:
                with time_budget(conn, BREAKDOWN_BUDGET_S):
                    rows = conn.execute(query).all()
            except OperationalError as exc:
                if interrupted(exc):
                    raise OverBudget(BREAKDOWN_OVER_BUDGET) from None
                raise
        return [FacilityUsage(code=c, name=n, province=p, district=d, checkins=int(k)) for c, n, p, d, k in rows]

    def usage_by_district(self, start: date, end: date, province: str | None = None) -> list[DistrictUsage]:
        query = (
            select(AREA.c.province, AREA.c.district, func.sum(AREA.c.checkins).label("checkins"))
            .where(AREA.c.day.between(start, end))
            .group_by(AREA.c.province, AREA.c.district)
            .order_by(AREA.c.province, AREA.c.district)
        )
        if province:
            query = query.where(AREA.c.province == province)
        with self.engine.connect() as conn:
            return [DistrictUsage.model_validate(dict(r._mapping) | {"checkins": int(r.checkins)})
                    for r in conn.execute(query)]

    def quarantine(self, start: date, end: date, limit: int = 1000) -> list[QuarantineOut]:
        """The newest quarantined messages received on the local days ``start``..``end``."""
        since = datetime.combine(start, time(0), tzinfo=self.tz).astimezone(UTC)
        until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)
        query = (
            select(QUARANTINE)
            .where(QUARANTINE.c.received_at >= since, QUARANTINE.c.received_at < until)
            .order_by(QUARANTINE.c.received_at.desc(), QUARANTINE.c.id.desc())
            .limit(limit)
        )
        out = []
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                row = dict(r._mapping)
                received = as_utc(r.received_at)
                row["received_at"] = received.isoformat() if received else ""
                out.append(QuarantineOut.model_validate(row))
        return out

    def refused_counts(self) -> dict[str, int]:
        query = select(REFUSED.c.reason, func.sum(REFUSED.c.count)).group_by(REFUSED.c.reason)
        with self.engine.connect() as conn:
            return {r: int(n) for r, n in conn.execute(query)}

    def event_count(self) -> int:
        """For tests and audits only: counts the raw events."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())
