"""Benchmark: MQTT ingest throughput and query latency of the central server.

1. Ingest: a fleet of publisher processes (paho, QoS 1, a bounded window in flight)
   sends check-in events through a real mosquitto, first to a bare paho subscriber
   (the raw broker throughput), then into the server's ingest (validation, registry
   check, one transaction per batch with its rollups, acknowledgement after commit)
   with SQLite (WAL, synchronous=FULL) and with PostgreSQL (fsync on). Same
   publishers, same broker settings, same run; events/s and the ratio to raw.
2. Queries: p95 latency of the coverage and usage queries with 1 M and 10 M stored
   events. The events are generated in bulk by SQL (insert-select), not through MQTT,
   and the rollups are built from them by GROUP BY, as the ingest would have.

    python -m benchmarks.ingest                       # everything
    python -m benchmarks.ingest --skip-queries        # ingest only
    python -m benchmarks.ingest --sizes 1000000 --databases sqlite
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import text

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from contract.mqtt import send_time_properties
from contract.settings import MqttSettings
from contract.topics import checkin_topic
from server.db import init_db, make_engine
from server.ingest import Ingestor
from server.store import EventStore
from server.store.periods import rebuild_coverage, rebuild_periods
from server.store.writer import rebuild_month_usage, rebuild_type_usage
from simulators.services import Mosquitto, Postgres

VN = timezone(timedelta(hours=7))
BROKER_INFLIGHT = 0  # no broker-side cap: the subscriber's Receive Maximum governs


# --------------------------------------------------------------------------- publishers
def _publisher(idx: int, port: int, count: int, window: int, ready, start, done,  # type: ignore[no-untyped-def]
               stamped: bool = False) -> None:
    facility, reader = f"B{idx:03d}", "desk-1"
    rng = random.Random(idx)
    methods = list(Method)
    trusts = list(TrustLevel)
    now = datetime.now(VN)
    payloads = [
        CheckInEvent(event_id=new_event_id(), facility_code=facility, reader_id=reader, occurred_at=now,
                     method=rng.choice(methods), trust_level=rng.choice(trusts),
                     citizen_pseudonym=f"{rng.randrange(10**9):064x}").to_json_bytes()
        for _ in range(count)
    ]
    # stamped: the desks' send time and expiry on each publish (contract.mqtt), built before the clock starts
    props = [send_time_properties(datetime.now(UTC)) if stamped else None for _ in payloads]
    topic = checkin_topic(facility, reader)
    slots = threading.Semaphore(window)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{idx}", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(window)
    client.on_publish = lambda *_a: slots.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    ready.put(idx)
    start.wait()
    for payload, prop in zip(payloads, props, strict=True):
        slots.acquire()
        client.publish(topic, payload, qos=1, properties=prop)
    for _ in range(window):
        slots.acquire()
    client.disconnect()
    client.loop_stop()
    done.put(idx)


class Fleet:
    """Publisher processes, ready (connected, payloads built) before the clock starts."""

    def __init__(self, port: int, publishers: int, per_publisher: int, window: int, stamped: bool = False) -> None:
        ctx = mp.get_context("spawn")
        self.ready, self.done, self.start = ctx.Queue(), ctx.Queue(), ctx.Event()
        self.procs = [
            ctx.Process(target=_publisher,
                        args=(i, port, per_publisher, window, self.ready, self.start, self.done, stamped))
            for i in range(publishers)
        ]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            self.ready.get(timeout=120)

    def go(self) -> float:
        t0 = time.perf_counter()
        self.start.set()
        return t0

    def join(self) -> None:
        for _ in self.procs:
            self.done.get(timeout=600)
        for p in self.procs:
            p.join(30)


def _session_props(receive_maximum: int = 10_000) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = receive_maximum
    return props


def raw_run(publishers: int, per_publisher: int, window: int) -> float:
    """Events/s from the publishers to a bare paho subscriber (QoS 1, persistent session)."""
    total = publishers * per_publisher
    with Mosquitto(max_inflight=BROKER_INFLIGHT) as broker:
        got = [0]
        finished = threading.Event()
        subscribed = threading.Event()
        end = [0.0]

        def on_message(_c, _u, _m):  # type: ignore[no-untyped-def]
            got[0] += 1
            if got[0] == total:
                end[0] = time.perf_counter()
                finished.set()

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-sub", protocol=mqtt.MQTTv5)
        sub.on_message = on_message
        sub.on_subscribe = lambda *_a: subscribed.set()
        sub.on_connect = lambda c, *_a: c.subscribe("cccd/v1/+/+/checkin", qos=1)
        sub.connect("127.0.0.1", broker.port, clean_start=False, properties=_session_props())
        sub.loop_start()
        subscribed.wait(10)
        fleet = Fleet(broker.port, publishers, per_publisher, window)
        t0 = fleet.go()
        finished.wait(600)
        fleet.join()
        sub.disconnect()
        sub.loop_stop()
        return total / (end[0] - t0)


def _registered_store(database_url: str, publishers: int) -> EventStore:
    """A fresh store with one registered facility and reader per publisher."""
    engine = make_engine(database_url)
    init_db(engine)
    store = EventStore(engine)
    store.import_facilities(
        "code,name,type,province,district,commune\n"
        + "".join(f"B{i:03d},Cơ sở {i},health_station,Tỉnh,Huyện {i % 5},Xã\n" for i in range(publishers))
    )
    for i in range(publishers):
        store.add_reader(f"B{i:03d}", "desk-1")
    return store


def server_run(database_url: str, publishers: int, per_publisher: int, window: int, batch_size: int,
               *, receipts: bool = True, stamped: bool = False) -> float:
    """Events/s from the publishers through the broker into the server's store (committed, receipted);
    ``stamped``: each publish carries the desks' send time and expiry (the server then measures offsets)."""
    total = publishers * per_publisher
    store = _registered_store(database_url, publishers)
    with Mosquitto(max_inflight=BROKER_INFLIGHT) as broker:
        ingestor = Ingestor(store, MqttSettings(url=broker.url, client_id="bench-server"), batch_size=batch_size,
                            receive_maximum=10_000, receipts=receipts)
        ingestor.start()
        deadline = time.monotonic() + 10
        while not ingestor.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the subscription
        fleet = Fleet(broker.port, publishers, per_publisher, window, stamped)
        t0 = fleet.go()
        cpu0 = time.process_time()  # this process is the server (the publishers are processes of their own)
        while ingestor.counters["stored"] < total:
            time.sleep(0.01)
        t1 = time.perf_counter()
        print(f"    server CPU {(time.process_time() - cpu0) / total * 1e6:.0f} us/event"
              f"{' (desks send time on)' if stamped else ''}", flush=True)
        fleet.join()
        ingestor.stop()
    assert store.event_count() == total, "every event stored exactly once"
    store.engine.dispose()
    return total / (t1 - t0)


