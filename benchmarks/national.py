"""Benchmark: the real ``cccd-server serve`` process at the broker's pace and at national scale.

``ratio``: publisher processes (QoS 1, a bounded window each) send check-ins through a
real mosquitto to two subscribers at once, in the same run: an independent bare paho
QoS 1 subscriber (persistent session, Receive Maximum 10,000: the broker's pace) and the
real server, started as a subprocess (``cccd-server serve``) on SQLite or PostgreSQL.
Events/s of each (the server's counted when committed, from the database) and their
ratio; every event stored exactly once. ``--profile`` samples the server with py-spy
(a separate run: sampling costs CPU on a small machine) and prints where its time goes.

``fleet``: N light readers (``simulators.national_fleet``) over K brokers (one per region;
a process here may hold 20,000 files), K server processes (one per broker) writing into
one PostgreSQL, heartbeats at the national rate; the servers' CPU and RSS, the brokers'
RSS, the commit lag, the readers/offline/coverage queries' p95 over HTTP at N readers,
and a server restart with every status retained: seconds to steady state.

``heartbeat``: the server's CPU per heartbeat message (a heartbeat flood from a fleet of
light readers, minus the idle server's CPU over the same time).

    python -m benchmarks.national ratio --database sqlite,postgresql
    python -m benchmarks.national ratio --database sqlite --profile 20
    python -m benchmarks.national ratio --database sqlite,postgresql --members 1,2
    python -m benchmarks.national fleet --readers 40000
    python -m benchmarks.national heartbeat
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import multiprocessing as mp
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text

from benchmarks.ingest import Fleet, _registered_store, _session_props
from server.brokerfiles import mosquitto_hash
from server.db import init_db, make_engine
from simulators.national_fleet import FleetPlan, SimReader, national_readers, run_fleet, sim_password
from simulators.services import Mosquitto, Postgres, free_port

BIN = Path(sys.executable).parent
SEED = "national-bench"
SERVER_USER, SERVER_PASSWORD = "cccd-server", secrets.token_urlsafe(24)
READERS_PER_BROKER = 13_500  # under this machine's 20,000 open files per process, with room to spare
IDENTITY = "use_username_as_clientid true\n"
READER_ACL = "".join(f"pattern write cccd/v1/%u/{kind}\n" for kind in ("checkin", "status", "heartbeat"))


# --------------------------------------------------------------------------- processes
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ServeProcess:
    """A ``cccd-server serve`` process of the benchmarks: its TOML file in ``work``, its log, its
    HTTP ``port``; started, waited for until its health says it subscribed, stopped."""

    def __init__(self, work: Path, name: str, port: int) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.work, self.name, self.port = work, name, port
        self.config = work / f"{name}.toml"
        self.proc: subprocess.Popen[bytes] | None = None

    def write_config(self, text: str) -> None:
        self.config.write_text(text)
        os.chmod(self.config, 0o600)  # it holds tokens: the server refuses a file others can read

    def start_serve(self, extra: list[str], timeout: float) -> None:
        log_path = self.work / f"{self.name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - the child holds it
        self.proc = subprocess.Popen([str(BIN / "cccd-server"), "serve", *extra, "--config", str(self.config)],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=5).json().get("mqtt_subscribed"):
                    time.sleep(0.3)
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not subscribe in time")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class ServerProcess(ServeProcess):
    """``cccd-server serve`` as users run it: its own process, a TOML file, the API on a port."""

    def __init__(self, work: Path, database_url: str, broker_port: int, *, username: str | None = None,
                 password: str | None = None, batch_size: int = 2000, offline_after: int = 900,
                 shared_group: str = "", members: int = 1, member: int = 1) -> None:
        super().__init__(work, "server", free_port())
        self.read_token, self.admin_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        auth = f'username = "{username}"\npassword = "{password}"\n' if username else ""
        self.write_config(
            f'database_url = "{database_url}"\n\n[mqtt]\nurl = "mqtt://127.0.0.1:{broker_port}"\n'
            f'client_id = "{username or "cccd-server"}"\n{auth}'
            + (f'shared_group = "{shared_group}"\nmembers = {members}\nmember = {member}\n' if shared_group else "")
            + "\n"
            f'[api]\nhost = "127.0.0.1"\nport = {self.port}\nread_tokens = ["{self.read_token}"]\n'
            f'admin_tokens = ["{self.admin_token}"]\n\n[ingest]\nbatch_size = {batch_size}\n\n'
            f"[registry]\noffline_after_seconds = {offline_after}\n")

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.start_serve([], timeout)
        return self

    def get(self, path: str, timeout: float = 60.0) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.read_token}"},
                         timeout=timeout)

    def metric(self, name: str) -> float | None:
        body = self.get("/metrics").text
        found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", body, re.M)
        return float(found.group(1)) if found else None


def _raw_subscriber(port: int, total: int, ready: mp.Queue[bool], out: mp.Queue[tuple[int, float, float]]) -> None:
    got, last = [0], [0.0]
    done, subscribed = threading.Event(), threading.Event()

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        got[0] += 1
        if got[0] == total:
            last[0] = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-national", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe("cccd/v1/+/+/checkin", qos=1)
    client.connect("127.0.0.1", port, clean_start=False, properties=_session_props())
    client.loop_start()
    ready.put(subscribed.wait(10))
    cpu0 = _own_cpu()
    done.wait(600)
    cpu = _own_cpu() - cpu0
    client.disconnect()
    client.loop_stop()
    out.put((got[0], last[0], cpu))


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RawSubscriber:
    """The broker's pace: a bare paho QoS 1 subscriber with the server's session settings, in
    its own process (as independent of the benchmark's polling as the server is)."""

    def __init__(self, port: int, total: int) -> None:
        ctx = mp.get_context("spawn")
        ready: mp.Queue[bool] = ctx.Queue()
        self.out: mp.Queue[tuple[int, float, float]] = ctx.Queue()
        self.proc = ctx.Process(target=_raw_subscriber, args=(port, total, ready, self.out), daemon=True)
        self.proc.start()
        if not ready.get(timeout=60):
            raise RuntimeError("the raw subscriber did not subscribe")

    def result(self, timeout: float = 120.0) -> tuple[int, float, float]:
        """Messages received, when the last one came (perf_counter), CPU seconds spent."""
        got, last, cpu = self.out.get(timeout=timeout)
        self.proc.join(10)
        return got, last, cpu


def stored(database_url: str) -> Callable[[], int]:
    engine = make_engine(database_url)

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM checkin_event")).scalar_one())

    return count


def exactly_once(database_url: str, total: int) -> bool:
    """Every event of the run stored once: as many rows as distinct ids, and the rollups agree."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows, ids = conn.execute(text("SELECT count(*), count(DISTINCT event_id) FROM checkin_event")).one()
        counted = conn.execute(text("SELECT coalesce(sum(checkins), 0) FROM daily_usage")).scalar_one()
    engine.dispose()
    return int(rows) == int(ids) == int(counted) == total


# --------------------------------------------------------------------------- ratio
def ratio_run(database_url: str, work: Path, publishers: int, per_publisher: int, window: int,
              profile_s: float = 0.0, members: int = 1) -> dict[str, object]:
    """One run: the raw subscriber and ``members`` server processes (a shared subscription when
    more than one; member 1 first, it owns the schema) under the same load."""
    total = publishers * per_publisher
    _registered_store(database_url, publishers).engine.dispose()
    count = stored(database_url)
    with Mosquitto(max_inflight=0) as broker:
        group = "ingest" if members > 1 else ""
        servers = [ServerProcess(work / f"member-{m}", database_url, broker.port, shared_group=group,
                                 members=members, member=m).start() for m in range(1, members + 1)]
        server = servers[0]
        raw = RawSubscriber(broker.port, total)
        fleet = Fleet(broker.port, publishers, per_publisher, window)
        cpu0 = sum(cpu_seconds(s.pid) for s in servers)
        spy = None
        if profile_s:  # --gil: only the thread holding the GIL is sampled (CPU, not waits)
            spy = subprocess.Popen([str(BIN / "py-spy"), "record", "-p", str(server.pid), "-d", str(int(profile_s)),
                                    "-r", "250", "-f", "raw", "--threads", "--gil",
                                    "--nonblocking", "-o", str(work / "profile.txt")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        t0 = fleet.go()
        peak_backlog, next_metric = 0.0, 0.0
        while (n := count()) < total and time.perf_counter() - t0 < 600:
            if time.perf_counter() > next_metric:  # once a second: the API shares the server's GIL
                peak_backlog = max(peak_backlog, *(s.metric("cccd_ingest_backlog") or 0.0 for s in servers))
                next_metric = time.perf_counter() + 1.0
            time.sleep(0.05)
        t_server = time.perf_counter()
        cpu = sum(cpu_seconds(s.pid) for s in servers) - cpu0
        raw_got, raw_last, raw_cpu = raw.result()
        fleet.join()
        rss = max(rss_mb(s.pid) for s in servers)
        if spy:
            spy.wait(profile_s + 60)
        for s in servers:
            s.stop()
    assert exactly_once(database_url, total), "an event stored twice or missing"
    assert n == total, f"{n} of {total} stored"
    assert raw_got == total, f"the raw subscriber got {raw_got} of {total}"
    return {"raw": total / (raw_last - t0), "server": total / (t_server - t0), "server_cpu_us_per_event":
            cpu / total * 1e6, "raw_cpu_us_per_event": raw_cpu / total * 1e6, "server_rss_mb": rss,
            "peak_backlog": peak_backlog}


def summarise_profile(path: Path, top: int = 25) -> str:
    """Where the time goes, from py-spy's collapsed stacks: per thread, and the functions
    that hold the most samples (inclusive), each line ``share  function (file)``."""
    per_thread: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack:
            continue
        n = int(n_text)
        frames = stack.split(";")
        total += n
        per_thread[frames[0]] += n
        seen = set()
        for frame in frames[1:]:
            name = re.sub(r":\d+\)", ")", frame.strip())
            name = re.sub(r"\(/.*/(site-packages|lib/python3\.\d+)/", "(", name)
            if name not in seen:
                inclusive[name] += n
                seen.add(name)
        if len(frames) > 1:
            own[re.sub(r":\d+\)", ")", frames[-1].strip())] += n
    lines = [f"{total} samples"]
    lines += [f"  thread {share / total:6.1%}  {name}" for name, share in per_thread.most_common(6)]
    lines += ["  inclusive:"] + [f"  {share / total:6.1%}  {name}" for name, share in inclusive.most_common(top)]
    lines += ["  own (leaf):"] + [f"  {share / total:6.1%}  {name}" for name, share in own.most_common(top // 2)]
    return "\n".join(lines)


def ratio_main(args: argparse.Namespace) -> int:
    """Rounds of: raw subscriber beside 1 server on SQLite, then beside 1, 2, ... members on PostgreSQL
    (one fresh database each run); a shared subscription on one SQLite file is not a deployment."""
    work = Path(tempfile.mkdtemp(prefix="cccd-national-"))
    n = args.publishers * args.per_publisher
    counts = [int(m) for m in str(args.members).split(",")]
    print(f"== Ingest, same run: {args.publishers} publishers x {args.per_publisher} events (QoS 1, window "
          f"{args.window}) -> mosquitto -> a bare QoS 1 subscriber AND the real `cccd-server serve` process(es)",
          flush=True)
    runs = [(db, m) for db in args.database.split(",") for m in (counts if db != "sqlite" else [1])]
    rows: dict[str, list[dict[str, object]]] = {}
    for round_no in range(args.rounds):
        for db, members in runs:
            label = f"{db} x{members}"
            run_dir = work / f"{db}-{members}-{round_no}"
            run_dir.mkdir()
            if db == "sqlite":
                result = ratio_run(f"sqlite:///{run_dir / 'cccd.sqlite'}", run_dir, args.publishers,
                                   args.per_publisher, args.window, args.profile)
            else:
                with Postgres(fsync=True) as pg:
                    result = ratio_run(pg.url, run_dir, args.publishers, args.per_publisher, args.window,
                                       args.profile, members=members)
            rows.setdefault(label, []).append(result)
            print(f"  round {round_no + 1} {label:14} raw {result['raw']:8,.0f}/s  server {result['server']:8,.0f}/s  "
                  f"x{float(result['server']) / float(result['raw']):.2f}  CPU per event: server "
                  f"{result['server_cpu_us_per_event']:.0f} us, raw {result['raw_cpu_us_per_event']:.0f} us  "
                  f"rss {result['server_rss_mb']:.0f} MB  "
                  f"peak backlog {result['peak_backlog']:.0f}", flush=True)
            if args.profile:
                print(summarise_profile(run_dir / "profile.txt"), flush=True)
    print(f"{'run':14} {'raw ev/s':>10} {'server ev/s':>12} {'ratio':>6} (medians; {n} events per run, "
          "each stored exactly once: checked)")
    for label, results in rows.items():
        raw = statistics.median(float(r["raw"]) for r in results)  # type: ignore[arg-type]
        srv = statistics.median(float(r["server"]) for r in results)  # type: ignore[arg-type]
        ratios = [float(r["server"]) / float(r["raw"]) for r in results]  # type: ignore[arg-type]
        cpu_ratios = [float(r["raw_cpu_us_per_event"]) / float(r["server_cpu_us_per_event"])  # type: ignore[arg-type]
                      for r in results]
        print(f"{label:14} {raw:10,.0f} {srv:12,.0f} {statistics.median(ratios):6.2f}   CPU-normalised (raw CPU per "
              f"event / server CPU per event, all members): {statistics.median(cpu_ratios):.2f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


# --------------------------------------------------------------------------- fleet
def register_fleet(database_url: str, readers: list[SimReader]) -> None:
    """The registry of a national fleet, in bulk (facilities over 63 provinces, 10 districts each)."""
    engine = make_engine(database_url)
    init_db(engine)
    now = datetime.now(UTC)
    facilities = sorted({(r.facility, r.province) for r in readers})
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO facility (code, name, type, province, district, commune) "
                          "VALUES (:c, :n, 'health_station', :p, :d, '')"),
                     [{"c": code, "n": f"Trạm y tế {code}", "p": f"Tỉnh {prov:02d}",
                       "d": f"Huyện {int(code[2:]) % 10:02d}"} for code, prov in facilities])
        conn.execute(text("INSERT INTO reader (facility_code, reader_id, mqtt_username, registered_at) "
                          "VALUES (:f, :r, :u, :t)"),
                     [{"f": r.facility, "r": r.reader, "u": r.username, "t": now} for r in readers])
    engine.dispose()


def regional_brokers(work: Path, readers: list[SimReader], count: int) -> list[Mosquitto]:
    """One broker per region, each with every reader's password (any desk may move) and the
    pattern ACL; the server's account reads everything."""
    passwd = work / "passwd"
    passwd.write_text(f"{SERVER_USER}:{mosquitto_hash(SERVER_PASSWORD)}\n" + "".join(
        f"{r.username}:{mosquitto_hash(sim_password(SEED, r.username))}\n" for r in readers))
    acl = work / "acl"
    acl.write_text(f"user {SERVER_USER}\ntopic read cccd/v1/#\n\n{READER_ACL}")
    brokers = []
    for i in range(count):
        for attempt in range(3):  # free_port() races with the other agents' brokers on this machine
            broker = Mosquitto(workdir=work / f"broker-{i}-{attempt}", password_file=passwd, acl_file=acl,
                               max_inflight=0, extra_config=IDENTITY)
            try:
                brokers.append(broker.start())
                break
            except RuntimeError as exc:
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
    return brokers


def p95_ms(fn: Callable[[], object], reps: int, budget_s: float = 40.0) -> tuple[float, int]:
    samples: list[float] = []
    t_end = time.perf_counter() + budget_s
    while len(samples) < reps and time.perf_counter() < t_end:
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    samples.sort()
    return samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)] * 1000, len(samples)


