"""Drill with the real server: the broker killed (SIGKILL) during traffic, on the shipped
configuration, with receipts; the ground truth is what the desks created, the result what
the server's API counts per facility and day. 0 lost, 0 counted twice."""

from __future__ import annotations

import importlib.util
from collections import Counter

import pytest

from edge.domain.qr import VIETNAM_TZ
from simulators.population import Population
from tests.shipped_broker import ShippedBroker, drill_desk, traffic_with_kills

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(importlib.util.find_spec("server.receipts") is None,
                       reason="the server's receipts are not in this tree yet"),
]
READERS = [("34001", "desk-1"), ("34002", "desk-1")]
PER_DESK = 1000
KILLS = 3


def test_broker_killed_during_traffic_with_the_real_server_counts_every_event_once(tmp_path):
    population = Population(33)
    with ShippedBroker(READERS) as broker:
        server = broker.drill_server(tmp_path / "server")
        server.start()
        agents = [drill_desk(tmp_path, broker, f, r, retry_after=3) for f, r in READERS]
        for agent in agents:
            agent.start()
        try:
            created, recovery = traffic_with_kills(agents, broker, population, PER_DESK, KILLS, gap=0.006)
            expected: dict[str, Counter[str]] = {}
            for e in created:
                day = e.occurred_at.astimezone(VIETNAM_TZ).date().isoformat()
                expected.setdefault(e.facility_code, Counter())[day] += 1
            days = sorted({d for c in expected.values() for d in c})
            counted = {}
            for facility in expected:
                body = server.get("/api/v1/usage", facility=facility, **{"from": days[0], "to": days[-1]})
                counted[facility] = {d["day"]: d["checkins"] for d in body["days"] if d["checkins"]}
            ingest = server.health()["ingest"]
        finally:
            for agent in agents:
                agent.stop()
            server.stop()
    total_counted = sum(sum(c.values()) for c in counted.values())
    print(f"\nbroker kill -9 drill with the real server ({KILLS} kills, shipped config, receipts): "
          f"{len(created)} created, {total_counted} counted via the API, {len(created) - total_counted} lost, "
          f"duplicates absorbed {ingest.get('duplicates', 0)}, receipts {ingest.get('receipts', '?')}, "
          f"outboxes empty {recovery:.1f} s after the last scan")
    assert counted == {f: dict(c) for f, c in expected.items()}
    assert total_counted == len(created) == PER_DESK * len(READERS)