def raw_drain(publishers: int, per_publisher: int, window: int) -> float:
    """Events/s of a bare subscriber draining a backlog queued for its persistent session."""
    total = publishers * per_publisher
    with Mosquitto(max_inflight=BROKER_INFLIGHT) as broker:
        got = [0]
        finished, subscribed = threading.Event(), threading.Event()
        end = [0.0]

        def on_message(_c, _u, _m):  # type: ignore[no-untyped-def]
            got[0] += 1
            if got[0] == total:
                end[0] = time.perf_counter()
                finished.set()

        def client() -> mqtt.Client:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-drain", protocol=mqtt.MQTTv5)
            c.on_message = on_message
            c.on_subscribe = lambda *_a: subscribed.set()
            return c

        first = client()
        first.on_connect = lambda c, *_a: c.subscribe("cccd/v1/+/+/checkin", qos=1)
        first.connect("127.0.0.1", broker.port, clean_start=False, properties=_session_props())
        first.loop_start()
        subscribed.wait(10)
        first.disconnect()
        first.loop_stop()
        fleet = Fleet(broker.port, publishers, per_publisher, window)
        fleet.go()
        fleet.join()
        second = client()
        t0 = time.perf_counter()
        second.connect("127.0.0.1", broker.port, clean_start=False, properties=_session_props())
        second.loop_start()
        finished.wait(600)
        second.disconnect()
        second.loop_stop()
        return total / (end[0] - t0)


