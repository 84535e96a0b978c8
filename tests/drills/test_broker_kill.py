"""Drill: the broker killed (SIGKILL) three times during traffic, on the shipped configuration
(autosave every 60 s: what the broker held in memory is gone), with receipts on.

Ground truth is the list of events the desks created; the server's part (storing each id
once and receipting it) is played by a responder with a persistent session. Nothing may be
lost; what was sent twice is absorbed by the server's de-duplication.
"""

from __future__ import annotations

import pytest

from simulators.population import Population
from tests.shipped_broker import ReceiptResponder, ShippedBroker, drill_desk, traffic_with_kills

pytestmark = pytest.mark.services
READERS = [("34001", "desk-1"), ("34002", "desk-1")]
PER_DESK = 1500
KILLS = 3


def test_broker_killed_three_times_during_traffic_loses_nothing_with_receipts(tmp_path):
    population = Population(21)
    with ShippedBroker(READERS) as broker:
        server = ReceiptResponder(broker.local_url)
        agents = [drill_desk(tmp_path, broker, f, r, retry_after=2) for f, r in READERS]
        assert all(a.publisher.receipts is not None for a in agents)  # receipts are the agent's default
        for agent in agents:
            agent.start()
        try:
            events, recovery = traffic_with_kills(agents, broker, population, PER_DESK, KILLS, gap=0.004)
            created = [e.event_id for e in events]
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
