"""The desk's outbox against a real broker: nothing lost while the broker is away."""

from __future__ import annotations

import json
import os

import pytest

from simulators.fleet import make_agent
from simulators.population import Population
from simulators.services import Mosquitto, free_port
from tests.processes import wait_until
from tests.shipped_broker import ReceiptResponder

pytestmark = pytest.mark.services



def test_checkins_made_while_the_broker_is_down_are_all_delivered_in_order_once_it_is_up(tmp_path):
    port = free_port()
    broker = Mosquitto(port=port).start()
    # The server's part (a persistent session that outlives the broker's outage, and receipts).
    sniffer = ReceiptResponder(broker.url, username=None)
    broker.stop()
    agent = make_agent("34001", "desk-1", broker.url, tmp_path, os.urandom(32), tmp_path / "k")
    agent.start()
    population = Population(3)
    try:
        sent = [agent.submit_qr(population.citizen(i).qr_payload()).event for i in range(40)]
        assert agent.outbox.depth() == 40  # held durably while the broker is unreachable
        broker.start()
        assert agent.publisher.wait_drained(30)
        wait_until(lambda: len(sniffer.payloads()) >= 40, 10, "the sniffer to see every event")
        received = [json.loads(p)["event_id"] for p in sniffer.payloads()]
    finally:
        sniffer.close()
        agent.stop()
        broker.__exit__(None, None, None)
    assert received[:40] == [e.event_id for e in sent]
    assert len(set(received)) == 40


def test_a_broker_restart_mid_stream_loses_no_event(tmp_path):
    with Mosquitto() as broker:
        sniffer = ReceiptResponder(broker.url, username=None)
        agent = make_agent("34002", "desk-1", broker.url, tmp_path, os.urandom(32), tmp_path / "k")
        agent.start()
        population = Population(4)
        try:
            ids = [agent.submit_qr(population.citizen(i).qr_payload()).event.event_id for i in range(30)]
            broker.restart()
            ids += [agent.submit_qr(population.citizen(i).qr_payload()).event.event_id for i in range(30, 60)]
            assert agent.publisher.wait_drained(60)
            wait_until(lambda: {json.loads(p)["event_id"] for p in sniffer.payloads()} >= set(ids),
                       30, "every event to reach the subscriber")
        finally:
            sniffer.close()
            agent.stop()
    assert agent.publisher.state.connections >= 2  # it did lose the broker and come back
