"""Benchmark: the distinct-citizen figures alone, on a database ``benchmarks.dashboard_queries --build`` left.

The figures the dashboard, the report and ``/api/v1/citizens`` ask for (server.store.areas.citizen_counts,
EventStore.usage), each timed end to end, with its value: run it with the code before and after a change
on the same database (e.g. ``PYTHONPATH=<a checkout of main>``) and the values must agree.

    python -m benchmarks.distinct_figures sqlite:////tmp/dist-bench/dash2m.sqlite --reps 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date

from sqlalchemy import Connection

import server.store.areas as areas
from server.db import make_engine
from server.store import EventStore
from server.store.areas import Area, citizen_counts
from server.store.base import FACILITY

#: A quarter and a month that a 2 M build fills (it covers 2025-01-01 to 2025-05-26, 13,698 events a day).
QUARTER = (date(2025, 1, 1), date(2025, 3, 31))
MONTH = (date(2025, 3, 1), date(2025, 3, 31))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    store = EventStore(engine)
    cases: dict[str, Callable[[Connection], object]] = {
        "country, quarter, total": lambda c: citizen_counts(c, Area(), None, *QUARTER)[""],
        "country, quarter, per province": lambda c: len(citizen_counts(c, Area(), FACILITY.c.province, *QUARTER)),
        "country, quarter, per type": lambda c: len(citizen_counts(c, Area(), FACILITY.c.type, *QUARTER)),
        "province, month, total": lambda c: citizen_counts(c, Area("Tỉnh 03"), None, *MONTH)[""],
        "province, quarter, per district": lambda c: len(citizen_counts(c, Area("Tỉnh 03"), FACILITY.c.district,
                                                                        *QUARTER)),
        "district, month, total": lambda c: citizen_counts(c, Area("Tỉnh 03", "Huyện 03-04"), None, *MONTH)[""],
        "usage country 2025 by week": lambda c: store.usage(None, date(2025, 1, 1), date(2025, 12, 31),
                                                            group_by="week").distinct_citizens,
    }
    print("code:", areas.__file__)
    for name, fn in cases.items():
        samples = []
        value: object = None
        for _ in range(args.reps):
            t = time.perf_counter()
            with engine.connect() as conn:
                value = fn(conn)
            samples.append(time.perf_counter() - t)
        print(f"{name:36} max {max(samples) * 1000:9.1f} ms  min {min(samples) * 1000:9.1f} ms  value {value}",
              flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