class Sampler(threading.Thread):
    """CPU (% of one core) and RSS of some processes every ``every`` seconds."""

    def __init__(self, pids: dict[str, int], every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in pids}
        self.stop_flag = threading.Event()

    def run(self) -> None:
        last = {k: (time.monotonic(), cpu_seconds(p)) for k, p in self.pids.items()}
        while not self.stop_flag.wait(self.every):
            for key, pid in self.pids.items():
                try:
                    now, cpu = time.monotonic(), cpu_seconds(pid)
                except FileNotFoundError:
                    continue
                t0, c0 = last[key]
                self.samples[key].append((now, (cpu - c0) / (now - t0) * 100, rss_mb(pid)))
                last[key] = (now, cpu)

    def summary(self, key: str, since: float = 0.0) -> dict[str, float]:
        rows = [s for s in self.samples[key] if s[0] >= since]
        if not rows:
            return {}
        return {"cpu_pct_mean": round(statistics.mean(r[1] for r in rows), 1),
                "cpu_pct_max": round(max(r[1] for r in rows), 1), "rss_mb_max": round(max(r[2] for r in rows), 1)}


def fleet_main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="cccd-national-fleet-"))
    os.chmod(work, 0o777)
    readers = national_readers(args.readers)
    k = max(1, math.ceil(args.readers / READERS_PER_BROKER))
    print(f"== National fleet: {args.readers} readers ({len({r.facility for r in readers})} facilities), {k} "
          f"regional brokers, {k} server processes into one PostgreSQL, heartbeat every {args.heartbeat:g} s, "
          f"{args.duration:g} s of traffic", flush=True)
    servers: list[ServerProcess] = []
    brokers: list[Mosquitto] = []
    try:
        with Postgres(fsync=True) as pg:
            register_fleet(pg.url, readers)
            brokers = regional_brokers(work, readers, k)
            for i, broker in enumerate(brokers):
                servers.append(ServerProcess(work / f"server-{i}", pg.url, broker.port, username=SERVER_USER,
                                             password=SERVER_PASSWORD).start())
            pids = {f"server-{i}": s.pid for i, s in enumerate(servers)}
            pids.update({f"broker-{i}": b.proc.pid for i, b in enumerate(brokers) if b.proc})
            sampler = Sampler(pids)
            sampler.start()
            plan = FleetPlan(brokers=[("127.0.0.1", b.port) for b in brokers], readers=args.readers,
                             processes=args.processes, seed=SEED, heartbeat_s=args.heartbeat,
                             checkins_per_reader_day=args.checkins_per_day, day_s=args.day,
                             duration=args.duration, connect_rate=args.connect_rate)
            report: dict[str, object] = {}
            runner = threading.Thread(target=lambda: report.update(run_fleet(plan)))
            runner.start()
            connect_s = args.readers / args.connect_rate
            time.sleep(connect_s + min(args.heartbeat, args.duration / 2))
            steady_since = time.monotonic()
            lags = []
            queries: dict[str, tuple[float, int]] = {}
            api = servers[0]
            for name, path in (("readers?offline=true", "/api/v1/readers?offline=true"),
                               ("readers (all)", "/api/v1/readers"),
                               ("coverage?level=district", "/api/v1/coverage?level=district"),
                               ("coverage?level=province", "/api/v1/coverage?level=province")):
                queries[name] = p95_ms(lambda p=path: api.get(p).raise_for_status(), args.reps)  # type: ignore[misc]
                lags.append(api.metric("cccd_ingest_commit_lag_seconds") or 0.0)
            runner.join()
            sampler.stop_flag.set()
            sampler.join()
            print(json.dumps({k2: v for k2, v in report.items() if k2 != "processes"}), flush=True)
            acked = int(report.get("checkins_acked", 0))  # type: ignore[call-overload]
            count = stored(pg.url)
            deadline = time.monotonic() + 120
            while count() < acked and time.monotonic() < deadline:
                time.sleep(0.5)
            print(f"  check-ins acknowledged by the brokers {acked}, stored {count()} (exactly once: the store "
                  "de-duplicates by event id)", flush=True)
            for key in pids:
                print(f"  {key:10} {json.dumps(sampler.summary(key, steady_since))}")
            print(f"  commit lag (server-0, while querying): max {max(lags):.2f} s")
            for name, (p95, n) in queries.items():
                print(f"  {name:28} p95 {p95:8.1f} ms  ({n} runs, {args.readers} readers registered)")
            with make_engine(pg.url).connect() as conn:
                heard = conn.execute(text("SELECT count(*) FROM reader WHERE last_heartbeat_at IS NOT NULL"))
                print(f"  readers with a heartbeat stored: {heard.scalar_one()}")
            # restart with every status retained: seconds until the server is quiet again
            restart = servers[0]
            restart.stop()
            t0 = time.monotonic()
            restart.start()
            quiet_for, last_cpu, t_last = 0, cpu_seconds(restart.pid), time.monotonic()
            while time.monotonic() - t0 < 120 and quiet_for < 3:
                time.sleep(1)
                now, cpu = time.monotonic(), cpu_seconds(restart.pid)
                quiet_for = quiet_for + 1 if (cpu - last_cpu) / (now - t_last) < 0.15 else 0
                last_cpu, t_last = cpu, now
            print(f"  restart of server-0 with {args.readers // k} retained statuses on its broker: steady (under "
                  f"15% CPU for 3 s) after {time.monotonic() - t0 - 3:.1f} s, rss {rss_mb(restart.pid):.0f} MB",
                  flush=True)
    finally:
        for s in servers:
            s.stop()
        for b in brokers:
            b.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