def server_drain(database_url: str, publishers: int, per_publisher: int, window: int, batch_size: int) -> float:
    """Events/s of the server's ingest draining a backlog queued for its persistent session."""
    total = publishers * per_publisher
    store = _registered_store(database_url, publishers)
    with Mosquitto(max_inflight=BROKER_INFLIGHT) as broker:
        settings = MqttSettings(url=broker.url, client_id="bench-server-drain")
        first = Ingestor(store, settings, batch_size=batch_size, receive_maximum=10_000)
        first.start()
        deadline = time.monotonic() + 10
        while not first.subscribed and time.monotonic() < deadline:
            time.sleep(0.02)
        first.stop()
        fleet = Fleet(broker.port, publishers, per_publisher, window)
        fleet.go()
        fleet.join()
        second = Ingestor(store, settings, batch_size=batch_size, receive_maximum=10_000)
        t0 = time.perf_counter()
        second.start()
        while second.counters["stored"] < total:
            time.sleep(0.01)
        t1 = time.perf_counter()
        second.stop()
    assert store.event_count() == total, "every event stored exactly once"
    store.engine.dispose()
    return total / (t1 - t0)


# --------------------------------------------------------------------------- bulk data
FACILITIES = 1000
DISTRICTS = 40
DAYS = 730
START = date(2024, 1, 1)


def _registry(store: EventStore) -> None:
    rows = ["code,name,type,province,district,commune"]
    for i in range(FACILITIES):
        province = "Thái Bình" if i % 2 == 0 else "Nam Định"
        rows.append(f"F{i:04d},Cơ sở {i},health_station,{province},Huyện {i % DISTRICTS:02d},Xã {i}")
    store.import_facilities("\n".join(rows) + "\n")
    with store.engine.begin() as conn:
        now = datetime.now(UTC)
        conn.execute(
            text("INSERT INTO reader (facility_code, reader_id, registered_at, last_checkin_at, last_seen_at) "
                 "VALUES (:f, 'desk-1', :t, :c, :c)"),
            [{"f": f"F{i:04d}", "t": now, "c": now - timedelta(days=i % 12)} for i in range(FACILITIES)],
        )


def _generate(store: EventStore, first: int, last: int) -> None:
    """Events first..last-1 by insert-select: event i at facility i mod F on day (i div F) mod D,
    so that any size covers every facility and day (1 M: ~1.4 a facility-day; 10 M: ~14)."""
    per_day = FACILITIES
    pg = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as conn:
        if pg:
            conn.execute(text(f"""
                INSERT INTO checkin_event (event_id, facility_code, reader_id, occurred_at, local_day, method,
                                           trust_level, citizen_pseudonym, received_at)
                SELECT lpad(i::text, 26, '0'), 'F' || lpad((i % {FACILITIES})::text, 4, '0'), 'desk-1',
                       timestamptz '{START}T03:00:00Z' + ((i / {per_day}) % {DAYS}) * interval '1 day',
                       date '{START}' + ((i / {per_day}) % {DAYS})::int,
                       (ARRAY['qr','chip','qr+chip'])[1 + i % 3], (ARRAY['qr_only','chip_verified'])[1 + i % 2],
                       lpad(to_hex(((i * 2654435761) % 3000000)::bigint), 64, '0'), now()
                FROM generate_series({first}::bigint, {last - 1}::bigint) AS i"""))
        else:
            conn.execute(text(f"""
                WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last - 1})
                INSERT INTO checkin_event (event_id, facility_code, reader_id, occurred_at, local_day, method,
                                           trust_level, citizen_pseudonym, received_at)
                SELECT printf('%026d', i), printf('F%04d', i % {FACILITIES}), 'desk-1',
                       datetime('{START}', '+' || ((i / {per_day}) % {DAYS}) || ' days', '+3 hours'),
                       date('{START}', '+' || ((i / {per_day}) % {DAYS}) || ' days'),
                       CASE i % 3 WHEN 0 THEN 'qr' WHEN 1 THEN 'chip' ELSE 'qr+chip' END,
                       CASE i % 2 WHEN 0 THEN 'qr_only' ELSE 'chip_verified' END,
                       printf('%064x', (i * 2654435761) % 3000000), datetime('now')
                FROM n"""))


