"""Which facilities stored a card read in each calendar week, month, quarter and year.

"Facilities with a working reader" in a period (the report's share against the target,
the dashboard's totals, its coverage over time) is a count of facilities that stored at
least one card read then. Asked of ``daily_usage`` it probes every facility's days of the
period: the weekly coverage of the country over a quarter scanned every facility-day row
of the quarter, 13 times or grouped (1.1-1.2 s on PostgreSQL at 2 M events). The writer
therefore keeps ``facility_period``: one row per (kind, period start, facility) as the
first read of that facility in that period is stored, in the same transaction as the
event (late events included: the period is the event's local day's). A period's covered
facilities are then its rows (one per facility), joined to the registry as it is now
for an area, exactly as the query over ``daily_usage`` did: the figures do not change.

Only registered facilities get rows (the insert joins the registry); facilities are never
deleted, so the country's figure needs no join. A day, or a range that is no calendar
period, is still read from ``daily_usage`` (:func:`used_in`). The rules are in docs/counting.md.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import date
from typing import Final

from sqlalchemy import ColumnElement, Connection, exists, func, select

from server.store.base import FACILITY, FACILITY_PERIOD, USAGE
from server.store.distinct import as_date, calendar_kind, calendar_period

#: The calendar periods kept per facility (a day is one probe of ``daily_usage``'s key already).
PERIOD_KINDS: Final = ("week", "month", "quarter", "year")


def record_reads(conn: Connection, reads: Iterable[tuple[str, date]]) -> None:
    """Note each (facility, local day) of a batch's newly stored events in its four periods.

    One statement for the batch, rows in key order (two writers then take their row locks in
    the same order); a period already noted changes nothing."""
    rows = sorted({(kind, calendar_period(kind, day)[0].isoformat(), code)
                   for code, day in reads for kind in PERIOD_KINDS})
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        src, cols, code = "json_array_elements(%s::json) AS e", "e->>0, (e->>1)::date, e->>2", "e->>2"
    else:
        src, cols, code = "json_each(?) AS j", "j.value->>0, j.value->>1, j.value->>2", "(j.value->>2)"
    conn.exec_driver_sql(
        f"INSERT INTO facility_period (kind, period_start, facility_code) SELECT {cols} FROM {src} "
        f"JOIN facility f ON f.code = {code} WHERE true ON CONFLICT DO NOTHING",
        (json.dumps(rows),),
    )


def _period_start_sql(dialect: str, kind: str) -> str:
    """The first day of the period of ``kind`` holding ``day``, in SQL (the same as :func:`calendar_period`)."""
    if dialect == "postgresql":
        if kind == "week":  # ISO week, Monday first
            return "(day - (extract(isodow FROM day)::int - 1))"
        return f"date_trunc('{kind}', day)::date"
    return {
        "week": "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')",
        "month": "date(day, 'start of month')",
        "quarter": "date(day, 'start of month', "
                   "'-' || ((CAST(strftime('%m', day) AS INTEGER) - 1) % 3) || ' months')",
        "year": "date(day, 'start of year')",
    }[kind]


def rebuild_periods(conn: Connection) -> None:
    """Every row again from ``daily_usage`` (the migration's backfill; benchmarks after a bulk load)."""
    conn.execute(FACILITY_PERIOD.delete())
    for kind in PERIOD_KINDS:
        conn.exec_driver_sql(
            "INSERT INTO facility_period (kind, period_start, facility_code) "
            f"SELECT DISTINCT '{kind}', {_period_start_sql(conn.dialect.name, kind)}, u.facility_code "
            "FROM daily_usage u JOIN facility f ON f.code = u.facility_code"
        )


def used_in(start: date, end: date) -> ColumnElement[bool]:
    """The facility (of the enclosing query's ``facility`` row) stored a card read between the days:
    one key probe of ``facility_period`` for a calendar period, of ``daily_usage`` otherwise."""
    kind = calendar_kind(start, end)
    if kind in PERIOD_KINDS:
        return exists().where(FACILITY_PERIOD.c.kind == kind, FACILITY_PERIOD.c.period_start == start,
                              FACILITY_PERIOD.c.facility_code == FACILITY.c.code)
    return exists().where(USAGE.c.facility_code == FACILITY.c.code, USAGE.c.day.between(start, end))


def covered_weeks(conn: Connection, conditions: Collection[ColumnElement[bool]],
                  mondays: Collection[date]) -> dict[date, int]:
    """Facilities (of the registry rows matching ``conditions``) with a card read in each ISO week."""
    fp = FACILITY_PERIOD
    query = select(fp.c.period_start, func.count()).where(fp.c.kind == "week", fp.c.period_start.in_(sorted(mondays)))
    if conditions:  # the country: every row is a registered facility's
        query = query.select_from(fp.join(FACILITY, FACILITY.c.code == fp.c.facility_code)).where(*conditions)
    return {as_date(start): int(n) for start, n in conn.execute(query.group_by(fp.c.period_start))}
