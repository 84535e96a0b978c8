"""Distinct citizens per area and calendar period: exact counters kept at ingest, a bounded count otherwise.

A distinct count does not add up (a citizen seen in two weeks of a month counts once in
the month), so no sum of daily rows gives it. The writer therefore keeps ``area_distinct``:
one row per (scope, kind, period start) with the number of distinct pseudonyms seen in
that scope during that day, ISO week, month, quarter or year. A scope is an area a
facility belongs to (:func:`facility_scopes`): the country, its province, its district,
and its facility type country-wide, in its province and in its district (the report's
"by facility type"). One facility needs no counter: its own rows lead ``daily_citizen``'s
primary key, and a year of them is a few thousand rows at most. When a ``daily_citizen``
row (facility, day, pseudonym) is new, each counter of its scopes and periods goes up by
one unless the pseudonym already has another row in a facility of that scope within that
period, checked against the stored rows in the same transaction (:func:`count_new_rows`): duplicates, late
(out-of-order) events and two facilities of one district stay exact.

Reads: a range that is exactly a calendar period reads one counter row per area
(:func:`counters`); any other range is counted exactly from ``daily_citizen`` within a
budget (:func:`bounded`): over it, the figure is ``None`` and the caller says why
(:data:`OVER_BUDGET`) instead of spending seconds of CPU. The rules are in docs/counting.md.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
import weakref
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Literal, get_args

from sqlalchemy import Connection, Executable, select
from sqlalchemy.exc import OperationalError

from server.store.base import AREA_DISTINCT, CITIZEN, FACILITY, json_rows

Kind = Literal["day", "week", "month", "quarter", "year"]
KINDS: tuple[Kind, ...] = get_args(Kind)

#: Seconds an exact count over a range that is not a calendar period may take (wall clock).
EXACT_BUDGET_S = 0.4
#: Seconds a per-facility breakdown (every facility's sum over the range) may take.
BREAKDOWN_BUDGET_S = 0.6
#: Why a distinct figure is missing (``None``): the API and the pages say it.
OVER_BUDGET = ("too many citizen-days in this range to count distinct citizens exactly within the time budget: "
               "ask for a calendar day, week, month, quarter or year (counted as they arrive), or a smaller area")

#: Scopes are "<level>" + SEP + parts; names never hold control characters (the registry refuses them).
SEP = "\x1f"
COUNTRY = "*"


def scope(level: str, *parts: str) -> str:
    return SEP.join((level, *parts))


def facility_scopes(code: str, province: str, district: str, facility_type: str) -> tuple[str, ...]:
    """Every area whose distinct citizens a check-in at this facility may add to."""
    del code  # one facility's citizens are counted from its own rows: cheap (server/store/distinct.py)
    return (COUNTRY, scope("P", province), scope("D", province, district), scope("T", facility_type),
            scope("PT", province, facility_type), scope("DT", province, district, facility_type))


def area_scope(province: str | None, district: str | None, facility: str | None) -> str | None:
    """The scope of an area filter; None when it has no counter (one facility, or a district
    named without its province): those are counted exactly from ``daily_citizen``."""
    if facility:
        return None
    if district:
        return scope("D", province, district) if province else None
    return scope("P", province) if province else COUNTRY


def keyed_scope(province: str | None, district: str | None, facility: str | None, key: str,
                value: str) -> str | None:
    """The scope of one row of a table grouped by ``key`` (province, district or type) within an area."""
    if facility:
        return None
    if key == "province":
        return scope("P", value) if province in (None, value) and not district else None
    if key == "district":
        return scope("D", province, value) if province and district in (None, value) else None
    if key == "type":
        if district:
            return scope("DT", province, district, value) if province else None
        return scope("PT", province, value) if province else scope("T", value)
    return None


# ---------------------------------------------------------------------- calendar periods
@functools.lru_cache(maxsize=8192)  # the writer asks it for every new citizen-day and kind
def calendar_period(kind: str, day: date) -> tuple[date, date]:
    """The day, ISO week (Monday first), month, quarter or year that holds ``day``: (first, last)."""
    if kind == "day":
        return day, day
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if kind == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    months = 1 if kind == "month" else 3
    first_month = day.month if kind == "month" else 3 * ((day.month - 1) // 3) + 1
    m = first_month - 1 + months
    return date(day.year, first_month, 1), date(day.year + m // 12, m % 12 + 1, 1) - timedelta(days=1)


def calendar_kind(start: date, end: date) -> Kind | None:
    """The kind of calendar period that is exactly ``start``..``end``, if any."""
    for kind in KINDS:
        if calendar_period(kind, start) == (start, end):
            return kind
    return None


# ---------------------------------------------------------------------- the write side
def as_date(value: object) -> date:
    """A date column's value (SQLite may give it back as text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _keys(scopes: Iterable[str], day: date) -> Iterator[tuple[str, str, date]]:
    for kind in KINDS:
        first = calendar_period(kind, day)[0]
        for s in scopes:
            yield s, kind, first