# --------------------------------------------------------------------------- heartbeat cost
def _flood(server: ServerProcess, broker_port: int, readers: int, *, heartbeat_s: float, checkins_per_s: float,
           duration: float, idle: float, profile: Path | None = None) -> dict[str, float]:
    """One phase of traffic from light readers into the running server: messages sent, the
    server's CPU above idle per message; with ``profile``, py-spy samples the server meanwhile."""
    # check-ins at a mean rate: the clinic day compressed into the phase
    per_day = checkins_per_s * duration / readers
    plan = FleetPlan(brokers=[("127.0.0.1", broker_port)], readers=readers, processes=2, seed=SEED,
                     heartbeat_s=heartbeat_s, checkins_per_reader_day=per_day, day_s=duration,
                     duration=duration, connect_rate=2000)
    spy = None
    if profile is not None:
        spy = subprocess.Popen([str(BIN / "py-spy"), "record", "-p", str(server.pid), "-d", str(int(duration + 10)),
                                "-r", "200", "-f", "raw", "--threads", "--gil", "--nonblocking", "-o", str(profile)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c0, t0 = cpu_seconds(server.pid), time.monotonic()
    report = run_fleet(plan)
    time.sleep(1.0)  # the last batch's commit
    cpu, seconds = cpu_seconds(server.pid) - c0, time.monotonic() - t0
    if spy is not None:
        spy.wait(duration + 60)
    beats = int(report["heartbeats"])  # type: ignore[call-overload]
    checkins = int(report["checkins_acked"])  # type: ignore[call-overload]
    statuses = int(report["statuses"]) * 2  # type: ignore[call-overload]  # online at connect, offline at end
    messages = beats + checkins + statuses
    return {"heartbeats": beats, "checkins": checkins, "statuses": statuses, "cpu": cpu, "seconds": seconds,
            "us_per_message": (cpu - idle * seconds) / max(1, messages) * 1e6}


def heartbeat_main(args: argparse.Namespace) -> int:
    """CPU per heartbeat of the real server beside CPU per check-in, same server, same run, same
    message rate: a flood of heartbeats, then check-ins at the heartbeats' rate, each minus the
    idle server's CPU."""
    work = Path(tempfile.mkdtemp(prefix="cccd-national-hb-"))
    os.chmod(work, 0o777)
    readers = national_readers(args.readers)
    rate = args.readers / args.heartbeat
    try:
        with Postgres(fsync=True) as pg:
            register_fleet(pg.url, readers)
            [broker] = regional_brokers(work, readers, 1)
            server = ServerProcess(work / "server", pg.url, broker.port, username=SERVER_USER,
                                   password=SERVER_PASSWORD).start()
            c0 = cpu_seconds(server.pid)
            time.sleep(10)
            idle = (cpu_seconds(server.pid) - c0) / 10
            print(f"== {args.readers} readers, {rate:,.0f} messages/s for {args.duration:g} s per phase, real "
                  f"server on PostgreSQL 15 (fsync on); idle server {idle * 100:.1f}% of a core", flush=True)
            for round_no in range(args.rounds):
                for kind in ("heartbeat", "checkin"):
                    profile = work / f"{kind}-{round_no}.txt" if args.profile else None
                    phase = _flood(server, broker.port, args.readers, duration=args.duration, idle=idle,
                                   heartbeat_s=args.heartbeat if kind == "heartbeat" else 1e9,
                                   checkins_per_s=rate if kind == "checkin" else 0.0, profile=profile)
                    print(f"  round {round_no + 1} {kind:9}: {phase['heartbeats']:.0f} heartbeats + "
                          f"{phase['checkins']:.0f} check-ins + {phase['statuses']:.0f} statuses; server CPU "
                          f"{phase['cpu']:.1f} s in {phase['seconds']:.0f} s -> {phase['us_per_message']:.0f} us "
                          "per message", flush=True)
                    if profile is not None and profile.exists():
                        print(summarise_profile(profile), flush=True)
            stored_checkins = stored(pg.url)()
            print(f"  check-ins stored: {stored_checkins} (acknowledged by the broker: counted above)")
            server.stop()
            broker.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


# --------------------------------------------------------------------------- connections
def connections_main(args: argparse.Namespace) -> int:
    """Broker memory and CPU per connected reader, plain TCP and TLS (the readers' listener)."""
    from simulators.tls import make_device_pki

    readers = national_readers(args.readers)
    print(f"== {args.readers} readers held connected on one broker for {args.duration:g} s, plain and TLS")
    for transport in ("plain", "tls"):
        work = Path(tempfile.mkdtemp(prefix=f"cccd-national-conn-{transport}-"))
        os.chmod(work, 0o777)
        tls_ca = None
        extra = IDENTITY
        if transport == "tls":
            pki = make_device_pki(work / "pki")
            os.chmod(work / "pki", 0o755)
            tls_port = free_port()
            extra += (f"listener {tls_port} 127.0.0.1\ncafile {pki.ca_cert}\ncertfile {pki.server_cert}\n"
                      f"keyfile {pki.server_key}\ntls_version tlsv1.2\n{IDENTITY}allow_anonymous false\n"
                      f"password_file {work}/broker/passwd\nacl_file {work}/broker/acl\n")
            tls_ca = str(pki.ca_cert)
        try:
            [broker] = regional_brokers(work, readers, 1) if transport == "plain" else [None]  # type: ignore[list-item]
            if broker is None:
                passwd, acl = work / "passwd", work / "acl"
                passwd.write_text("".join(f"{r.username}:{mosquitto_hash(sim_password(SEED, r.username))}\n"
                                          for r in readers))
                acl.write_text(READER_ACL)
                broker = Mosquitto(workdir=work / "broker", password_file=passwd, acl_file=acl, extra_config=extra)
                broker.start()
            assert broker.proc is not None
            port = tls_port if transport == "tls" else broker.port
            rss0, cpu0 = rss_mb(broker.proc.pid), cpu_seconds(broker.proc.pid)
            sampler = Sampler({"broker": broker.proc.pid}, every=1.0)
            sampler.start()
            plan = FleetPlan(brokers=[("127.0.0.1", port)], readers=args.readers, processes=args.processes,
                             seed=SEED, heartbeat_s=60, duration=args.duration, connect_rate=args.connect_rate,
                             tls_ca=tls_ca)
            holder = run_fleet(plan)
            cpu1 = cpu_seconds(broker.proc.pid)
            sampler.stop_flag.set()
            sampler.join()
            rss1 = sampler.summary("broker").get("rss_mb_max", rss0)
            connected = int(holder.get("connected", 0))  # type: ignore[call-overload]
            print(f"  {transport:6} connected {connected}/{args.readers} in {holder.get('connect_seconds')} s; "
                  f"broker RSS {rss0:.0f} -> {rss1:.0f} MB ({(rss1 - rss0) * 1024 / max(1, connected):.1f} KB per "
                  f"reader), broker CPU {cpu1 - cpu0:.1f} s ({(cpu1 - cpu0) / max(1, connected) * 1e3:.2f} ms per "
                  f"reader); client RSS per process {holder.get('client_max_rss_mb')} MB; refused "
                  f"{holder.get('refused')}", flush=True)
            broker.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    ratio = sub.add_parser("ratio", help="the real server process beside a bare subscriber, same load, same run")
    ratio.add_argument("--publishers", type=int, default=4)
    ratio.add_argument("--per-publisher", type=int, default=10_000)
    ratio.add_argument("--window", type=int, default=100)
    ratio.add_argument("--database", default="sqlite,postgresql")
    ratio.add_argument("--rounds", type=int, default=2)
    ratio.add_argument("--members", default="1", help="server processes on PostgreSQL, e.g. 1,2 (a shared group)")
    ratio.add_argument("--profile", type=float, default=0.0, help="py-spy the server for this many seconds")
    fleet = sub.add_parser("fleet", help="a national fleet of light readers, regional brokers, one PostgreSQL")
    fleet.add_argument("--readers", type=int, default=40_000)
    fleet.add_argument("--processes", type=int, default=4)
    fleet.add_argument("--heartbeat", type=float, default=60.0)
    fleet.add_argument("--checkins-per-day", type=float, default=0.0)
    fleet.add_argument("--day", type=float, default=600.0)
    fleet.add_argument("--duration", type=float, default=120.0)
    fleet.add_argument("--connect-rate", type=float, default=1500.0)
    fleet.add_argument("--reps", type=int, default=20)
    hb = sub.add_parser("heartbeat", help="server CPU per heartbeat message")
    hb.add_argument("--readers", type=int, default=4000)
    hb.add_argument("--heartbeat", type=float, default=2.0)
    hb.add_argument("--duration", type=float, default=30.0)
    hb.add_argument("--rounds", type=int, default=2)
    hb.add_argument("--profile", action="store_true", help="py-spy the server during each phase")
    conn = sub.add_parser("connections", help="broker memory and CPU per connected reader, plain and TLS")
    conn.add_argument("--readers", type=int, default=10_000)
    conn.add_argument("--processes", type=int, default=2)
    conn.add_argument("--duration", type=float, default=20.0)
    conn.add_argument("--connect-rate", type=float, default=1000.0)
    args = parser.parse_args(argv)
    modes = {"ratio": ratio_main, "fleet": fleet_main, "heartbeat": heartbeat_main, "connections": connections_main}
    return modes[args.mode](args)


if __name__ == "__main__":
    raise SystemExit(main())
