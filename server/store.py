"""Writing events and reading counts: the server's core, with no MQTT and no HTTP.

The writer is single (one ingest thread per server): a batch is stored in one
transaction — new events, their daily rollups, the readers' last activity and the
refusal counts — and only then acknowledged to the broker. De-duplication is by event
id: ids already stored are looked up in the batch's transaction, and the insert itself
also ignores conflicts.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Date, Engine, and_, bindparam, case, cast, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from edge.events import CheckInEvent
from server.db import (
    FACILITY_TYPES,
    AreaDailyUsage,
    CheckInRow,
    DailyCitizen,
    DailyUsage,
    Facility,
    Reader,
    RefusedDaily,
)

EVENTS = CheckInRow.__table__
USAGE = DailyUsage.__table__
AREA = AreaDailyUsage.__table__
CITIZEN = DailyCitizen.__table__
REFUSED = RefusedDaily.__table__
FACILITY = Facility.__table__
READER = Reader.__table__

_CHUNK = 500

TYPE_ALIASES = {
    "hospital": "hospital",
    "bệnh viện": "hospital",
    "benh vien": "hospital",
    "health_station": "health_station",
    "trạm y tế": "health_station",
    "tram y te": "health_station",
    "private_clinic": "private_clinic",
    "phòng khám tư nhân": "private_clinic",
    "phong kham tu nhan": "private_clinic",
}
FACILITY_CSV_COLUMNS = ("code", "name", "type", "province", "district", "commune")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Stored datetimes are UTC; SQLite gives them back naive."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _insert(conn: Connection, table):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT for the engine's dialect."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


@dataclass(frozen=True)
class Activity:
    """A status or heartbeat message from a registered reader."""

    facility_code: str
    reader_id: str
    kind: str  # "status" | "heartbeat"
    at: datetime
    status: str | None = None
    retained: bool = False  # a retained status replayed by the broker on subscribe: not a sign of life


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    stored_events: list[CheckInEvent] = field(default_factory=list)


class RegistryError(ValueError):
    pass


def period_start(day: date, group_by: str) -> date:
    if group_by == "day":
        return day
    if group_by == "week":  # ISO weeks start on Monday
        return day - timedelta(days=day.weekday())
    if group_by == "month":
        return day.replace(day=1)
    raise ValueError(group_by)


def period_end(start: date, group_by: str) -> date:
    if group_by == "day":
        return start
    if group_by == "week":
        return start + timedelta(days=6)
    nxt = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


class EventStore:
    """Stores events exactly once and keeps the rollups in the same transaction."""

    def __init__(self, engine: Engine, timezone_name: str = "Asia/Ho_Chi_Minh") -> None:
        self.engine = engine
        self.tz = ZoneInfo(timezone_name)

    # ------------------------------------------------------------------ writing
    def store(
        self,
        events: list[CheckInEvent],
        activity: Iterable[Activity] = (),
        refused: Counter[str] | None = None,
        auto_register: Iterable[tuple[str, str]] = (),
    ) -> StoreResult:
        """Store a batch in one transaction; duplicates (by event id) change nothing."""
        result = StoreResult()
        now = utcnow()
        with self.engine.begin() as conn:
            for facility, reader in auto_register:
                self._auto_register(conn, facility, reader, now)
            unique: dict[str, CheckInEvent] = {}
            for ev in events:
                if ev.event_id in unique:
                    result.duplicates += 1
                else:
                    unique[ev.event_id] = ev
            new = self._insert_events(conn, list(unique.values()), now) if unique else []
            result.duplicates += len(unique) - len(new)
            result.stored = len(new)
            result.stored_events = new
            self._touch_readers(conn, new, list(activity), now)
            if refused:
                today = now.astimezone(self.tz).date()
                conn.execute(
                    _insert(conn, REFUSED)
                    .values(day=bindparam("d"), reason=bindparam("r"), count=bindparam("n"))
                    .on_conflict_do_update(
                        index_elements=["day", "reason"], set_={"count": REFUSED.c.count + bindparam("n")}
                    ),
                    [{"d": today, "r": reason, "n": n} for reason, n in refused.items()],
                )
        return result

    def _insert_events(self, conn: Connection, events: list[CheckInEvent], now: datetime) -> list[CheckInEvent]:
        """The batch's new events and their rollups: one statement per table, rows as a JSON array.

        The events' insert ignores ids already stored and returns the ids it inserted
        (the database decides what is new, even with a second writer); only those
        count in the rollups.

        One statement per table instead of an executemany: the driver then runs a
        single step for the whole batch instead of one per row (each step releases and
        re-takes the GIL, which under load costs more than the insert itself). SQLite
        gets datetimes and dates in SQLAlchemy's own text format, so that the ORM reads
        them back unchanged.
        """
        is_pg = conn.dialect.name == "postgresql"

        def ts(value: datetime) -> str:  # value is in UTC
            if is_pg:
                return value.isoformat()
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")  # SQLAlchemy's SQLite format

        received = ts(now)
        rows = []
        days: list[str] = []
        tz = self.tz
        for ev in events:
            occurred = ev.occurred_at
            day = occurred.astimezone(tz).date().isoformat()
            days.append(day)
            rows.append((ev.event_id, ev.facility_code, ev.reader_id, ts(occurred.astimezone(UTC)),
                         day, ev.method.value, ev.trust_level.value, ev.citizen_pseudonym, received))
        if is_pg:
            src = "FROM json_array_elements(%s::json) AS e"

            def col(i: int, cast: str = "") -> str:
                return f"(e->>{i}){cast}"
        else:
            src = "FROM json_each(?) AS j"

            def col(i: int, cast: str = "") -> str:
                return f"j.value->>{i}"
        tstz, dt, num = ("::timestamptz", "::date", "::int") if is_pg else ("", "", "")
        cursor = conn.exec_driver_sql(
            "INSERT INTO checkin_event (event_id, facility_code, reader_id, occurred_at, local_day, method, "
            "trust_level, citizen_pseudonym, received_at) "
            f"SELECT {col(0)}, {col(1)}, {col(2)}, {col(3, tstz)}, {col(4, dt)}, {col(5)}, {col(6)}, {col(7)}, "
            f"{col(8, tstz)} {src} WHERE true ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            (json.dumps(rows),),
        )
        inserted = {r[0] for r in cursor}
        new: list[CheckInEvent] = []
        usage: Counter[tuple[str, str, str, str]] = Counter()
        citizens: set[tuple[str, str, str]] = set()
        for ev, day in zip(events, days):
            if ev.event_id in inserted:
                new.append(ev)
                usage[(ev.facility_code, day, ev.method.value, ev.trust_level.value)] += 1
                citizens.add((ev.facility_code, day, ev.citizen_pseudonym))
        if not new:
            return new
        conn.exec_driver_sql(
            "INSERT INTO daily_usage (facility_code, day, method, trust_level, checkins) "
            f"SELECT {col(0)}, {col(1, dt)}, {col(2)}, {col(3)}, {col(4, num)} {src} WHERE true "
            "ON CONFLICT (facility_code, day, method, trust_level) "
            "DO UPDATE SET checkins = daily_usage.checkins + excluded.checkins",
            (json.dumps([[f, d, m, t, n] for (f, d, m, t), n in usage.items()]),),
        )
        j = "e" if is_pg else "j.value"
        conn.exec_driver_sql(
            "INSERT INTO area_daily_usage (province, district, day, method, trust_level, checkins) "
            f"SELECT f.province, f.district, {col(1, dt)}, {col(2)}, {col(3)}, SUM({col(4, num)}) {src} "
            f"JOIN facility f ON f.code = ({j}->>0) WHERE true GROUP BY 1, 2, 3, 4, 5 "
            "ON CONFLICT (province, district, day, method, trust_level) "
            "DO UPDATE SET checkins = area_daily_usage.checkins + excluded.checkins",
            (json.dumps([[f, d, m, t, n] for (f, d, m, t), n in usage.items()]),),
        )
        conn.exec_driver_sql(
            f"INSERT INTO daily_citizen (facility_code, day, citizen_pseudonym) "
            f"SELECT {col(0)}, {col(1, dt)}, {col(2)} {src} WHERE true ON CONFLICT DO NOTHING",
            (json.dumps(sorted(citizens)),),
        )
        return new

    def _touch_readers(self, conn: Connection, new: list[CheckInEvent], activity: list[Activity], now: datetime) -> None:
        last_checkin: dict[tuple[str, str], datetime] = {}
        for ev in new:
            key = (ev.facility_code, ev.reader_id)
            at = min(ev.occurred_at.astimezone(UTC), now)
            if key not in last_checkin or at > last_checkin[key]:
                last_checkin[key] = at
        for key, at in last_checkin.items():
            conn.execute(
                update(READER)
                .where(READER.c.facility_code == key[0], READER.c.reader_id == key[1])
                .values(
                    last_checkin_at=case(
                        (or_(READER.c.last_checkin_at.is_(None), READER.c.last_checkin_at < at), at),
                        else_=READER.c.last_checkin_at,
                    ),
                    last_seen_at=now,
                )
            )
        for act in activity:
            values: dict[str, object] = {}
            if act.kind == "heartbeat":
                values["last_heartbeat_at"] = now
                values["last_seen_at"] = now
            elif act.retained:
                values["status"] = act.status
            else:
                values["status"] = act.status
                values["status_at"] = now
                values["last_seen_at"] = now
            conn.execute(
                update(READER)
                .where(READER.c.facility_code == act.facility_code, READER.c.reader_id == act.reader_id)
                .values(**values)
            )

    # ------------------------------------------------------------------ registry
    def _auto_register(self, conn: Connection, facility: str, reader: str, now: datetime) -> None:
        conn.execute(
            _insert(conn, FACILITY)
            .values(code=facility, name=facility, type="health_station", province="", district="", commune="")
            .on_conflict_do_nothing()
        )
        conn.execute(
            _insert(conn, READER)
            .values(facility_code=facility, reader_id=reader, registered_at=now)
            .on_conflict_do_nothing()
        )

    def registered(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (facility, reader) pairs are registered."""
        pairs = list(pairs)
        if not pairs:
            return set()
        found: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(pairs), 200):
                chunk = pairs[i : i + 200]
                cond = or_(*[and_(READER.c.facility_code == f, READER.c.reader_id == r) for f, r in chunk])
                found.update(
                    (f, r) for f, r in conn.execute(select(READER.c.facility_code, READER.c.reader_id).where(cond))
                )
        return found

    def import_facilities(self, text: str) -> int:
        """Insert or update facilities from CSV (code,name,type,province,district,commune)."""
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        missing = [c for c in FACILITY_CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RegistryError(f"the CSV lacks the column(s): {', '.join(missing)}")
        rows = []
        for line, row in enumerate(reader, start=2):
            code = (row["code"] or "").strip()
            if not code or not all(ch.isalnum() or ch in "_-" for ch in code) or len(code) > 32:
                raise RegistryError(f"line {line}: bad facility code {code!r}")
            kind = TYPE_ALIASES.get((row["type"] or "").strip().lower())
            if kind is None:
                raise RegistryError(f"line {line}: type must be one of {', '.join(FACILITY_TYPES)}")
            rows.append(
                {
                    "code": code,
                    "name": row["name"].strip(),
                    "type": kind,
                    "province": row["province"].strip(),
                    "district": row["district"].strip(),
                    "commune": (row["commune"] or "").strip(),
                }
            )
        with self.engine.begin() as conn:
            for row in rows:
                stmt = _insert(conn, FACILITY).values(**row)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["code"], set_={k: v for k, v in row.items() if k != "code"}
                    )
                )
        return len(rows)

    def add_reader(self, facility: str, reader: str, username: str | None = None, password_hash: str | None = None) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(FACILITY.c.code).where(FACILITY.c.code == facility)).first() is None:
                raise RegistryError(f"facility {facility} is not registered: import it first")
            values = {"mqtt_username": username, "password_hash": password_hash}
            conn.execute(
                _insert(conn, READER)
                .values(facility_code=facility, reader_id=reader, registered_at=utcnow(), **values)
                .on_conflict_do_update(index_elements=["facility_code", "reader_id"], set_=values)
            )

    def broker_accounts(self) -> list[tuple[str, str, str, str]]:
        """(username, password hash, facility, reader) of every reader with credentials."""
        with self.engine.connect() as conn:
            return [
                tuple(r)  # type: ignore[misc]
                for r in conn.execute(
                    select(READER.c.mqtt_username, READER.c.password_hash, READER.c.facility_code, READER.c.reader_id)
                    .where(READER.c.mqtt_username.is_not(None))
                    .order_by(READER.c.mqtt_username)
                )
            ]

    # ------------------------------------------------------------------ reading
    def facilities(self, province: str | None = None, district: str | None = None) -> list[dict]:
        query = select(FACILITY).order_by(FACILITY.c.province, FACILITY.c.district, FACILITY.c.code)
        if province:
            query = query.where(FACILITY.c.province == province)
        if district:
            query = query.where(FACILITY.c.district == district)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def readers(self, offline_after: timedelta, facility: str | None = None) -> list[dict]:
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
        out = []
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                row = dict(r._mapping)
                for key in ("registered_at", "last_checkin_at", "last_heartbeat_at", "last_seen_at", "status_at"):
                    value = as_utc(row[key])
                    row[key] = value.isoformat() if value else None
                seen = as_utc(r.last_seen_at)
                if r.status == "offline":
                    row["online"], row["offline_reason"] = False, "last_will"
                elif seen is None:
                    row["online"], row["offline_reason"] = False, "never_seen"
                elif now - seen > offline_after:
                    row["online"], row["offline_reason"] = False, "missed_heartbeats"
                else:
                    row["online"], row["offline_reason"] = True, None
                row["facility_name"] = row.pop("name")
                out.append(row)
        return out

    def coverage(self, level: str, days: int, province: str | None = None) -> dict:
        """Covered / all facilities per district or province; covered = a reader heard within ``days``."""
        cutoff = utcnow() - timedelta(days=days)
        active = (
            select(READER.c.facility_code)
            .where(or_(READER.c.last_checkin_at >= cutoff, READER.c.last_heartbeat_at >= cutoff))
            .distinct()
            .subquery()
        )
        covered = case((FACILITY.c.code.in_(select(active.c.facility_code)), 1), else_=0)
        keys = [FACILITY.c.province] + ([FACILITY.c.district] if level == "district" else [])
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
                area = {"province": r.province}
                if level == "district":
                    area["district"] = r.district
                area.update(facilities=n, covered=c, ratio=round(c / n, 4) if n else 0.0, missing_to_target=n - c)
                areas.append(area)
        return {
            "level": level,
            "window_days": days,
            "target_ratio": 1.0,
            "areas": areas,
            "total": {
                "facilities": total,
                "covered": covered_total,
                "ratio": round(covered_total / total, 4) if total else 0.0,
                "missing_to_target": total - covered_total,
            },
        }

    def uncovered_facilities(self, days: int) -> list[dict]:
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
            return [dict(r._mapping) for r in conn.execute(query)]

    def _facility_filter(self, facility: str | None, district: str | None, province: str | None):  # type: ignore[no-untyped-def]
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
        group_by: str = "day",
        district: str | None = None,
        province: str | None = None,
        distinct: bool = True,
    ) -> dict:
        """Check-ins (by method and trust level) and distinct citizens per period, from the rollups."""
        where = self._facility_filter(facility_code, district, province)
        # one facility: its daily rollup; an area or everything: the per-district rollup
        table = USAGE if facility_code else AREA
        conds = [table.c.day.between(start, end)]
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
        periods: dict[date, dict] = {}
        by_method: Counter[str] = Counter()
        by_trust: Counter[str] = Counter()
        with self.engine.connect() as conn:
            for day, method, trust, n in conn.execute(query):
                n = int(n)
                p = periods.setdefault(
                    period_start(day, group_by), {"checkins": 0, "by_method": Counter(), "by_trust": Counter()}
                )
                p["checkins"] += n
                p["by_method"][method] += n
                p["by_trust"][trust] += n
                by_method[method] += n
                by_trust[trust] += n
            distinct_per: dict[date, int] = {}
            distinct_total = 0
            if distinct and periods:
                distinct_per = self._distinct_per_period(conn, where, start, end, group_by)
                if period_start(start, group_by) == period_start(end, group_by):  # one period: the same count
                    distinct_total = sum(distinct_per.values())
                else:
                    distinct_total = self._distinct(conn, where, start, end)
        rows = []
        for ps in sorted(periods):
            p = periods[ps]
            rows.append(
                {
                    "period": ps.isoformat(),
                    "checkins": p["checkins"],
                    "distinct_citizens": distinct_per.get(ps, 0),
                    "by_method": dict(p["by_method"]),
                    "by_trust": dict(p["by_trust"]),
                }
            )
        out = {
            "facility": facility_code,
            "district": district,
            "province": province,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "group_by": group_by,
            "periods": rows,
            "total_checkins": sum(r["checkins"] for r in rows),
            "distinct_citizens": distinct_total,
            "by_method": dict(by_method),
            "by_trust": dict(by_trust),
        }
        if group_by == "day":
            out["days"] = [
                {"day": r["period"], "checkins": r["checkins"], "distinct_citizens": r["distinct_citizens"]} for r in rows
            ]
        return out

    def _distinct_per_period(self, conn: Connection, where, start: date, end: date, group_by: str) -> dict[date, int]:  # type: ignore[no-untyped-def]
        """Distinct pseudonyms per period. PostgreSQL: one query grouped by ``date_trunc``.
        SQLite: per day one grouped query; per week or month one query per period (few
        periods; SQLite's per-row date arithmetic cost more than the extra queries)."""
        is_pg = conn.dialect.name == "postgresql"
        if group_by != "day" and not is_pg:
            out_p: dict[date, int] = {}
            ps = period_start(start, group_by)
            while ps <= end:
                out_p[ps] = self._distinct(conn, where, max(ps, start), min(period_end(ps, group_by), end))
                ps = period_end(ps, group_by) + timedelta(days=1)
            return {k: v for k, v in out_p.items() if v}
        day = CITIZEN.c.day
        bucket = day if group_by == "day" else cast(func.date_trunc(group_by, day), Date)
        conds = [day.between(start, end)]
        if where is not None:
            conds.append(where(CITIZEN.c.facility_code))
        query = (
            select(bucket.label("p"), func.count(func.distinct(CITIZEN.c.citizen_pseudonym)))
            .where(*conds)
            .group_by(bucket)
        )
        out: dict[date, int] = {}
        for p, n in conn.execute(query):
            out[p if isinstance(p, date) else date.fromisoformat(str(p))] = int(n)
        return out

    def _distinct(self, conn: Connection, where, start: date, end: date) -> int:  # type: ignore[no-untyped-def]
        conds = [CITIZEN.c.day.between(start, end)]
        if where is not None:
            conds.append(where(CITIZEN.c.facility_code))
        query = select(func.count(func.distinct(CITIZEN.c.citizen_pseudonym))).where(*conds)
        return int(conn.execute(query).scalar_one())

    def usage_by_facility(self, start: date, end: date, district: str | None = None, province: str | None = None) -> list[dict]:
        """Check-ins per facility over a range (from the rollups)."""
        query = (
            select(FACILITY.c.code, FACILITY.c.name, FACILITY.c.province, FACILITY.c.district,
                   func.coalesce(func.sum(USAGE.c.checkins), 0).label("checkins"))
            .select_from(FACILITY.outerjoin(USAGE, and_(USAGE.c.facility_code == FACILITY.c.code,
                                                        USAGE.c.day.between(start, end))))
            .group_by(FACILITY.c.code, FACILITY.c.name, FACILITY.c.province, FACILITY.c.district)
            .order_by(FACILITY.c.province, FACILITY.c.district, FACILITY.c.code)
        )
        if province:
            query = query.where(FACILITY.c.province == province)
        if district:
            query = query.where(FACILITY.c.district == district)
        with self.engine.connect() as conn:
            return [dict(r._mapping) | {"checkins": int(r.checkins)} for r in conn.execute(query)]

    def usage_by_district(self, start: date, end: date, province: str | None = None) -> list[dict]:
        query = (
            select(AREA.c.province, AREA.c.district, func.sum(AREA.c.checkins).label("checkins"))
            .where(AREA.c.day.between(start, end))
            .group_by(AREA.c.province, AREA.c.district)
            .order_by(AREA.c.province, AREA.c.district)
        )
        if province:
            query = query.where(AREA.c.province == province)
        with self.engine.connect() as conn:
            return [dict(r._mapping) | {"checkins": int(r.checkins)} for r in conn.execute(query)]

    def refused_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {r: int(n) for r, n in conn.execute(select(REFUSED.c.reason, func.sum(REFUSED.c.count)).group_by(REFUSED.c.reason))}

    def event_count(self) -> int:
        """For tests and audits only: counts the raw events."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())
