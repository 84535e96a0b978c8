"""Benchmark: p95 latency of the dashboard's, the province report's and the alert metrics' queries.

A national-scale registry (40,000 facilities with one reader each, 8 provinces x 10
districts, readers in every state) and 10 M stored events over two years, 8% of them
rejected attempts, generated in bulk by SQL (insert-select) with the rollups rebuilt by
GROUP BY as the ingest would have written them (``benchmarks.ingest`` does the same for
its own registry). Each query is what one page, export or scrape costs, timed end to end
in Python (query, rows, view model), p95 of ``--reps`` runs.

    python -m benchmarks.dashboard_queries                          # SQLite and PostgreSQL, 10 M
    python -m benchmarks.dashboard_queries --databases sqlite --sizes 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import text

from benchmarks.ingest import _p95, _rebuild_rollups
from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from server.db import init_db, make_engine
from server.exports import to_xlsx
from server.fleet import fleet_page, parse_filter
from server.fleet_metrics import FleetCollector
from server.localformat import LocalFormat
from server.officer import DashboardView, Scope, build_view, view_table
from server.report import Period, build_report
from server.store import EventStore
from server.store.areas import Area
from simulators.services import Postgres

try:  # absent before migration 0005: the same script then times the code before the counters
    from server.store.distinct import rebuild_counters
except ImportError:
    rebuild_counters = None  # type: ignore[assignment]

FACILITIES = 40_000  # overridable for a quick run: --facilities
PROVINCES = 8
DISTRICTS_PER_PROVINCE = 10
DAYS = 730
START = date(2025, 1, 1)
LAST = START + timedelta(days=DAYS - 1)
OFFLINE_AFTER = timedelta(minutes=15)


def province(i: int) -> str:
    return f"Tỉnh {i % PROVINCES:02d}"


def district(i: int) -> str:
    return f"Huyện {i % PROVINCES:02d}-{(i // PROVINCES) % DISTRICTS_PER_PROVINCE:02d}"


def registry(store: EventStore) -> None:
    """40,000 facilities, one reader each: 90% online, 4% announced offline, 4% silent, 2% never seen."""
    kinds = ("health_station",) * 8 + ("hospital", "private_clinic")
    rows = ["code,name,type,province,district,commune"]
    rows += [f"F{i:05d},Cơ sở {i},{kinds[i % 10]},{province(i)},{district(i)},Xã {i}" for i in range(FACILITIES)]
    store.import_facilities("\n".join(rows) + "\n")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO reader (facility_code, reader_id, registered_at, last_seen_at, "
                          "last_heartbeat_at, status) VALUES (:f, 'desk-1', :t, :s, :h, :st)"), _fleet_state())


def _fleet_state() -> list[dict[str, object]]:
    """Each reader's last contact, relative to now: 90% heard within 10 minutes, 4% announced offline,
    4% silent for 30 hours, 2% never seen."""
    now = datetime.now(UTC)
    params: list[dict[str, object]] = []
    for i in range(FACILITIES):
        bucket = (i * 37) % 50
        seen = None if bucket == 0 else now - (timedelta(hours=30) if bucket < 3 else timedelta(minutes=i % 10))
        params.append({"f": f"F{i:05d}", "t": now - timedelta(days=400), "s": seen, "h": seen,
                       "st": "offline" if bucket in (3, 4) else ("online" if seen else None)})
    return params


def refresh_fleet(store: EventStore) -> None:
    """Put the readers back in the registry's state as of now: a database built an hour ago has
    its 'online' readers silent by then, and every silent reader is a series of /metrics."""
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE reader SET last_seen_at = :s, last_heartbeat_at = :h, status = :st "
                          "WHERE facility_code = :f AND reader_id = 'desk-1'"), _fleet_state())


def generate(store: EventStore, first: int, last: int) -> None:
    """Events first..last-1: event i at a facility spread by a multiplicative hash, on day i*D/size."""
    pg = store.engine.dialect.name == "postgresql"
    per_day = max(1, 10_000_000 // DAYS)
    with store.engine.begin() as conn:
        if pg:
            conn.execute(text(f"""
                INSERT INTO checkin_event (event_id, facility_code, reader_id, occurred_at, local_day, method,
                                           trust_level, citizen_pseudonym, received_at)
                SELECT lpad(i::text, 26, '0'), 'F' || lpad(((i * 7919) % {FACILITIES})::text, 5, '0'), 'desk-1',
                       timestamptz '{START}T03:00:00Z' + ((i / {per_day}) % {DAYS}) * interval '1 day',
                       date '{START}' + ((i / {per_day}) % {DAYS})::int,
                       (ARRAY['qr','chip','qr+chip'])[1 + i % 3],
                       CASE WHEN i % 25 < 2 THEN 'invalid' WHEN i % 2 = 0 THEN 'qr_only' ELSE 'chip_verified' END,
                       lpad(to_hex(((i * 2654435761) % 3000000)::bigint), 64, '0'), now()
                FROM generate_series({first}::bigint, {last - 1}::bigint) AS i"""))
        else:
            conn.execute(text(f"""
                WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last - 1})
                INSERT INTO checkin_event (event_id, facility_code, reader_id, occurred_at, local_day, method,
                                           trust_level, citizen_pseudonym, received_at)
                SELECT printf('%026d', i), printf('F%05d', (i * 7919) % {FACILITIES}), 'desk-1',
                       datetime('{START}', '+' || ((i / {per_day}) % {DAYS}) || ' days', '+3 hours'),
                       date('{START}', '+' || ((i / {per_day}) % {DAYS}) || ' days'),
                       CASE i % 3 WHEN 0 THEN 'qr' WHEN 1 THEN 'chip' ELSE 'qr+chip' END,
                       CASE WHEN i % 25 < 2 THEN 'invalid' WHEN i % 2 = 0 THEN 'qr_only' ELSE 'chip_verified' END,
                       printf('%064x', (i * 2654435761) % 3000000), datetime('now')
                FROM n"""))


def last_checkins(store: EventStore) -> None:
    """The readers' last check-in, as the writer keeps it (from the rollup: its key starts with the facility)."""
    last = ("max(u.day) + interval '3 hours'" if store.engine.dialect.name == "postgresql"
            else "datetime(max(u.day), '+3 hours')")
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE reader SET last_checkin_at = (SELECT {last} FROM daily_usage u "
                          "WHERE u.facility_code = reader.facility_code)"))


