"""The write path: a batch of events, their daily rollups, the readers' last activity and the refusal
counts, in one transaction.

The writer is single (one ingest thread per server) and only then is the batch
acknowledged to the broker. De-duplication is by event id: the insert ignores ids
already stored and returns the ids it inserted, and only those count in the rollups.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Literal, NamedTuple

from sqlalchemy import Connection, bindparam, update

from contract.events import CheckInEvent
from contract.heartbeat import HeartbeatFigures
from contract.levels import TrustLevel
from server.store.base import QUARANTINE, READER, REFUSED, StoreBase, json_rows, upsert, utcnow
from server.store.distinct import as_date, calendar_period, count_new_rows
from server.store.periods import period_start_sql, record_reads
from server.store.registry import auto_register_reader


@dataclass(frozen=True)
class Activity:
    """A status or heartbeat message from a registered reader."""

    facility_code: str
    reader_id: str
    kind: Literal["status", "heartbeat"]
    at: datetime
    status: str | None = None
    retained: bool = False  # a retained message replayed by the broker on subscribe: not a sign of life
    health: HeartbeatFigures | None = None  # a heartbeat's figures, when it parsed
    #: A live heartbeat's payload, parsed only when it is its reader's newest of the batch.
    payload: bytes | None = None


@dataclass
class _Touch:
    """What one batch says about one reader."""

    checkin_at: datetime | None = None
    heartbeat: bool = False
    status: str | None = None
    live_status: bool = False
    health: HeartbeatFigures | None = None  # the newest live heartbeat's figures
    payload: bytes | None = None  # ... or its payload, not parsed yet

    def figures(self) -> HeartbeatFigures | None:
        if self.payload is not None:
            return HeartbeatFigures.parse(self.payload)
        return self.health


def _ts(value: datetime, is_pg: bool) -> str:
    """A UTC datetime as a SQL parameter: ISO for PostgreSQL, SQLAlchemy's own text format for
    SQLite (so that the ORM reads it back unchanged and text comparisons order it)."""
    if is_pg:
        return value.isoformat()
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


@dataclass(frozen=True)
class QuarantineRecord:
    """A message acknowledged without being stored: why, where from, when, how big, its hash."""

    reason: str
    topic: str
    facility_code: str | None
    reader_id: str | None
    received_at: datetime
    size: int
    payload_sha256: str
    retained: bool = False


class EventClock(NamedTuple):
    """A corrected event's desk clock (docs/clock.md): the offset measured and the desk's own read time."""

    offset_s: float  # server receive time - broker holding time - desk send time
    desk_occurred_at: datetime


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    stored_events: list[CheckInEvent] = field(default_factory=list)


class EventWriter(StoreBase):
    """Stores events exactly once and keeps the rollups in the same transaction."""

    def store(
        self,
        events: list[CheckInEvent],
        activity: Iterable[Activity] = (),
        refused: Counter[str] | None = None,
        auto_register: Iterable[tuple[str, str]] = (),
        quarantine: Sequence[QuarantineRecord] = (),
        clocks: Mapping[str, EventClock] | None = None,
        clock_offsets: Mapping[tuple[str, str], float] | None = None,
    ) -> StoreResult:
        """Store a batch in one transaction; duplicates (by event id) change nothing.

        ``quarantine``: messages refused, recorded (and counted per reason with ``refused``).
        ``clocks``: per corrected event's id, the offset and the desk's own time (docs/clock.md);
        ``clock_offsets``: per reader, the newest offset measured (the fleet view shows it).
        """
        clocks = clocks or {}
        result = StoreResult()
        now = utcnow()
        with self.engine.begin() as conn:
            for facility, reader in auto_register:
                auto_register_reader(conn, facility, reader, now)
            unique: dict[str, CheckInEvent] = {}
            for ev in events:
                if ev.event_id in unique:
                    result.duplicates += 1
                else:
                    unique[ev.event_id] = ev
            new = self._insert_events(conn, list(unique.values()), now, clocks) if unique else []
            result.duplicates += len(unique) - len(new)
            result.stored = len(new)
            result.stored_events = new
            self._touch_readers(conn, new, list(activity), now)
            if clock_offsets:
                self._note_clock_offsets(conn, clock_offsets, now)
            refused = Counter(refused or {})
            refused.update(q.reason for q in quarantine)
            if quarantine:
                conn.execute(QUARANTINE.insert(), [asdict(q) for q in quarantine])
            if refused:
                today = now.astimezone(self.tz).date()
                conn.execute(
                    upsert(conn, REFUSED)
                    .values(day=bindparam("d"), reason=bindparam("r"), count=bindparam("n"))
                    .on_conflict_do_update(
                        index_elements=["day", "reason"], set_={"count": REFUSED.c.count + bindparam("n")}
                    ),
                    [{"d": today, "r": reason, "n": n} for reason, n in refused.items()],
                )
        return result
    def prune_quarantine(self, before: datetime) -> int:
        """Forget quarantine records received before ``before`` (their counts stay in refused_daily)."""
        with self.engine.begin() as conn:
            return int(conn.execute(QUARANTINE.delete().where(QUARANTINE.c.received_at < before)).rowcount)

    def _insert_events(self, conn: Connection, events: list[CheckInEvent], now: datetime,
                       clocks: Mapping[str, EventClock]) -> list[CheckInEvent]:
        """The batch's new events and their rollups: one statement per table, rows as a JSON array.

        The events' insert ignores ids already stored and returns the ids it inserted
        (the database decides what is new, even with a second writer); only those
        count in the rollups.

        One statement per table instead of an executemany: the driver then runs a
        single step for the whole batch instead of one per row (each step releases and
        re-takes the GIL, which under load costs more than the insert itself). SQLite
        gets datetimes and dates in SQLAlchemy's own text format, so that the ORM reads
        them back unchanged.

        ``occurred_at`` (and so the day) is the corrected time when the desk's clock was off;
        the desk's own time and the offset are kept beside it (``clocks``, docs/clock.md).
        """
        is_pg = conn.dialect.name == "postgresql"

        def ts(value: datetime) -> str:  # value is in UTC
            return _ts(value, is_pg)

        received = ts(now)
        rows: list[tuple[str | float | None, ...]] = []
        days: list[str] = []
        tz = self.tz
        for ev in events:
            occurred = ev.occurred_at
            day = occurred.astimezone(tz).date().isoformat()
            days.append(day)
            clock = clocks.get(ev.event_id) if clocks else None
            rows.append((ev.event_id, ev.facility_code, ev.reader_id, ts(occurred.astimezone(UTC)),
                         day, ev.method.value, ev.trust_level.value, ev.citizen_pseudonym, received,
                         *((clock.offset_s, ts(clock.desk_occurred_at.astimezone(UTC))) if clock else (None, None))))
        rows_from, j = json_rows(conn.dialect.name)
        src = f"FROM {rows_from}"

        def col(i: int, cast: str = "") -> str:  # the casts are empty on SQLite
            return f"({j}->>{i}){cast}"
        tstz, dt, num = ("::timestamptz", "::date", "::int") if is_pg else ("", "", "")
        real = "::float8" if is_pg else ""
        cursor = conn.exec_driver_sql(
            "INSERT INTO checkin_event (event_id, facility_code, reader_id, occurred_at, local_day, method, "
            "trust_level, citizen_pseudonym, received_at, clock_offset_s, desk_occurred_at) "
            f"SELECT {col(0)}, {col(1)}, {col(2)}, {col(3, tstz)}, {col(4, dt)}, {col(5)}, {col(6)}, {col(7)}, "
            f"{col(8, tstz)}, {col(9, real)}, {col(10, tstz)} {src} "
            "WHERE true ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            (json.dumps(rows),),
        )
        inserted = {r[0] for r in cursor}
        new: list[CheckInEvent] = []
        usage: Counter[tuple[str, str, str, str]] = Counter()
        citizens: set[tuple[str, str, str]] = set()
        for ev, day in zip(events, days, strict=True):
            if ev.event_id in inserted:
                new.append(ev)
                usage[(ev.facility_code, day, ev.method.value, ev.trust_level.value)] += 1
                if ev.trust_level != TrustLevel.INVALID:  # a rejected read may carry a forged number
                    citizens.add((ev.facility_code, day, ev.citizen_pseudonym))
        if not new:
            return new
        upserted = conn.exec_driver_sql(
            "INSERT INTO daily_usage (facility_code, day, method, trust_level, checkins) "
            f"SELECT {col(0)}, {col(1, dt)}, {col(2)}, {col(3)}, {col(4, num)} {src} WHERE true "
            "ON CONFLICT (facility_code, day, method, trust_level) "
            "DO UPDATE SET checkins = daily_usage.checkins + excluded.checkins "
            "RETURNING facility_code, day, method, trust_level, checkins",
            (json.dumps([[f, d, m, t, n] for (f, d, m, t), n in usage.items()]),),
        )
        # a row whose count is just this batch's was new: its facility-day may be new too
        new_days = {(f, as_date(d)) for f, d, m, t, n in upserted if n == usage[(f, as_date(d).isoformat(), m, t)]}
        conn.exec_driver_sql(
            "INSERT INTO area_daily_usage (province, district, day, method, trust_level, checkins) "
            f"SELECT f.province, f.district, {col(1, dt)}, {col(2)}, {col(3)}, SUM({col(4, num)}) {src} "
            f"JOIN facility f ON f.code = ({j}->>0) WHERE true GROUP BY 1, 2, 3, 4, 5 "
            "ON CONFLICT (province, district, day, method, trust_level) "
            "DO UPDATE SET checkins = area_daily_usage.checkins + excluded.checkins",
            (json.dumps([[f, d, m, t, n] for (f, d, m, t), n in usage.items()]),),
        )
        per_day: dict[tuple[str, str], list[int]] = {}  # (facility, day): [check-ins, rejected attempts]
        for (f, d, _m, t), n in usage.items():
            per_day.setdefault((f, d), [0, 0])[t == TrustLevel.INVALID.value] += n
        conn.exec_driver_sql(
            "INSERT INTO type_daily_usage (province, district, facility_type, day, checkins, rejected) "
            f"SELECT f.province, f.district, f.type, {col(1, dt)}, SUM({col(2, num)}), SUM({col(3, num)}) {src} "
            f"JOIN facility f ON f.code = ({j}->>0) WHERE true GROUP BY 1, 2, 3, 4 "
            "ON CONFLICT (province, district, facility_type, day) DO UPDATE SET "
            "checkins = type_daily_usage.checkins + excluded.checkins, "
            "rejected = type_daily_usage.rejected + excluded.rejected",
            (json.dumps([[f, d, c, r] for (f, d), (c, r) in per_day.items()]),),
        )
        record_reads(conn, new_days)  # covered facilities
        per_month: Counter[tuple[str, str]] = Counter()
        for (f, d), (c, r) in per_day.items():
            per_month[(f, calendar_period("month", date.fromisoformat(d))[0].isoformat())] += c + r
        conn.exec_driver_sql(
            "INSERT INTO facility_month_usage (facility_code, month, checkins) "
            f"SELECT {col(0)}, {col(1, dt)}, {col(2, num)} {src} WHERE true "
            "ON CONFLICT (facility_code, month) DO UPDATE SET "
            "checkins = facility_month_usage.checkins + excluded.checkins",
            (json.dumps(sorted([f, m, n] for (f, m), n in per_month.items())),),
        )
        cursor = conn.exec_driver_sql(
            f"INSERT INTO daily_citizen (facility_code, day, citizen_pseudonym) "
            f"SELECT {col(0)}, {col(1, dt)}, {col(2)} {src} WHERE true ON CONFLICT DO NOTHING "
            "RETURNING facility_code, day, citizen_pseudonym",
            (json.dumps(sorted(citizens)),),
        )
        count_new_rows(conn, [tuple(r) for r in cursor])  # distinct citizens per area and period
        return new

    def _note_clock_offsets(self, conn: Connection, offsets: Mapping[tuple[str, str], float],
                            now: datetime) -> None:
        """Each reader's newest measured clock offset, one executemany per batch, for the fleet view."""
        conn.execute(
            update(READER)
            .where(READER.c.facility_code == bindparam("f"), READER.c.reader_id == bindparam("r"))
            .values(clock_offset_s=bindparam("o"), clock_offset_at=bindparam("now")),
            [{"f": f, "r": r, "o": round(o, 3), "now": now} for (f, r), o in offsets.items()],
        )

    def _touch_readers(
        self, conn: Connection, new: list[CheckInEvent], activity: list[Activity], now: datetime
    ) -> None:
        """The batch's news about each reader, coalesced: one row per reader (its newest
        check-in time, whether it sent a live heartbeat, its newest status, the figures of
        its newest heartbeat, parsed only then), all written by one UPDATE ... FROM a JSON
        array: one statement per batch whatever its size or mix (an executemany was one
        statement per reader, and made a heartbeat cost more than a check-in). A retained
        status or heartbeat is the broker replaying an old message on subscribe: the status
        counts, it is no sign of life."""
        touched: dict[tuple[str, str], _Touch] = {}
        for ev in new:
            touch = touched.setdefault((ev.facility_code, ev.reader_id), _Touch())
            at = min(ev.occurred_at.astimezone(UTC), now)
            touch.checkin_at = at if touch.checkin_at is None else max(touch.checkin_at, at)
        for act in activity:  # in arrival order: the newest status wins
            touch = touched.setdefault((act.facility_code, act.reader_id), _Touch())
            if act.kind == "heartbeat":
                live = not act.retained
                touch.heartbeat = touch.heartbeat or live
                if live and (act.health is not None or act.payload is not None):
                    touch.health, touch.payload = act.health, act.payload  # the newest figures win
            else:
                touch.status, touch.live_status = act.status, not act.retained
        is_pg = conn.dialect.name == "postgresql"
        rows: list[list[object]] = []
        for (facility, reader), touch in touched.items():
            seen = touch.checkin_at is not None or touch.heartbeat or (touch.status is not None and touch.live_status)
            health = touch.figures() if touch.heartbeat else None
            if not seen and touch.status is None:
                continue  # only retained heartbeats: nothing to write
            rows.append([
                facility, reader, None if touch.checkin_at is None else _ts(touch.checkin_at, is_pg),
                int(touch.heartbeat), touch.status, int(touch.status is not None and touch.live_status), int(seen),
                int(health is not None),
                *((health.software_version or None, health.outbox_depth, health.outbox_oldest_age_s,
                   len(health.readers), health.last_error) if health else (None, None, None, None, None)),
            ])
        if rows:
            conn.exec_driver_sql(_touch_statement(is_pg), (_ts(now, is_pg), json.dumps(rows)))