def _rebuild_rollups(store: EventStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM daily_usage"))
        conn.execute(text("DELETE FROM daily_citizen"))
        conn.execute(text("DELETE FROM area_daily_usage"))
        conn.execute(text("""INSERT INTO daily_usage (facility_code, day, method, trust_level, checkins)
            SELECT facility_code, local_day, method, trust_level, count(*) FROM checkin_event
            GROUP BY facility_code, local_day, method, trust_level"""))
        conn.execute(text("""INSERT INTO area_daily_usage (province, district, day, method, trust_level, checkins)
            SELECT f.province, f.district, u.day, u.method, u.trust_level, SUM(u.checkins)
            FROM daily_usage u JOIN facility f ON f.code = u.facility_code
            GROUP BY f.province, f.district, u.day, u.method, u.trust_level"""))
        conn.execute(text("""INSERT INTO daily_citizen (facility_code, day, citizen_pseudonym)
            SELECT DISTINCT facility_code, local_day, citizen_pseudonym FROM checkin_event"""))
        rebuild_periods(conn)  # the covered facilities, the type and month rollups, as the writer keeps them
        rebuild_coverage(conn)
        rebuild_type_usage(conn)
        rebuild_month_usage(conn)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _p95(samples: list[float]) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))] * 1000


def query_latencies(store: EventStore, reps: int) -> dict[str, float]:
    rng = random.Random(1)
    last = START + timedelta(days=DAYS - 1)

    def facility_30d() -> None:
        end = START + timedelta(days=rng.randrange(30, DAYS))
        store.usage(f"F{rng.randrange(FACILITIES):04d}", end - timedelta(days=29), end)

    def district_30d_week() -> None:
        end = START + timedelta(days=rng.randrange(30, DAYS))
        store.usage(None, end - timedelta(days=29), end, group_by="week",
                    district=f"Huyện {rng.randrange(DISTRICTS):02d}")

    def province_year_month() -> None:
        store.usage(None, last - timedelta(days=364), last, group_by="month", province="Thái Bình", distinct=False)

    def province_30d_day() -> None:
        end = START + timedelta(days=rng.randrange(30, DAYS))
        store.usage(None, end - timedelta(days=29), end, province="Thái Bình", distinct=False)

    def province_day_distinct() -> None:
        day = START + timedelta(days=rng.randrange(DAYS))
        store.usage(None, day, day, province="Thái Bình")

    queries = {
        "coverage?level=district": lambda: store.coverage("district", 7),
        "coverage?level=province": lambda: store.coverage("province", 7),
        "usage facility 30 d by day (+distinct)": facility_30d,
        "usage district 30 d by week (+distinct)": district_30d_week,
        "usage province 30 d by day": province_30d_day,
        "usage province 365 d by month": province_year_month,
        "usage province 1 d (+distinct)": province_day_distinct,
    }
    out = {}
    for name, fn in queries.items():
        fn()  # warm
        samples = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        out[name] = _p95(samples)
    return out