def queries(store: EventStore) -> dict[str, Callable[[], object]]:
    rng = random.Random(1)
    tz = "Asia/Ho_Chi_Minh"
    # the days that hold events: generate() fills 10 M / DAYS events a day from START, so a smaller
    # size covers fewer days (2 M: 146), and a day after them would time an empty period
    with store.engine.connect() as conn:
        last = conn.execute(text("SELECT max(day) FROM daily_usage")).scalar_one()
    filled = max(93, ((last if isinstance(last, date) else date.fromisoformat(str(last or LAST))) - START).days + 1)

    end = START + timedelta(days=min(filled, DAYS) - 1)  # the last day with events

    def some_day() -> date:
        return START + timedelta(days=rng.randrange(92, min(filled, DAYS)))

    def view(**params: str) -> DashboardView:
        scope = Scope.parse(params, LAST)
        with store.engine.connect() as conn:
            return build_view(conn, scope, timezone=tz, coverage_days=7, offline_after=OFFLINE_AFTER)

    def report(period: str, area: Area) -> object:
        with store.engine.connect() as conn:
            return build_report(conn, Period.parse(period), area)

    def district_xlsx() -> object:
        v = view(period="month", date=some_day().isoformat(), province=province(3), district=district(3))
        return to_xlsx([view_table(v)], LocalFormat())

    registry_metrics = CollectorRegistry()
    FleetCollector(store, offline_after=OFFLINE_AFTER, coverage_days=7).register(registry_metrics)

    def fleet(**params: str) -> object:  # the technician's fleet view (and /api/v1/readers): one page
        with store.engine.connect() as conn:
            return fleet_page(conn, parse_filter(params), datetime.now(UTC) - OFFLINE_AFTER)

    def quarter() -> str:
        d = some_day()
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"

    return {
        "dashboard: all provinces, quarter": lambda: view(period="quarter", date=some_day().isoformat()),
        "dashboard: province, month": lambda: view(period="month", date=some_day().isoformat(),
                                                   province=province(rng.randrange(PROVINCES))),
        "dashboard: province, custom 366 d": lambda: view(period="custom", **{
            "from": (end - timedelta(days=365)).isoformat(), "to": end.isoformat()}, province=province(1)),
        "dashboard: district, week": lambda: view(period="week", date=some_day().isoformat(),
                                                  province=province(2), district=district(2)),
        "dashboard: facility, month": lambda: view(period="month", date=some_day().isoformat(),
                                                   province=province(5), district=district(5),
                                                   facility=f"F{rng.randrange(FACILITIES):05d}"),
        "export: district table as XLSX": district_xlsx,
        "report: province, quarter": lambda: report(quarter(), Area(province(rng.randrange(PROVINCES)))),
        "report: district, month": lambda: report(f"{some_day():%Y-%m}", Area(province(4), district(4))),
        "report: all provinces, quarter": lambda: report(quarter(), Area()),
        "metrics: /metrics fleet collector": lambda: list(registry_metrics.collect()),
        "fleet: offline readers, page 3": lambda: fleet(state="offline", offset="100"),
        "fleet: a province, old version, outbox >= 1": lambda: fleet(
            province=province(rng.randrange(PROVINCES)), version_not="1.4.0", min_outbox="1"),
        "api: /citizens country, 2 years by week": lambda: store.usage(
            None, START, LAST, group_by="week"),
        "api: /citizens province, custom 30 d by day": lambda: store.usage(
            None, some_day(), some_day() + timedelta(days=29), group_by="day", province=province(6)),
    }


