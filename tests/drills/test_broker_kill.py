"""Drill: the broker killed (SIGKILL) three times during traffic, on the shipped configuration
(autosave every 60 s: what the broker held in memory is gone), with receipts on.

Ground truth is the list of events the desks created; the server's part (storing each id
once and receipting it) is played by a responder with a persistent session. Nothing may be
lost; what was sent twice is absorbed by the server's de-duplication.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from simulators.population import Population
from tests.processes import wait_until
from tests.shipped_broker import ReceiptResponder, ShippedBroker

pytestmark = pytest.mark.services
READERS = [("34001", "desk-1"), ("34002", "desk-1")]
PER_DESK = 1500
KILLS = 3


def desk(tmp_path, broker: ShippedBroker, facility: str, reader: str) -> DeskAgent:
    key = tmp_path / f"{facility}.key"
    write_secret_file(key, os.urandom(32))
    settings = EdgeSettings.load(
        None, facility_code=facility, reader_id=reader, pseudonym_key_file=key,
        state_dir=tmp_path / facility / reader, mqtt=broker.reader_mqtt(facility, reader),
        chip={"enabled": False}, screen={"enabled": False},
        outbox={"retry_after_seconds": 2, "max_retry_after_seconds": 4},
    )
    agent = DeskAgent(settings)
    assert agent.publisher.receipts is not None  # receipts are the agent's default
    return agent


def test_broker_killed_three_times_during_traffic_loses_nothing_with_receipts(tmp_path):
    population = Population(21)
    with ShippedBroker(READERS) as broker:
        server = ReceiptResponder(broker.local_url)
        agents = [desk(tmp_path, broker, f, r) for f, r in READERS]
        for agent in agents:
            agent.start()
        created: list[str] = []
        lock = threading.Lock()

        def scan(agent: DeskAgent, offset: int) -> None:
            for i in range(PER_DESK):
                event = agent.submit_qr(population.citizen(offset + i).qr_payload()).event
                with lock:
                    created.append(event.event_id)
                time.sleep(0.004)  # a busy province, spread over the kills

        scanners = [threading.Thread(target=scan, args=(a, n * PER_DESK)) for n, a in enumerate(agents)]
        try:
            for t in scanners:
                t.start()
            for _ in range(KILLS):
                wait_until(lambda: len(server.stored) > 0, 30, "traffic to flow")
                time.sleep(1.5)
                broker.kill()
                time.sleep(1.0)
                broker.start()
            for t in scanners:
                t.join(120)
            started = time.monotonic()
            for agent in agents:
                assert agent.publisher.wait_drained(180), "an outbox did not drain"
            recovery = time.monotonic() - started
        finally:
            for agent in agents:
                agent.stop()
            server.close()
    lost = set(created) - set(server.stored)
    extra = set(server.stored) - set(created)
    extra_publishes = sum(a.publisher.state.published for a in agents) - len(created)
    print(f"\nbroker kill -9 drill ({KILLS} kills, shipped autosave 60 s, receipts on): {len(created)} created, "
          f"{len(server.stored)} stored, {len(lost)} lost, 0 stored twice ({server.duplicates()} duplicate "
          f"deliveries absorbed), {extra_publishes} publishes beyond one per event, drained {recovery:.1f} s "
          "after the last scan")
    assert len(created) == PER_DESK * len(READERS)
    assert lost == set() and extra == set()
    assert broker.kills == KILLS
