"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from server.db import MIGRATIONS, Base, init_db, make_engine
from server.store.distinct import KINDS, calendar_period, facility_scopes


def test_upgrade_head_matches_the_models_and_is_idempotent(database_url):
    engine = make_engine(database_url)
    init_db(engine)
    init_db(engine)  # a restart: nothing to do
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert MigrationContext.configure(conn).get_current_revision() == "0011"
    assert diff == []
    assert {"facility", "reader", "checkin_event", "daily_usage", "area_daily_usage", "daily_citizen",
            "refused_daily", "quarantine", "area_distinct", "dashboard_session", "failed_auth", "reader_cert",
            "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def _upgrade(engine: Engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_0005_backfills_the_distinct_counters_from_the_citizen_days_stored_before_it(database_url):
    """A database at 0004 with citizen-days across a year boundary, an ISO week that straddles
    it, two facilities of one district and one facility of another: after the upgrade every
    counter equals a brute-force distinct count of the rows of its scope and period."""
    engine = make_engine(database_url)
    _upgrade(engine, "0004")
    facilities = {"A1": ("Thái Bình", "Vũ Thư", "hospital"), "A2": ("Thái Bình", "Vũ Thư", "health_station"),
                  "B1": ("Thái Bình", "Kiến Xương", "health_station"), "C1": ("Hà Nam", "Lý Nhân", "hospital")}
    rows = []
    first = date(2026, 12, 27)  # a Sunday: the ISO week of 2026-12-28 runs into 2027
    for i in range(120):
        rows.append({"f": ["A1", "A2", "B1", "C1"][i % 4], "d": first + timedelta(days=(i * 7) % 11),
                     "p": f"{(i * 13) % 17:064x}"})
    unique = {(r["f"], r["d"], r["p"]) for r in rows}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO facility (code, name, type, province, district, commune) "
                          "VALUES (:c, :c, :t, :p, :d, '')"),
                     [{"c": c, "p": p, "d": d, "t": t} for c, (p, d, t) in facilities.items()])
        conn.execute(text("INSERT INTO daily_citizen (facility_code, day, citizen_pseudonym) VALUES (:f, :d, :p)"),
                     [{"f": f, "d": d, "p": p} for f, d, p in sorted(unique)])
    _upgrade(engine, "head")
    expected: dict[tuple[str, str, date], set[str]] = {}
    for f, d, p in unique:
        for s in facility_scopes(f, *facilities[f]):
            for kind in KINDS:
                expected.setdefault((s, kind, calendar_period(kind, d)[0]), set()).add(p)
    with engine.connect() as conn:
        got = {(s, k, p if isinstance(p, date) else date.fromisoformat(p)): n
               for s, k, p, n in conn.execute(text("SELECT scope, kind, period_start, citizens FROM area_distinct"))}
    assert got == {key: len(ps) for key, ps in expected.items()}
    assert any(k == "week" and p == date(2026, 12, 28) for _s, k, p in got)  # the straddling week
    engine.dispose()


def test_0009_backfills_each_facilitys_weeks_months_quarters_and_years_from_its_stored_reads(database_url):
    """A database at 0008 with reads on every day from 20 December 2026 to 10 January 2027 (ISO weeks
    across the year's end, 2026-W53 included; two months, quarters and years), some rejected, and rows
    of a facility missing from the registry: after the upgrade (0009, 0010) ``facility_period`` holds
    exactly the periods of each registered facility's days, as the writer's Python
    (``calendar_period``) computes them, ``area_coverage`` their count per district, and
    ``type_daily_usage`` the check-ins and rejected attempts per type and day, and (0011)
    ``facility_month_usage`` every read per facility and month."""
    from server.store.periods import PERIOD_KINDS

    engine = make_engine(database_url)
    _upgrade(engine, "0008")
    days = [date(2026, 12, 20) + timedelta(days=i) for i in range(22)]
    rows = [{"f": f, "d": d, "t": "invalid" if i % 4 == 0 else "chip_verified", "n": 1 + i % 5}
            for i, d in enumerate(days) for f in (["A1", "B1", "X9"][: 1 + i % 3])]
    types = {"A1": "hospital", "B1": "health_station"}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO facility (code, name, type, province, district, commune) "
                          "VALUES (:c, :c, :t, 'Thái Bình', 'Vũ Thư', '')"),
                     [{"c": c, "t": t} for c, t in types.items()])
        conn.execute(text("INSERT INTO daily_usage (facility_code, day, method, trust_level, checkins) "
                          "VALUES (:f, :d, 'chip', :t, :n)"), rows)
    _upgrade(engine, "head")
    expected = {(k, calendar_period(k, r["d"])[0], r["f"]) for r in rows if r["f"] != "X9" for k in PERIOD_KINDS}
    with engine.connect() as conn:
        got = {(k, p if isinstance(p, date) else date.fromisoformat(p), f) for k, p, f in
               conn.execute(text("SELECT kind, period_start, facility_code FROM facility_period"))}
    assert got == expected
    assert ("week", date(2026, 12, 28), "A1") in got and ("month", date(2027, 1, 1), "B1") in got
    coverage: dict[tuple[str, date], int] = {}
    for k, p, _f in expected:
        coverage[(k, p)] = coverage.get((k, p), 0) + 1
    by_type: dict[tuple[str, date], list[int]] = {}
    for r in rows:
        if r["f"] in types:
            by_type.setdefault((types[r["f"]], r["d"]), [0, 0])[r["t"] == "invalid"] += r["n"]
    with engine.connect() as conn:
        counted = {(k, p if isinstance(p, date) else date.fromisoformat(p)): n for k, p, n in conn.execute(text(
            "SELECT kind, period_start, facilities FROM area_coverage WHERE district = 'Vũ Thư'"))}
        typed = {(t, d if isinstance(d, date) else date.fromisoformat(d)): [c, r] for t, d, c, r in conn.execute(text(
            "SELECT facility_type, day, checkins, rejected FROM type_daily_usage"))}
    assert (counted, typed) == (coverage, by_type)
    months: dict[tuple[str, date], int] = {}  # 0011: every read per facility and month
    for r in rows:
        key = (r["f"], r["d"].replace(day=1))
        months[key] = months.get(key, 0) + r["n"]
    with engine.connect() as conn:
        assert {(f, m if isinstance(m, date) else date.fromisoformat(m)): n for f, m, n in conn.execute(text(
            "SELECT facility_code, month, checkins FROM facility_month_usage"))} == months
    engine.dispose()