def _touch_statement(is_pg: bool) -> str:
    """One UPDATE of every reader a batch names, from rows ``[facility, reader, checkin_at,
    heartbeat, status, live_status, seen, has_figures, *figures]`` (flags 0/1)."""
    if is_pg:
        src = "FROM (SELECT %s::timestamptz AS now) AS n, json_array_elements(%s::json) AS e"

        def col(i: int, cast: str = "") -> str:
            return f"(e->>{i}){cast}"
        flag = "::int = 1"
        tstz, num, real = "::timestamptz", "::int", "::float8"
    else:
        src = "FROM (SELECT ? AS now) AS n, json_each(?) AS j"

        def col(i: int, cast: str = "") -> str:
            return f"(j.value->>{i})"
        flag = " = 1"
        tstz = num = real = ""
    checkin = col(2, tstz)
    figures = ", ".join(
        f"{name} = CASE WHEN {col(7)}{flag} THEN {col(i, cast)} ELSE reader.{name} END"
        for i, (name, cast) in enumerate((("software_version", ""), ("outbox_depth", num),
                                          ("outbox_oldest_age_s", real), ("readers_attached", num),
                                          ("last_error", "")), start=8))
    return (
        "UPDATE reader SET "
        f"last_checkin_at = CASE WHEN {checkin} IS NOT NULL AND (reader.last_checkin_at IS NULL "
        f"OR reader.last_checkin_at < {checkin}) THEN {checkin} ELSE reader.last_checkin_at END, "
        f"last_heartbeat_at = CASE WHEN {col(3)}{flag} THEN n.now ELSE reader.last_heartbeat_at END, "
        f"status = COALESCE({col(4)}, reader.status), "
        f"status_at = CASE WHEN {col(5)}{flag} THEN n.now ELSE reader.status_at END, "
        f"last_seen_at = CASE WHEN {col(6)}{flag} THEN n.now ELSE reader.last_seen_at END, "
        f"{figures} "
        f"{src} WHERE reader.facility_code = {col(0)} AND reader.reader_id = {col(1)}"
    )


