"""Which facilities stored a card read in each calendar week, month, quarter and year.

"Facilities with a working reader" in a period (the report's share against the target,
the dashboard's totals, its coverage over time) is a count of facilities that stored at
least one card read then. Asked of ``daily_usage`` it probes every facility's days of the
period: the weekly coverage of the country over a quarter scanned every facility-day row
of the quarter, 13 times or grouped (1.1-1.2 s on PostgreSQL at 2 M events; the whole
dashboard 4.8 s at 10 M). The writer therefore keeps, in the events' transaction (late
events included: the period is the event's local day's):

- ``facility_period``: one row per (kind, period start, facility) from the first read of
  that facility in that period. A report's period reads its rows (one per facility),
  joined to the registry as it is now, as the query over ``daily_usage`` did.
- ``area_coverage``: per district (the facility's when that row was added) and period, the
  number of those rows: the weekly series of an area sums a few rows per week.

Only registered facilities get rows (the insert joins the registry). A day, or a range
that is no calendar period, is still read from ``daily_usage`` (:func:`used_in`). The
rules are in docs/counting.md.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import date, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Connection, exists, func, select

from server.store.base import AREA_COVERAGE, FACILITY, FACILITY_PERIOD, USAGE, json_rows
from server.store.distinct import as_date, calendar_kind, calendar_period

#: The calendar periods kept per facility: a quarter or a year is its months (3 or 12 rows per
#: facility, read once into a hash), a day one probe of ``daily_usage``'s key. Four kinds made the
#: writer's insert twice as long (8,000 rows a batch of 2,000 events, mostly already there).
PERIOD_KINDS: Final = ("week", "month")


def record_reads(conn: Connection, reads: Iterable[tuple[str, date]]) -> None:
    """Note each (facility, local day) of a batch's newly stored events in its week and month, and
    count each period new to a facility in its district's ``area_coverage``.

    The writer passes only the facility-days that gained a ``daily_usage`` row in this batch: a
    facility-day that had one already had its periods noted then.

    One statement per table for the batch, rows in key order (two writers then take their row
    locks in the same order); a period already noted changes nothing. The insert returns the
    rows it added, so a facility counts once per period even with a second writer."""
    rows = sorted({(kind, calendar_period(kind, day)[0].isoformat(), code)
                   for code, day in reads for kind in PERIOD_KINDS})
    if not rows:
        return
    pg = conn.dialect.name == "postgresql"
    src, e = json_rows(conn.dialect.name)
    day = f"({e}->>1)::date" if pg else f"({e}->>1)"
    added = conn.exec_driver_sql(  # the registry join: only registered facilities count
        f"INSERT INTO facility_period (kind, period_start, facility_code) SELECT {e}->>0, {day}, {e}->>2 "
        f"FROM {src} WHERE EXISTS (SELECT 1 FROM facility f WHERE f.code = ({e}->>2)) ON CONFLICT DO NOTHING "
        "RETURNING kind, period_start, facility_code",
        (json.dumps(rows),),
    ).all()
    if not added:
        return
    conn.exec_driver_sql(
        "INSERT INTO area_coverage (kind, period_start, province, district, facilities) "
        f"SELECT {e}->>0, {day}, f.province, f.district, count(*) FROM {src} JOIN facility f ON f.code = ({e}->>2) "
        "WHERE true GROUP BY 1, 2, 3, 4 ON CONFLICT (kind, period_start, province, district) "
        "DO UPDATE SET facilities = area_coverage.facilities + excluded.facilities",
        (json.dumps(sorted([k, as_date(p).isoformat(), f] for k, p, f in added)),),
    )


def period_start_sql(dialect: str, kind: str) -> str:
    """The first day of the period of ``kind`` holding ``day``, in SQL (the same as :func:`calendar_period`)."""
    if dialect == "postgresql":
        if kind == "week":  # ISO week, Monday first
            return "(day - (extract(isodow FROM day)::int - 1))"
        return f"date_trunc('{kind}', day)::date"
    return {
        "week": "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')",
        "month": "date(day, 'start of month')",
    }[kind]


def rebuild_periods(conn: Connection) -> None:
    """Every ``facility_period`` row again from ``daily_usage`` (migration 0009's backfill; benchmarks
    after a bulk load, then :func:`rebuild_coverage`)."""
    conn.execute(FACILITY_PERIOD.delete())
    for kind in PERIOD_KINDS:
        conn.exec_driver_sql(
            "INSERT INTO facility_period (kind, period_start, facility_code) "
            f"SELECT DISTINCT '{kind}', {period_start_sql(conn.dialect.name, kind)}, u.facility_code "
            "FROM daily_usage u JOIN facility f ON f.code = u.facility_code"
        )


def rebuild_coverage(conn: Connection) -> None:
    """The district counts again from ``facility_period``, with the registry as it is now (migration
    0010's backfill; benchmarks)."""
    conn.execute(AREA_COVERAGE.delete())
    conn.exec_driver_sql(
        "INSERT INTO area_coverage (kind, period_start, province, district, facilities) "
        "SELECT p.kind, p.period_start, f.province, f.district, count(*) "
        "FROM facility_period p JOIN facility f ON f.code = p.facility_code GROUP BY 1, 2, 3, 4"
    )


def whole_months(start: date, end: date) -> list[date] | None:
    """The first days of the whole months that ``start``..``end`` is made of, if it is (a month,
    a quarter, a year, or any run of whole months)."""
    if start > end or start.day != 1 or calendar_period("month", end)[1] != end:
        return None
    months, first = [], start
    while first <= end:
        months.append(first)
        first = calendar_period("month", first)[1] + timedelta(days=1)
    return months


def used_in(start: date, end: date, *, few: bool = False) -> ColumnElement[bool]:
    """The facility (of the enclosing query's ``facility`` row) stored a card read between the days.

    An ISO week or whole months: their ``facility_period`` rows. For the country or a province,
    read once into a hash (an uncorrelated IN: a correlated probe per facility cost 90-140 ms
    country-wide at 10 M events on PostgreSQL); for ``few`` facilities (a district, one
    facility), one key probe each, not the whole country's rows of the period. Any other
    range: a probe of the facility's ``daily_usage`` days, which stops at the first."""
    fp = FACILITY_PERIOD
    months = whole_months(start, end)
    if months is not None:
        kind, starts = "month", months
    elif calendar_kind(start, end) == "week":
        kind, starts = "week", [start]
    else:
        return exists().where(USAGE.c.facility_code == FACILITY.c.code, USAGE.c.day.between(start, end))
    in_period = (fp.c.kind == kind, fp.c.period_start.in_(starts))
    if few:
        return exists().where(*in_period, fp.c.facility_code == FACILITY.c.code)
    return FACILITY.c.code.in_(select(fp.c.facility_code).where(*in_period))


def covered_weeks(conn: Connection, province: str | None, district: str | None, facility: str | None,
                  mondays: Collection[date]) -> dict[date, int]:
    """Facilities of an area with a card read in each ISO week starting on ``mondays``.

    The country, a province or a district of a province: the district counts (``area_coverage``,
    a few rows per week). One facility, or a district named without its province: its rows of
    ``facility_period`` joined to the registry."""
    starts = sorted(mondays)
    if not facility and (province or not district):
        ac = AREA_COVERAGE
        query = select(ac.c.period_start, func.sum(ac.c.facilities)).where(
            ac.c.kind == "week", ac.c.period_start.in_(starts),
            *([ac.c.province == province] if province else []), *([ac.c.district == district] if district else []))
        return {as_date(start): int(n) for start, n in conn.execute(query.group_by(ac.c.period_start))}
    fp = FACILITY_PERIOD
    conds = [FACILITY.c.code == facility] if facility else [FACILITY.c.district == district]
    query = (select(fp.c.period_start, func.count())
             .select_from(fp.join(FACILITY, FACILITY.c.code == fp.c.facility_code))
             .where(fp.c.kind == "week", fp.c.period_start.in_(starts), *conds).group_by(fp.c.period_start))
    return {as_date(start): int(n) for start, n in conn.execute(query)}