def ingest_rate(store: EventStore, batches: int = 20, size: int = 2000) -> float:
    """Events per second through the writer (``EventStore.store``, batches of ``size``) into the
    loaded database: a third of the citizens new, the rest returning (pseudonyms already stored);
    nine reads in ten from the last day, the rest up to 60 days late (an outbox draining)."""
    rng = random.Random()  # a new sample each run: a second run on the same database stores new rows too
    total = 0.0
    for _ in range(batches):
        events = []
        for i in range(size):
            # as a day of ingest: most reads from today, one in ten delivered late (up to 60 days)
            day = LAST - timedelta(days=0 if rng.random() < 0.9 else rng.randrange(1, 61))
            citizen = f"{rng.randrange(3_000_000):064x}" if i % 3 else f"{rng.getrandbits(256):064x}"
            events.append(CheckInEvent(
                event_id=new_event_id(), facility_code=f"F{rng.randrange(FACILITIES):05d}",
                reader_id="desk-1", occurred_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=3),
                method=Method.CHIP, trust_level=TrustLevel.CHIP_VERIFIED, citizen_pseudonym=citizen))
        t = time.perf_counter()
        store.store(events)
        total += time.perf_counter() - t
    return batches * size / total


def run(database_url: str, sizes: list[int], reps: int, *, reuse: bool = False, ingest: bool = False,
        ) -> tuple[dict[int, dict[str, float]], dict[int, float]]:
    """Generate each size in turn (or, ``reuse``, time a database a previous run left) and time the queries."""
    engine = make_engine(database_url)
    init_db(engine)
    store = EventStore(engine)
    if not reuse:
        registry(store)
    else:
        refresh_fleet(store)
    results: dict[int, dict[str, float]] = {}
    costs: dict[int, float] = {}
    done = 0
    for size in sizes:
        t = time.perf_counter()
        while done < size and not reuse:
            step = min(size, done + 1_000_000)
            generate(store, done, step)
            done = step
        if not reuse:
            _rebuild_rollups(store)
            last_checkins(store)
        costs[size] = time.perf_counter() - t
        if not reuse and rebuild_counters is not None:
            t = time.perf_counter()
            with store.engine.begin() as conn:
                rebuild_counters(conn)  # the distinct counters, as the writer (or migration 0005) keeps them
            if engine.dialect.name == "postgresql":
                with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("ANALYZE area_distinct"))
            print(f"  distinct counters rebuilt in {time.perf_counter() - t:.0f} s", flush=True)
        results[size] = {}
        for name, fn in queries(store).items():
            fn()  # warm
            samples = []
            for _ in range(reps):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
            results[size][name] = _p95(samples)
            print(f"  {size / 1e6:g} M  {name:40} p95 {results[size][name]:9.1f} ms", flush=True)
        if ingest:
            print(f"  {size / 1e6:g} M  writer: {ingest_rate(store):,.0f} events/s (batches of 2000)", flush=True)
    engine.dispose()
    return results, costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="10000000")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--reuse", help="time the queries on this existing database URL (one size, no generation)")
    parser.add_argument("--build", help="generate into this (empty) database URL and keep it for --reuse")
    parser.add_argument("--ingest", action="store_true", help="also time the writer into the loaded database")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.reuse or args.build:
        results, costs = run(args.reuse or args.build, sizes[:1], args.reps, reuse=bool(args.reuse),
                             ingest=args.ingest)
        print(json.dumps({"p95_ms": results, "generation_s": costs}, indent=1))
        return 0
    work = Path(tempfile.mkdtemp(prefix="cccd-dash-bench-"))
    out: dict[str, dict[int, dict[str, float]]] = {}
    for db in [d for d in args.databases.split(",") if d]:
        print(f"\n== {db}: p95 of {args.reps} runs, ms ({FACILITIES:,} facilities and readers, "
              f"{PROVINCES * DISTRICTS_PER_PROVINCE} districts, {DAYS} days)", flush=True)
        if db == "sqlite":
            results, costs = run(f"sqlite:///{work / 'dash.sqlite'}", sizes, args.reps)
        elif not Postgres.available():
            print("PostgreSQL is not installed: skipped")
            continue
        else:
            with Postgres(fsync=False) as pg:  # only reads are timed
                results, costs = run(pg.url, sizes, args.reps)
        out[db] = results
        print(f"{'query':42}" + "".join(f"{f'{s / 1e6:g} M events':>14}" for s in sizes))
        for name in next(iter(results.values())):
            print(f"{name:42}" + "".join(f"{results[s][name]:14.1f}" for s in sizes))
        print("generation (insert-select + rollups), cumulative s: "
              + ", ".join(f"{s / 1e6:g} M: {costs[s]:.0f}" for s in sizes), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