def rebuild_type_usage(conn: Connection) -> None:
    """``type_daily_usage`` again from ``daily_usage``, with the registry as it is now (migration
    0010's backfill; benchmarks after a bulk load)."""
    conn.exec_driver_sql("DELETE FROM type_daily_usage")
    conn.exec_driver_sql(
        "INSERT INTO type_daily_usage (province, district, facility_type, day, checkins, rejected) "
        "SELECT f.province, f.district, f.type, u.day, "
        f"SUM(CASE WHEN u.trust_level = '{TrustLevel.INVALID.value}' THEN 0 ELSE u.checkins END), "
        f"SUM(CASE WHEN u.trust_level = '{TrustLevel.INVALID.value}' THEN u.checkins ELSE 0 END) "
        "FROM daily_usage u JOIN facility f ON f.code = u.facility_code GROUP BY 1, 2, 3, 4"
    )


def rebuild_month_usage(conn: Connection) -> None:
    """``facility_month_usage`` again from ``daily_usage`` (migration 0011's backfill; benchmarks)."""
    month = period_start_sql(conn.dialect.name, "month")
    conn.exec_driver_sql("DELETE FROM facility_month_usage")
    conn.exec_driver_sql(
        "INSERT INTO facility_month_usage (facility_code, month, checkins) "
        f"SELECT facility_code, {month}, SUM(checkins) FROM daily_usage GROUP BY 1, 2"
    )
