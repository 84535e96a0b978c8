"""Crash safety: the server SIGKILLed and restarted during ingest, and the broker restarted:
the final counts equal exactly what the readers sent, with no event counted twice. The desks
keep each check-in until the server's receipt names it, so while the server is down the
backlog is in their outboxes (and in the broker's queue for the server's session)."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from pathlib import Path

import httpx
from srvhelpers import READ_TOKEN, auth, register_fleet, wait_until

from server.db import init_db, make_engine
from server.store import EventStore
from simulators.fleet import run_checkins
from simulators.services import Mosquitto, free_port, wait_for_port
from tests.processes import ProgramProcess

ROOT = Path(__file__).resolve().parents[2]
FACILITIES = 5


def _waiting(state_dir: Path) -> int:
    """Check-ins the simulated desks still hold in their outboxes (not receipted yet)."""
    total = 0
    for outbox in state_dir.glob("*/*/outbox.sqlite"):
        try:
            with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5) as conn:
                total += int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
        except sqlite3.Error:
            pass  # not created yet
    return total


def _count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM checkin_event").fetchone()[0])


class ServerProcess(ProgramProcess):
    """``cccd-server serve`` with a prepared config (this test registers its fleet itself)."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        super().__init__("server.cli", ["serve", "--config", str(config)], log)
        self.port = port

    def start(self) -> None:  # type: ignore[override]
        super().start()
        wait_for_port(self.port, 30)
        wait_until(self.mqtt_connected, 30, "the server to connect to the broker")

    def mqtt_connected(self) -> bool:
        try:
            return bool(httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=2).json()["mqtt_connected"])
        except httpx.HTTPError:
            return False


def test_sigkilled_server_and_restarted_broker_lose_nothing_and_count_nothing_twice(tmp_path):
    db = tmp_path / "server.sqlite"
    store = EventStore(make_engine(f"sqlite:///{db}"))
    init_db(store.engine)
    register_fleet(store, FACILITIES)
    store.engine.dispose()
    port = free_port()
    with Mosquitto() as broker:  # shipped settings; its own directory, kept across restart()
        config = tmp_path / "server.toml"
        config.write_text(
            f'database_url = "sqlite:///{db}"\n'
            f'[mqtt]\nurl = "{broker.url}"\nclient_id = "cccd-server-fault"\n'
            f'[api]\nport = {port}\nread_tokens = ["{READ_TOKEN}"]\n'
            "[ingest]\nbatch_size = 250\n"
        )
        config.chmod(0o600)
        server = ServerProcess(config, port, tmp_path / "server.log")
        try:
            server.start()  # creates the persistent session
            server.kill()
            # Phase 1: the server is down. The desks keep their check-ins until receipted (issue 16),
            # the broker queues for the server's session what the desks sent meanwhile.
            reports: list = []
            first = threading.Thread(target=lambda: reports.append(
                run_checkins(broker.url, FACILITIES, 6000, seed=11, duplicates=200,
                             state_dir=tmp_path / "fleet1", timeout=300)))
            first.start()
            wait_until(lambda: _waiting(tmp_path / "fleet1") >= 3000, 120, "the desks to hold a backlog")
            # Phase 2: the server drains the backlog while readers keep sending.
            fleet = threading.Thread(target=lambda: reports.append(
                run_checkins(broker.url, FACILITIES, 6000, seed=12, duplicates=200,
                             state_dir=tmp_path / "fleet2", timeout=300)))
            server.start()
            fleet.start()
            wait_until(lambda: _count(db) >= 1500, 120, "ingest to be under way")
            server.kill()  # mid-ingest: batches received, some committed, some not, acks lost
            at_kill = _count(db)
            server.start()
            wait_until(lambda: _count(db) >= at_kill + 1500, 120, "ingest to resume")
            broker.restart()  # readers and the server reconnect; their sessions survive
            first.join(360)
            fleet.join(360)
            assert not first.is_alive() and not fleet.is_alive()
            assert len(reports) == 2, "a fleet failed (see its traceback above)"
            sent = sum(r.total_checkins for r in reports)
            wait_until(lambda: _count(db) >= sent, 180, "every check-in to be stored")
            assert at_kill < sent, "the kill must land during ingest"
            print(f"\nfault test: SIGKILL at {at_kill} stored events, broker restarted, {sent} sent "
                  f"(+{sum(r.duplicates_sent for r in reports)} duplicate deliveries)")
            # Final counts, through the API: exactly what was sent, per facility and day.
            expected_total: Counter[str] = Counter()
            expected_days: dict[str, Counter[str]] = {}
            for report in reports:
                for code, f in report.facilities.items():
                    expected_total[code] += f["checkins"]
                    expected_days.setdefault(code, Counter()).update(f["by_day"])
            days = sorted({d for c in expected_days.values() for d in c})
            for code in expected_total:
                body = httpx.get(f"http://127.0.0.1:{port}/api/v1/usage", headers=auth(),
                                 params={"facility": code, "from": days[0], "to": days[-1]}).json()
                assert body["total_checkins"] == expected_total[code]
                assert {d["day"]: d["checkins"] for d in body["days"]} == dict(expected_days[code])
            server.stop()
        finally:
            server.stop()
    assert _count(db) == sent == 12000
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT sum(checkins) FROM daily_usage").fetchone()[0] == sent
        assert conn.execute("SELECT count(DISTINCT event_id) FROM checkin_event").fetchone()[0] == sent
