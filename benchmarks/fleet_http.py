"""Benchmark: the fleet queries over HTTP at national scale, the API in the ingest's process or apart.

A national fleet of light readers (``cccd-sim national``, a subprocess) over K regional
brokers (a process here may hold 20,000 files), heartbeats at the national rate, one
database (PostgreSQL with fsync on, or SQLite), then the same queries timed from a separate
client process (``client`` below, one keep-alive connection, as a dashboard or a monitor
holds) against two layouts of the real server, one after the other in the same run:

- ``all``: K ``cccd-server serve`` processes (API + dashboard + ingest, one per broker);
  the queries go to the first, which also ingests its broker's third of the fleet;
- ``split``: K ``cccd-server serve --role ingest`` processes (one per broker) and one
  ``cccd-server serve --role api``; the queries go to the API process.

Per query p50 and p95 (ms), with the processes' CPU while the client ran. ``--profile S``
samples the API process with py-spy for S seconds while the client runs, in a layout of its own
(``split-profiled``: sampling costs CPU on a small machine, so it is not the measured one);
``split-cached`` is the split with ``[api] cache_seconds = --cache`` (server/read_cache.py).

    python -m benchmarks.fleet_http --readers 40000 --database postgresql
    python -m benchmarks.fleet_http --readers 40000 --layouts all,split,split-profiled --profile 30
    python -m benchmarks.fleet_http client --url http://127.0.0.1:8080 --token T --reps 40
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import text

from benchmarks.national import (
    BIN,
    READERS_PER_BROKER,
    SEED,
    SERVER_PASSWORD,
    SERVER_USER,
    ServeProcess,
    cpu_seconds,
    regional_brokers,
    register_fleet,
    rss_mb,
    summarise_profile,
)
from server.db import make_engine
from simulators.national_fleet import national_readers
from simulators.services import Mosquitto, Postgres, free_port

#: What an officer's dashboard and a monitor ask at national scale (name, path).
QUERIES = (
    ("coverage?level=district", "/api/v1/coverage?level=district"),
    ("coverage?level=province", "/api/v1/coverage?level=province"),
    ("readers?offline=true", "/api/v1/readers?offline=true"),
    ("fleet", "/api/v1/fleet"),
    ("fleet?state=offline", "/api/v1/fleet?state=offline&limit=500"),
    ("dashboard", "/dashboard"),
)


# --------------------------------------------------------------------------- the client process
def client_main(args: argparse.Namespace) -> int:
    """Time each query ``--reps`` times (after one warm-up) over one keep-alive connection."""
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {args.token}"}, timeout=60) as http:
        # the dashboard takes a session from its sign-in form (the cookie stays in the client)
        signed_in = http.post("/dashboard/login", data={"token": args.token})
        if signed_in.headers.get("location") != "/dashboard":
            raise SystemExit(f"the dashboard refused the sign-in: {signed_in.status_code}")
        for name, path in QUERIES:
            http.get(path).raise_for_status()
            samples: list[float] = []
            size = 0
            deadline = time.perf_counter() + args.budget
            while len(samples) < args.reps and time.perf_counter() < deadline:
                t = time.perf_counter()
                answer = http.get(path)
                samples.append((time.perf_counter() - t) * 1000)
                answer.raise_for_status()
                size = len(answer.content)
            samples.sort()
            out[name] = {"p50": round(statistics.median(samples), 1),
                         "p95": round(samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)], 1),
                         "max": round(samples[-1], 1), "n": len(samples), "bytes": size}
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


def run_client(url: str, token: str, reps: int, budget: float) -> dict[str, dict[str, float]]:
    run = subprocess.run([sys.executable, "-m", "benchmarks.fleet_http", "client", "--url", url, "--token", token,
                          "--reps", str(reps), "--budget", str(budget)],
                         capture_output=True, text=True, check=False, timeout=len(QUERIES) * (budget + 120))
    if run.returncode != 0:
        raise RuntimeError(f"the client failed: {run.stderr[-2000:]}")
    result: dict[str, dict[str, float]] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- server processes
class RoleServer(ServeProcess):
    """``cccd-server serve [--role R]`` with its own TOML file; ``port`` is its HTTP port."""

    def __init__(self, work: Path, name: str, database_url: str, broker_port: int, token: str, role: str,
                 ingest_urls: list[str] | None = None, cache_seconds: float = 0.0) -> None:
        api_port, ingest_port = free_port(), free_port()
        super().__init__(work, name, ingest_port if role == "ingest" else api_port)
        self.role, self.token = role, token
        urls = json.dumps(ingest_urls or [])
        self.write_config(
            f'database_url = "{database_url}"\n\n[mqtt]\nurl = "mqtt://127.0.0.1:{broker_port}"\n'
            f'username = "{SERVER_USER}"\npassword = "{SERVER_PASSWORD}"\n\n'
            f'[api]\nhost = "127.0.0.1"\nport = {api_port}\nread_tokens = ["{token}"]\n'
            f"cache_seconds = {cache_seconds}\n\n"
            f"[process]\ningest_port = {ingest_port}\ningest_urls = {urls}\n")

    def start(self, timeout: float = 120.0) -> RoleServer:
        self.start_serve(["--role", self.role], timeout)
        return self


def quiet(pids: list[int], limit: float = 120.0, threshold: float = 0.15, hold: int = 3) -> float:
    """Seconds until every process stayed under ``threshold`` of a core for ``hold`` seconds."""
    t0 = time.monotonic()
    last = {p: cpu_seconds(p) for p in pids}
    t_last, calm = t0, 0
    while time.monotonic() - t0 < limit and calm < hold:
        time.sleep(1)
        now = time.monotonic()
        cpu = {p: cpu_seconds(p) for p in pids}
        busy = max((cpu[p] - last[p]) / (now - t_last) for p in pids)
        calm = calm + 1 if busy < threshold else 0
        last, t_last = cpu, now
    return time.monotonic() - t0


def measured(servers: list[RoleServer], target: RoleServer, reps: int, budget: float,
             profile: float, work: Path) -> dict[str, object]:
    """The client's timings against ``target``, with each server's CPU (% of a core) while it ran."""
    before = {s.name: cpu_seconds(s.pid) for s in servers}
    t0 = time.monotonic()
    spy = None
    if profile > 0:
        spy = subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(target.pid), "--duration",
                                str(int(profile)), "--rate", "200", "--format", "raw", "--threads", "--output",
                                str(work / "api.profile"), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    timings = run_client(target.url, target.token, reps, budget)
    if spy is not None:
        spy.wait(profile + 60)
    elapsed = time.monotonic() - t0
    cpu = {s.name: round((cpu_seconds(s.pid) - before[s.name]) / elapsed * 100, 1) for s in servers}
    rss = {s.name: round(rss_mb(s.pid)) for s in servers}
    return {"timings": timings, "cpu_pct": cpu, "rss_mb": rss}


def stop_all(servers: list[RoleServer]) -> None:
    for s in servers:
        s.stop()


def heard(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM reader WHERE last_heartbeat_at IS NOT NULL"))
                       .scalar_one())
    finally:
        engine.dispose()


def one_database(kind: str, args: argparse.Namespace, work: Path) -> dict[str, dict[str, object]]:
    readers = national_readers(args.readers)
    k = max(1, math.ceil(args.readers / READERS_PER_BROKER))
    token = secrets.token_urlsafe(32)
    results: dict[str, dict[str, object]] = {}
    with ExitStack() as stack:
        if kind == "postgresql":
            url = stack.enter_context(Postgres(fsync=True)).url
        else:
            url = f"sqlite:///{work / 'cccd.sqlite'}"
        register_fleet(url, readers)
        brokers: list[Mosquitto] = regional_brokers(work, readers, k)
        for b in brokers:
            stack.callback(b.stop)
        servers = [RoleServer(work / kind, f"all-{i}", url, b.port, token, "all") for i, b in enumerate(brokers)]
        stack.callback(lambda: stop_all(servers))
        for s in servers:
            s.start()
        fleet_log = open(work / f"fleet-{kind}.log", "ab")  # noqa: SIM115 - the child holds it
        stack.callback(fleet_log.close)
        fleet = subprocess.Popen(
            [sys.executable, "-m", "simulators.national_fleet", "--brokers",
             ",".join(f"mqtt://127.0.0.1:{b.port}" for b in brokers), "--readers", str(args.readers),
             "--processes", str(args.processes), "--seed", SEED, "--heartbeat", str(args.heartbeat),
             "--connect-rate", str(args.connect_rate), "--duration", "3600"],
            stdout=fleet_log, stderr=subprocess.STDOUT, start_new_session=True)

        def stop_fleet() -> None:
            if fleet.poll() is None:
                os.killpg(fleet.pid, signal.SIGTERM)
                try:
                    fleet.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(fleet.pid, signal.SIGKILL)
        stack.callback(stop_fleet)
        # steady state: (nearly) every reader heard, one heartbeat period on
        deadline = time.monotonic() + args.readers / args.connect_rate * 4 + args.heartbeat + 120
        while heard(url) < 0.98 * args.readers and time.monotonic() < deadline:
            time.sleep(5)
        time.sleep(min(args.heartbeat, 30))
        print(f"== {kind}: {heard(url)} of {args.readers} readers heard, {k} brokers", flush=True)
        for layout in args.layouts.split(","):
            for s in servers:
                s.stop()
            if layout == "all":
                servers[:] = [RoleServer(work / kind, f"all-{i}", url, b.port, token, "all")
                              for i, b in enumerate(brokers)]
                for s in servers:
                    s.start()
                target = servers[0]
            else:
                ingests = [RoleServer(work / kind, f"ingest-{i}", url, b.port, token, "ingest")
                           for i, b in enumerate(brokers)]
                for s in ingests:
                    s.start()
                target = RoleServer(work / kind, "api", url, brokers[0].port, token, "api",
                                    ingest_urls=[s.url for s in ingests],
                                    cache_seconds=args.cache if layout == "split-cached" else 0.0)
                servers[:] = [*ingests, target]
                target.start()
            settle = quiet([s.pid for s in servers], limit=120)
            time.sleep(10)  # and past the retained statuses' burst, into plain heartbeats
            profile = args.profile if layout == "split-profiled" else 0.0
            result = measured(servers, target, args.reps, args.budget, profile, work)
            result["settle_seconds"] = round(settle, 1)
            results[layout] = result
            print(f"-- {kind} {layout}: {json.dumps(result)}", flush=True)
            if profile > 0 and (work / "api.profile").exists():
                print(summarise_profile(work / "api.profile"), flush=True)
        stop_fleet()
        tail = (work / f"fleet-{kind}.log").read_text()[-600:]
        print(f"   fleet: {tail.strip()[-400:]}", flush=True)
    return results


def table(results: dict[str, dict[str, dict[str, object]]]) -> str:
    lines = ["| query | " + " | ".join(f"{db} {layout} p50 / p95 ms" for db, r in results.items() for layout in r)
             + " |", "|---|" + "---|" * sum(len(r) for r in results.values())]
    for name, _ in QUERIES:
        cells = []
        for r in results.values():
            for res in r.values():
                t = res["timings"][name]  # type: ignore[index]
                cells.append(f"{t['p50']:.0f} / {t['p95']:.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.fleet_http", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    client = sub.add_parser("client", help="time the queries against one server (a separate process)")
    client.add_argument("--url", required=True)
    client.add_argument("--token", required=True)
    client.add_argument("--reps", type=int, default=40)
    client.add_argument("--budget", type=float, default=60.0, help="most seconds per query")
    parser.add_argument("--readers", type=int, default=40_000)
    parser.add_argument("--processes", type=int, default=4, help="simulator processes")
    parser.add_argument("--heartbeat", type=float, default=60.0)
    parser.add_argument("--connect-rate", type=float, default=1500.0)
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--layouts", default="all,split",
                        help="all | split | split-profiled | split-cached, in order")
    parser.add_argument("--cache", type=float, default=5.0, help="[api] cache_seconds of split-cached")
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--profile", type=float, default=0.0, help="py-spy the API process (split-profiled)")
    args = parser.parse_args(argv)
    if args.command == "client":
        return client_main(args)
    results = {}
    for kind in args.database.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"cccd-fleet-http-{kind}-"))
        os.chmod(work, 0o777)
        try:
            results[kind] = one_database(kind, args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.readers} readers registered, heartbeat every {args.heartbeat:g} s; client: a separate process, "
          f"one keep-alive connection, {args.reps} runs per query\n")
    print(table(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
