"""Benchmark: every read endpoint's answer to its worst parameters, from ``cccd-server serve``.

The heaviest request each endpoint accepts (the longest range the one date rule allows,
ten years; every facility of the country; the largest page; a country-wide report and its
XLSX) and a few it must refuse, sent over HTTP to the real server process on a loaded
database (``benchmarks.dashboard_queries --build`` makes one: 10 M events, 40,000 readers),
with a private mosquitto. Prints status, p95 and size per request; nothing is asserted
(speed lives here, not in the tests).

    python -m benchmarks.worst_parameters --reuse postgresql+psycopg://... --reps 3
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.dashboard_queries import refresh_fleet
from benchmarks.ingest import _p95
from benchmarks.national import ServerProcess
from server.db import make_engine
from server.store import EventStore
from simulators.services import Mosquitto

TEN_YEARS = {"from": "2017-01-02", "to": "2026-12-31"}  # 3,651 days: the longest range accepted
QUARTER = {"from": "2025-04-01", "to": "2025-06-30"}

#: (label, path, query, who): "read" (API token), "admin" (API token), "viewer" (dashboard session)
CASES: list[tuple[str, str, dict[str, str], str]] = [
    ("usage, 10 years by day", "/api/v1/usage", {**TEN_YEARS, "group_by": "day"}, "read"),
    ("usage, 10 years by week, CSV", "/api/v1/usage", {**TEN_YEARS, "group_by": "week", "format": "csv"}, "read"),
    ("usage, 10 years, per facility, a province", "/api/v1/usage", {**TEN_YEARS, "breakdown": "facility",
                                                                     "province": "Tỉnh 03"}, "read"),
    ("usage, 10 years, per district", "/api/v1/usage", {**TEN_YEARS, "breakdown": "district"}, "read"),
    ("usage, a quarter, per facility, province, CSV", "/api/v1/usage", {**QUARTER, "breakdown": "facility",
                                                                         "province": "Tỉnh 03", "format": "csv"},
     "read"),
    ("citizens, 10 years by day", "/api/v1/citizens", {**TEN_YEARS, "group_by": "day"}, "read"),
    ("citizens, 10 years by week", "/api/v1/citizens", {**TEN_YEARS, "group_by": "week"}, "read"),
    ("citizens, custom 100 days", "/api/v1/citizens", {"from": "2025-03-03", "to": "2025-06-10"}, "read"),
    ("coverage, per district, 365 days", "/api/v1/coverage", {"level": "district", "days": "365"}, "read"),
    ("coverage/uncovered, 365 days", "/api/v1/coverage/uncovered", {"days": "365"}, "read"),
    ("facilities, all (40,000)", "/api/v1/facilities", {}, "read"),
    ("readers, all", "/api/v1/readers", {}, "read"),
    ("fleet, offline, largest page", "/api/v1/fleet", {"state": "offline", "limit": "500", "offset": "1000"},
     "read"),
    ("quarantine, 10 years", "/api/v1/quarantine", TEN_YEARS, "admin"),
    ("metrics", "/metrics", {}, "read"),
    ("dashboard, country, custom 10 years", "/dashboard", {"period": "custom", **TEN_YEARS}, "viewer"),
    ("dashboard, country, quarter", "/dashboard", {"period": "quarter", "date": "2025-05-15"}, "viewer"),
    ("dashboard export, country quarter, XLSX", "/dashboard/export.xlsx", {"period": "quarter",
                                                                           "date": "2025-05-15"}, "viewer"),
    ("report, country, quarter", "/reports/province", {"period": "2025-Q2"}, "viewer"),
    ("report, country, quarter, XLSX", "/reports/province", {"period": "2025-Q2", "format": "xlsx"}, "viewer"),
    ("fleet page, offline", "/dashboard/fleet", {"state": "offline"}, "viewer"),
    # refused: the one date rule, bounded names, bounded pages
    ("refused: 11 years", "/api/v1/usage", {"from": "2016-01-01", "to": "2026-12-31"}, "read"),
    ("refused: year 9999", "/api/v1/citizens", {"from": "9999-01-01", "to": "9999-12-31"}, "read"),
    ("refused: 5,000-character province", "/api/v1/usage", {**QUARTER, "province": "x" * 5000}, "read"),
    ("refused: page of 10^8", "/api/v1/fleet", {"limit": "100000000"}, "read"),
    ("refused: per facility, the country (40,000)", "/api/v1/usage", {**QUARTER, "breakdown": "facility"}, "read"),
]


def run(database_url: str, reps: int) -> list[tuple[str, int, float, int]]:
    engine = make_engine(database_url)
    refresh_fleet(EventStore(engine))  # the fleet as the database's builder left it, relative to now
    engine.dispose()
    work = Path(tempfile.mkdtemp(prefix="cccd-worst-"))
    out = []
    try:
        with Mosquitto(workdir=work / "broker") as broker:
            server = ServerProcess(work, database_url, broker.port).start(timeout=600)  # 0 migrations to run
            try:
                viewer = httpx.Client(base_url=server.url, timeout=120)
                viewer.post("/dashboard/login", data={"token": server.read_token},
                            headers={"Origin": server.url})
                tokens = {"read": server.read_token, "admin": server.admin_token}
                for label, path, query, who in CASES:
                    samples, status, size = [], 0, 0
                    for i in range(reps + 1):  # the first warms the caches: not counted
                        start = time.perf_counter()
                        if who == "viewer":
                            answer = viewer.get(path, params=query)
                        else:
                            answer = httpx.get(f"{server.url}{path}", params=query, timeout=120,
                                               headers={"Authorization": f"Bearer {tokens[who]}"})
                        if i:
                            samples.append(time.perf_counter() - start)
                        status, size = answer.status_code, len(answer.content)
                    out.append((label, status, _p95(samples), size))
                    print(f"  {label:44} {status}  p95 {out[-1][2]:8.1f} ms  {size / 1000:9.1f} kB", flush=True)
                viewer.close()
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", required=True, help="the loaded database's URL")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"== worst parameters against cccd-server serve, p95 of {args.reps} runs", flush=True)
    run(args.reuse, args.reps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
