"""Supervised threads: a part that dies is started again and the heartbeat says so; a part
that keeps dying ends the process with exit 1 (for systemd), and the watchdog is fed only
while every part works; the publishing thread outlives outbox errors."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from reader_drivers.qr.source import ScannedPayload, SourceBase
from simulators.population import Population
from simulators.services import Mosquitto, free_port
from tests.mqtt_sniffer import Sniffer
from tests.processes import wait_until
from tests.shipped_broker import ReceiptResponder

ROOT = Path(__file__).resolve().parents[2]


def settings_for(tmp_path: Path, broker_url: str, **extra) -> EdgeSettings:
    key = tmp_path / "k"
    write_secret_file(key, os.urandom(32))
    return EdgeSettings.load(
        None, facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=tmp_path / "s",
        mqtt={"url": broker_url}, chip={"enabled": False}, screen={"enabled": False}, heartbeat_seconds=1,
        **extra,
    )


class DiesOnce(SourceBase):
    """A driver whose thread is killed once (as a C extension's sys.exit would), then reads a card."""

    source_id = "flaky"

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.died = False

    def read(self, timeout: float | None = None) -> ScannedPayload | None:
        if not self.died:
            self.died = True
            raise SystemExit(3)  # not an Exception: it ends the thread, past every except Exception
        payload, self.payload = self.payload, b""
        return ScannedPayload(payload, datetime.now(UTC), self.source_id) if payload else None


@pytest.mark.services
def test_a_dead_qr_input_is_started_again_and_the_heartbeat_reports_it(tmp_path):
    with Mosquitto() as broker:
        sniffer = Sniffer(broker.url)
        server = ReceiptResponder(broker.url, username=None)
        agent = DeskAgent(settings_for(tmp_path, broker.url),
                          qr_sources=[DiesOnce(Population(6).citizen(0).qr_payload().encode())])
        agent.start()
        try:
            wait_until(lambda: agent.supervisor.restarts.get("qr-flaky") == 1, 20, "the restart")
            wait_until(lambda: agent.outbox.depth() == 0 and sniffer.payloads("/checkin"), 30,
                       "the scan read after the restart to be delivered")

            def restarted_beat():
                beats = [json.loads(p) for p in sniffer.payloads("/heartbeat")]
                return [b for b in beats if b["restarts"].get("qr-flaky") == 1]

            beat = wait_until(restarted_beat, 20, "a heartbeat that shows the restart")[-1]
            assert beat["components"]["qr-flaky"] == "running"
            assert beat["components"]["publisher"] == "running" and beat["components"]["desk"] == "running"
            assert not agent.failed.is_set()
        finally:
            agent.stop()
            sniffer.close()
            server.close()


@pytest.mark.services
def test_the_publisher_thread_outlives_outbox_errors_and_delivers_everything(tmp_path, monkeypatch):
    with Mosquitto() as broker:
        sniffer = ReceiptResponder(broker.url, username=None)
        agent = DeskAgent(settings_for(tmp_path, broker.url))
        failures = {"left": 5}
        real_pending = agent.outbox.pending  # fails five times, as a disk in trouble would

        def failing_pending(limit, after_seq=0):
            if failures["left"] > 0:
                failures["left"] -= 1
                raise sqlite3.OperationalError("disk I/O error")
            return real_pending(limit, after_seq)

        monkeypatch.setattr(agent.outbox, "pending", failing_pending)
        agent.start()
        try:
            ids = {agent.submit_qr(Population(6).citizen(i).qr_payload()).event.event_id for i in range(20)}
            assert agent.publisher.wait_drained(60)
            wait_until(lambda: len(sniffer.payloads()) >= 20, 20, "every event at the subscriber")
            assert {json.loads(p)["event_id"] for p in sniffer.payloads()} == ids
            assert failures["left"] == 0 and agent.publisher.state.outbox_errors == 5
            assert agent.publisher.alive() and agent.supervisor.restarts.get("publisher", 0) == 0
        finally:
            agent.stop()
            sniffer.close()


class NotifySocket:
    """systemd's notification socket, as a datagram socket the test reads."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="cccd-notify-")) / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.messages

    def close(self) -> None:
        self.sock.close()


def run_agent(tmp_path: Path, screen_port: int, broker_url: str, notify: NotifySocket) -> subprocess.Popen[bytes]:
    key = tmp_path / "k"
    write_secret_file(key, os.urandom(32))
    config = tmp_path / "edge.toml"
    config.write_text(
        f'facility_code = "34001"\nreader_id = "desk-1"\npseudonym_key_file = "{key}"\n'
        f'state_dir = "{tmp_path / "state"}"\n[mqtt]\nurl = "{broker_url}"\n'
        f'[chip]\nenabled = false\n[screen]\nport = {screen_port}\n'
    )
    env = os.environ | {"PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"}
    env.pop("WATCHDOG_PID", None)
    return subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--config", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.services
def test_a_healthy_agent_feeds_the_watchdog(tmp_path):
    notify = NotifySocket()
    with Mosquitto() as broker:
        proc = run_agent(tmp_path, free_port(), broker.url, notify)
        try:
            wait_until(lambda: "WATCHDOG=1" in notify.drain(), 30, "a watchdog ping")
            assert "READY=1" in notify.messages
        finally:
            proc.terminate()
            assert proc.wait(20) == 0
            notify.close()


@pytest.mark.services
def test_a_part_that_keeps_failing_starves_the_watchdog_and_exits_1(tmp_path):
    notify = NotifySocket()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with Mosquitto() as broker:
        # The screen's port is taken: the desk web dies at every start.
        proc = run_agent(tmp_path, taken.getsockname()[1], broker.url, notify)
        try:
            code = proc.wait(60)
            stderr = proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                proc.kill()
            taken.close()
    messages = notify.drain()
    notify.close()
    assert code == 1, stderr[-2000:]
    assert "READY=1" in messages and "WATCHDOG=1" not in messages
    assert "desk-web failed 4 times" in stderr
