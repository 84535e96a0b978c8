"""Drill: the outbox's filesystem fills up and comes back (a 2 MB tmpfs, the shipped broker config).

Every scan either is recorded (its event reaches the subscriber) or its caller is told it
was not (the write raised); the heartbeat carries the alarm while the disk is full or
failing, and clears it once space is back; nothing recorded is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from simulators.population import Population
from tests.processes import wait_until
from tests.shipped_broker import OBSERVER_PASSWORD, OBSERVER_USER, ReceiptResponder, ShippedBroker, Witness

pytestmark = pytest.mark.services


@contextlib.contextmanager
def small_tmpfs(size: str = "2m"):
    mount = Path(tempfile.mkdtemp(prefix="cccd-small-disk-"))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def fill(path: Path) -> None:
    """Write a filler file until the filesystem is full."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_a_full_disk_is_loud_loses_no_recorded_event_and_recovers(tmp_path):
    population = Population(12)
    with small_tmpfs() as disk, ShippedBroker([("34001", "desk-1")]) as broker:
        key = tmp_path / "k"
        write_secret_file(key, os.urandom(32))
        settings = EdgeSettings.load(
            None, facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=disk / "state",
            mqtt=broker.reader_mqtt("34001", "desk-1"), chip={"enabled": False}, screen={"enabled": False},
            heartbeat_seconds=1,
            outbox={"alarm_free_bytes": 256 * 1024},
        )
        sniffer = ReceiptResponder(broker.local_url, client_id="disk-server")
        beats = Witness(broker.local_url, "cccd/v1/+/+/heartbeat", client_id="disk-beats",
                        username=OBSERVER_USER, password=OBSERVER_PASSWORD)
        agent = DeskAgent(settings)
        agent.start()
        recorded, refused = [], 0
        try:
            for i in range(20):
                recorded.append(agent.submit_qr(population.citizen(i).qr_payload()).event.event_id)
            fill(disk / "filler")
            i = 20
            while refused < 30 and i < 20_000:  # until 30 writes in a row failed
                try:
                    recorded.append(agent.submit_qr(population.citizen(i).qr_payload()).event.event_id)
                    refused = 0
                except sqlite3.Error:
                    refused += 1
                i += 1
            attempted_full = i - 20
            assert refused == 30 and agent.outbox.write_failing

            def beat_with(code):
                return [b for b in (json.loads(p) for p in beats.payloads()) if code in b["outbox_alarms"]]

            beat = wait_until(lambda: beat_with("outbox.write_failed"), 20, "a heartbeat with the alarm")[-1]
            assert "outbox.disk_full" in beat["outbox_alarms"] and beat["outbox_alarm"]
            assert beat["outbox_write_failures"] >= 30
            # Space comes back: recording resumes and the alarm clears.
            (disk / "filler").unlink()
            for j in range(i, i + 20):
                recorded.append(agent.submit_qr(population.citizen(j).qr_payload()).event.event_id)
            assert not agent.outbox.write_failing
            wait_until(lambda: agent.outbox.depth() == 0, 60, "the outbox to drain")
            wait_until(lambda: not agent.health.outbox_alarms, 10, "the alarm to clear")
            wait_until(lambda: {json.loads(p)["event_id"] for p in sniffer.payloads()} >= set(recorded), 30,
                       "every recorded event at the subscriber")
            delivered = [json.loads(p)["event_id"] for p in sniffer.payloads()]
        finally:
            agent.stop()
            sniffer.close()
            beats.close()
    lost = set(recorded) - set(delivered)
    print(f"\ndisk-full drill: {len(recorded)} recorded, {agent.outbox.write_failures} writes refused loudly "
          f"while full ({attempted_full} tried), {len(set(delivered))} delivered, {len(lost)} lost, "
          f"{len(delivered) - len(set(delivered))} published twice (the server de-duplicates)")
    assert lost == set()