def query_benchmark(
    database_url: str, sizes: list[int], reps: int
) -> tuple[dict[int, dict[str, float]], dict[int, float]]:
    engine = make_engine(database_url)
    init_db(engine)
    store = EventStore(engine)
    _registry(store)
    results, costs = {}, {}
    done = 0
    for size in sizes:
        t = time.perf_counter()
        step = 1_000_000
        while done < size:
            _generate(store, done, min(size, done + step))
            done = min(size, done + step)
        _rebuild_rollups(store)
        costs[size] = time.perf_counter() - t
        assert store.event_count() == size
        results[size] = query_latencies(store, reps)
    store.engine.dispose()
    return results, costs


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--per-publisher", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=100, help="QoS 1 messages in flight per publisher")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--drain-only", action="store_true", help="of the ingest runs, only the backlog drain")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--compare-receipts", action="store_true",
                        help="add a SQLite run without receipts (their cost)")
    parser.add_argument("--compare-desk-properties", action="store_true",
                        help="add a SQLite run whose publishes carry the desks' send time and expiry")
    args = parser.parse_args(argv)
    databases = [d for d in args.databases.split(",") if d]
    if "postgresql" in databases and not Postgres.available():
        print("PostgreSQL is not installed: skipping it")
        databases.remove("postgresql")
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="cccd-bench-"))
    print(f"machine: {os.cpu_count()} cores; work dir {work}")
    if not args.skip_ingest:
        n = args.publishers * args.per_publisher
        print(f"\n== Ingest: {args.publishers} publisher processes x {args.per_publisher} events (QoS 1, window "
              f"{args.window}), mosquitto max_inflight unlimited, subscriber Receive Maximum 10000, "
              f"server batch <= {args.batch_size}; {args.rounds} alternating rounds, median", flush=True)
        kinds = ["raw", *databases]
        if args.compare_receipts and "sqlite" in databases:
            kinds.append("sqlite-norcpt")
        if args.compare_desk_properties and "sqlite" in databases:
            kinds.append("sqlite-stamped")
        runs: dict[str, list[float]] = {k: [] for k in kinds}
        for round_no in range(0 if args.drain_only else args.rounds):
            for kind in kinds:
                if kind == "raw":
                    rate = raw_run(args.publishers, args.per_publisher, args.window)
                elif kind in ("sqlite", "sqlite-norcpt", "sqlite-stamped"):
                    db_file = work / f"ingest-{round_no}.sqlite"
                    rate = server_run(f"sqlite:///{db_file}", args.publishers, args.per_publisher, args.window,
                                      args.batch_size, receipts=kind != "sqlite-norcpt",
                                      stamped=kind == "sqlite-stamped")
                    for f in work.glob(f"ingest-{round_no}.sqlite*"):
                        f.unlink()
                else:
                    with Postgres(fsync=True) as pg:
                        rate = server_run(pg.url, args.publishers, args.per_publisher, args.window, args.batch_size)
                runs[kind].append(rate)
                print(f"  round {round_no + 1} {kind:10} {rate:8,.0f} events/s", flush=True)
        labels = {"raw": "raw broker -> bare paho subscriber", "sqlite": "server, SQLite WAL synchronous=FULL",
                  "postgresql": "server, PostgreSQL 15 (fsync on)",
                  "sqlite-norcpt": "server, SQLite, receipts off",
                  "sqlite-stamped": "server, SQLite, desks' send time on"}
        if not args.drain_only:
            raw = statistics.median(runs["raw"])
            print(f"{'run':40} {'median ev/s':>12} {'x raw':>6}   rounds")
            for kind in kinds:
                med = statistics.median(runs[kind])
                print(f"{labels[kind]:40} {med:12,.0f} {med / raw:6.2f}   "
                      + ", ".join(f"{r:,.0f}" for r in runs[kind]))
            print(f"({n} events per run, every one stored exactly once: checked)")
        print(f"\n== Backlog drain: the same {n} events queued in the broker first (subscriber away), "
              f"then drained; {args.rounds} alternating rounds, median", flush=True)
        # the drain compares the storage engines only
        kinds = [k for k in kinds if k not in ("sqlite-norcpt", "sqlite-stamped")]
        drains: dict[str, list[float]] = {k: [] for k in kinds}
        for round_no in range(args.rounds):
            for kind in kinds:
                if kind == "raw":
                    rate = raw_drain(args.publishers, args.per_publisher, args.window)
                elif kind == "sqlite":
                    rate = server_drain(f"sqlite:///{work / f'drain-{round_no}.sqlite'}", args.publishers,
                                        args.per_publisher, args.window, args.batch_size)
                    for f in work.glob(f"drain-{round_no}.sqlite*"):
                        f.unlink()
                else:
                    with Postgres(fsync=True) as pg:
                        rate = server_drain(pg.url, args.publishers, args.per_publisher, args.window,
                                            args.batch_size)
                drains[kind].append(rate)
                print(f"  round {round_no + 1} {kind:10} {rate:8,.0f} events/s", flush=True)
        raw_d = statistics.median(drains["raw"])
        print(f"{'drain':40} {'median ev/s':>12} {'x raw':>6}   rounds")
        for kind in kinds:
            med = statistics.median(drains[kind])
            print(f"{labels[kind]:40} {med:12,.0f} {med / raw_d:6.2f}   "
                  + ", ".join(f"{r:,.0f}" for r in drains[kind]))
    if not args.skip_queries:
        for db in databases:
            print(f"\n== Queries on {db}: p95 of {args.reps} runs, ms "
                  f"({FACILITIES} facilities, {DISTRICTS} districts, {DAYS} days)")
            if db == "sqlite":
                results, costs = query_benchmark(f"sqlite:///{work / 'query.sqlite'}", sizes, args.reps)
            else:
                with Postgres(fsync=False) as pg:
                    results, costs = query_benchmark(pg.url, sizes, args.reps)
            header = f"{'query':42}" + "".join(f"{f'{s / 1e6:g} M events':>14}" for s in sizes)
            print(header)
            for name in next(iter(results.values())):
                print(f"{name:42}" + "".join(f"{results[s][name]:14.1f}" for s in sizes))
            print("generation (insert-select + rollups), cumulative s: "
                  + ", ".join(f"{s / 1e6:g} M: {costs[s]:.0f}" for s in sizes), flush=True)
            for f in work.glob("query.sqlite*"):
                f.unlink()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
