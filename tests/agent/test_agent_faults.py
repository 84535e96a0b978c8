"""The desk agent's promises under faults, with the real broker and the real server:
the broker away for many scans, then back — every event delivered once, in order; the
agent SIGKILLed mid-publish and restarted — nothing lost, nothing counted twice."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from edge.domain.qr import today_in_vietnam
from simulators.population import Population
from simulators.services import Mosquitto, free_port
from tests.mqtt_sniffer import Sniffer
from tests.processes import ProgramProcess, ServerProcess, wait_until, write_agent_config

pytestmark = pytest.mark.services
SCANS = 1500


def agent_config(tmp_path: Path, broker_url: str) -> Path:
    # one event in flight at a time: publishing takes long enough to be interrupted
    return write_agent_config(tmp_path, broker_url, outbox="max_inflight = 1")


def outbox_depth(tmp_path: Path) -> int:
    path = tmp_path / "state" / "outbox.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        except sqlite3.OperationalError:  # not created yet
            return 0


def server_total(server: ServerProcess) -> int:
    today = today_in_vietnam().isoformat()
    return int(server.get("/api/v1/usage", facility="34001", **{"from": today, "to": today})["total_checkins"])


def scans(count: int) -> bytes:
    population = Population(41)
    return b"".join(population.citizen(i).qr_payload().encode() + b"\n" for i in range(count))


def test_agent_killed_mid_publish_and_restarted_loses_nothing_and_doubles_nothing(tmp_path):
    with Mosquitto() as broker:
        server = ServerProcess(tmp_path, broker.url).start()
        try:
            # 1. The scans happen while the broker is unreachable: all wait in the outbox.
            dead = f"mqtt://127.0.0.1:{free_port()}"
            first = ProgramProcess("app.cli", ["run", "--stdin", "--config", str(agent_config(tmp_path, dead))],
                                   tmp_path / "agent1.log")
            first.start(stdin=subprocess.PIPE)
            first.proc.stdin.write(scans(SCANS))
            first.proc.stdin.close()
            wait_until(lambda: outbox_depth(tmp_path) == SCANS, 120, "every scan in the outbox")
            first.kill()  # a power cut with everything still queued

            # 2. Back on the network: killed again in the middle of publishing.
            config = agent_config(tmp_path, broker.url)
            second = ProgramProcess("app.cli", ["run", "--config", str(config)], tmp_path / "agent2.log").start()
            wait_until(lambda: server_total(server) >= SCANS // 5, 120, "publishing to start")
            second.kill()
            at_kill = server_total(server)
            left = outbox_depth(tmp_path)
            assert 0 < left < SCANS, "the kill must land mid-publish"

            # 3. Restarted: it finishes the job.
            third = ProgramProcess("app.cli", ["run", "--config", str(config)], tmp_path / "agent3.log").start()
            try:
                wait_until(lambda: outbox_depth(tmp_path) == 0, 120, "the outbox to drain")
                wait_until(lambda: server_total(server) >= SCANS, 60, "the server to count everything")
            finally:
                third.stop()
            ingest = server.health()["ingest"]
            assert server_total(server) == SCANS
            assert ingest["stored"] == SCANS
            print(f"\nagent fault test: {SCANS} scans queued while offline, SIGKILL with {at_kill} counted and "
                  f"{left} still in the outbox, restarted: server counts {server_total(server)}, "
                  f"duplicates absorbed {ingest.get('duplicates', 0)}")
        finally:
            server.stop()


def test_broker_away_for_many_scans_then_back_delivers_every_event_once_in_order(tmp_path):
    broker = Mosquitto().start()
    # The server and a witness hold persistent sessions, as in production: the broker keeps
    # queueing for them across its own restart.
    server = ServerProcess(tmp_path, broker.url).start()
    sniffer = Sniffer(broker.url, "cccd/v1/+/+/checkin", persistent=True)
    agent = ProgramProcess("app.cli", ["run", "--stdin", "--config", str(agent_config(tmp_path, broker.url))],
                           tmp_path / "agent.log")
    try:
        broker.stop()  # the network is down for the whole morning
        agent.start(stdin=subprocess.PIPE)
        agent.proc.stdin.write(scans(SCANS))
        agent.proc.stdin.flush()
        wait_until(lambda: outbox_depth(tmp_path) == SCANS, 120, "every scan in the outbox")
        broker.start()
        wait_until(lambda: outbox_depth(tmp_path) == 0, 180, "the outbox to drain")
        wait_until(lambda: server_total(server) >= SCANS, 120, "the server to count everything")
        assert server_total(server) == SCANS
        wait_until(lambda: len(sniffer.payloads()) >= SCANS, 60, "the witness to see everything")
        ids = [json.loads(p)["event_id"] for p in sniffer.payloads()]
        assert len(set(ids)) == SCANS
        assert ids == sorted(ids)  # published in the order of the scans (event ids sort by time)
    finally:
        agent.stop()
        sniffer.close()
        server.stop()
        broker.__exit__(None, None, None)  # stops it and removes its folder