def _attributes(conn: Connection, codes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The scopes of each registered facility of ``codes``."""
    out: dict[str, tuple[str, ...]] = {}
    for i in range(0, len(codes), 1000):
        query = select(FACILITY.c.code, FACILITY.c.province, FACILITY.c.district, FACILITY.c.type).where(
            FACILITY.c.code.in_(codes[i:i + 1000]))
        for r in conn.execute(query):
            out[r.code] = facility_scopes(r.code, r.province or "", r.district or "", r.type or "")
    return out


def count_new_rows(conn: Connection, new: Sequence[tuple[str, object, str]]) -> None:
    """Raise the counters for ``daily_citizen`` rows (facility, day, pseudonym) just inserted.

    ``new`` are rows this transaction inserted (never a row already stored). Each counter
    (scope, kind, period) goes up once per pseudonym that had no other row in a facility
    of that scope in that period before: the stored rows of the batch's pseudonyms are
    read once (one query per thousand pseudonyms, on the pseudonym-and-day index), then
    the new rows are resolved in order, so two new rows of one batch count once.
    """
    if not new:
        return
    rows = [(f, as_date(d), p) for f, d, p in new]
    spans = [calendar_period(k, d) for _f, d, _p in rows for k in ("week", "year")]
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    new_set = {(f, d, p) for f, d, p in rows}
    pseudonyms = sorted({p for _f, _d, p in rows})
    codes = sorted({f for f, _d, _p in rows})
    seen: dict[str, set[tuple[str, str, date]]] = {p: set() for p in pseudonyms}
    scopes_of = _attributes(conn, codes)
    stored: list[tuple[str, date, str]] = []
    for i in range(0, len(pseudonyms), 1000):
        query = (
            select(CITIZEN.c.facility_code, CITIZEN.c.day, CITIZEN.c.citizen_pseudonym)
            .where(CITIZEN.c.citizen_pseudonym.in_(pseudonyms[i:i + 1000]), CITIZEN.c.day.between(lo, hi))
        )
        stored += [(f, as_date(d), p) for f, d, p in conn.execute(query) if (f, as_date(d), p) not in new_set]
    scopes_of |= _attributes(conn, sorted({f for f, _d, _p in stored} - scopes_of.keys()))

    def scopes(code: str) -> tuple[str, ...]:  # a facility missing from the registry: the country only
        return scopes_of.get(code) or (COUNTRY,)

    # only stored rows that share a year or an ISO week with a new row of the citizen can matter
    near: dict[str, set[tuple[str, date]]] = {}
    for _f, d, p in rows:
        near.setdefault(p, set()).update((k, calendar_period(k, d)[0]) for k in ("week", "year"))
    for f, d, p in stored:
        if any((k, calendar_period(k, d)[0]) in near[p] for k in ("week", "year")):
            seen[p].update(_keys(scopes(f), d))
    increments: dict[tuple[str, str, date], int] = {}
    for f, d, p in rows:
        for key in _keys(scopes(f), d):
            if key not in seen[p]:
                seen[p].add(key)
                increments[key] = increments.get(key, 0) + 1
    add_to_counters(conn, increments)


def add_to_counters(conn: Connection, increments: dict[tuple[str, str, date], int]) -> None:
    """One upsert statement for all of them, rows as a JSON array (as the writer's rollups)."""
    if not increments:
        return
    rows, e = json_rows(conn.dialect.name)
    date_cast, int_cast = ("::date", "::int") if conn.dialect.name == "postgresql" else ("", "")
    c = (f"{e}->>0", f"{e}->>1", f"({e}->>2){date_cast}", f"({e}->>3){int_cast}")
    conn.exec_driver_sql(
        f"INSERT INTO area_distinct (scope, kind, period_start, citizens) SELECT {', '.join(c)} FROM {rows} WHERE true "
        "ON CONFLICT (scope, kind, period_start) DO UPDATE SET citizens = area_distinct.citizens + excluded.citizens",
        (json.dumps([[s, k, p.isoformat(), n] for (s, k, p), n in increments.items()]),),
    )


def rebuild_counters(conn: Connection) -> None:
    """Recount every counter from ``daily_citizen`` (the migration's backfill; benchmarks after a bulk load).

    One pass over the citizen-days in pseudonym order (the pseudonym-and-day index), with the
    writer's own scopes and periods (:func:`_keys`): each pseudonym adds one to every key
    it has, whatever the number of its rows. 30 grouped ``count(DISTINCT)`` statements did
    the same in SQL, but SQLite sorted each of them through temporary files (100 GB written
    for 2 M rows); this costs one ordered read and a dictionary of counters.
    """
    scopes_of = {r.code: facility_scopes(r.code, r.province or "", r.district or "", r.type or "")
                 for r in conn.execute(select(FACILITY.c.code, FACILITY.c.province, FACILITY.c.district,
                                              FACILITY.c.type))}
    totals: dict[tuple[str, str, date], int] = {}
    keys: set[tuple[str, str, date]] = set()
    current: str | None = None
    query = select(CITIZEN.c.citizen_pseudonym, CITIZEN.c.day, CITIZEN.c.facility_code).order_by(
        CITIZEN.c.citizen_pseudonym).execution_options(yield_per=20_000)  # streamed (PostgreSQL: a server cursor)
    for pseudonym, day, code in conn.execute(query):
        if pseudonym != current:
            for key in keys:
                totals[key] = totals.get(key, 0) + 1
            keys, current = set(), pseudonym
        keys.update(_keys(scopes_of.get(code) or (COUNTRY,), as_date(day)))
    for key in keys:
        totals[key] = totals.get(key, 0) + 1
    conn.execute(AREA_DISTINCT.delete())
    items = list(totals.items())
    for i in range(0, len(items), 50_000):
        add_to_counters(conn, dict(items[i:i + 50_000]))


# ---------------------------------------------------------------------- the read side
def counters(conn: Connection, scopes: Collection[str], kind: Kind, first: date) -> dict[str, int]:
    """The counter of each scope for the period of ``kind`` that starts on ``first`` (0 when none)."""
    out = dict.fromkeys(scopes, 0)
    names = sorted(out)
    for i in range(0, len(names), 1000):
        query = select(AREA_DISTINCT.c.scope, AREA_DISTINCT.c.citizens).where(
            AREA_DISTINCT.c.kind == kind, AREA_DISTINCT.c.period_start == first,
            AREA_DISTINCT.c.scope.in_(names[i:i + 1000]))
        out.update({s: int(n) for s, n in conn.execute(query)})
    return out


def counter_series(conn: Connection, scope_name: str, kind: Kind, first: date, last: date) -> dict[date, int]:
    """One scope's counters for the periods of ``kind`` starting between ``first`` and ``last``."""
    query = select(AREA_DISTINCT.c.period_start, AREA_DISTINCT.c.citizens).where(
        AREA_DISTINCT.c.scope == scope_name, AREA_DISTINCT.c.kind == kind,
        AREA_DISTINCT.c.period_start.between(first, last))
    return {as_date(p): int(n) for p, n in conn.execute(query)}


def interrupted(exc: OperationalError) -> bool:
    """The statement was stopped by :func:`time_budget` (not another database error)."""
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "interrupted" in str(orig)
    return type(orig).__name__ == "QueryCanceled"  # psycopg.errors.QueryCanceled: statement_timeout


@contextmanager
def time_budget(conn: Connection, seconds: float) -> Iterator[None]:
    """Stop the statements inside after ``seconds``: SQLite's progress handler, PostgreSQL's
    ``statement_timeout`` set in a savepoint (rolled back after: the reads change nothing,
    and the timeout ends with it)."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)
        return
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
        yield
    finally:
        savepoint.rollback()


#: The deadline of each connection's exact counts: one request (one connection) that needs several
#: exact counts (a custom range cut at both ends, and its total) shares one budget among them.
_DEADLINES: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


def bounded(conn: Connection, query: Executable, seconds: float | None = None) -> list[tuple[object, int]] | None:
    """The rows (key, count) of an exact ``count(DISTINCT ...)`` query, or None when it would take
    longer than the budget. Without ``seconds``, every exact count on ``conn`` draws on one budget of
    :data:`EXACT_BUDGET_S` from the first: once it is spent the rest answer None at once, so no
    request spends more than the budget on them however many it needs."""
    now = time.monotonic()
    if seconds is None:
        remaining = _DEADLINES.setdefault(conn, now + EXACT_BUDGET_S) - now
        if remaining <= 0:
            return None
    else:
        remaining = seconds
    try:
        with time_budget(conn, remaining):
            return [(r[0], int(r[1] or 0)) for r in conn.execute(query)]
    except OperationalError as exc:
        if interrupted(exc):
            return None
        raise

