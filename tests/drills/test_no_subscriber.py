"""Drill: a fresh broker that the server has not yet subscribed to (the shipped configuration).

mosquitto answers such a publish with PUBACK reason 16 "no matching subscribers": the
broker keeps the message for nobody. The desk must keep every such event and send it
again until someone who stores it is there.
"""

from __future__ import annotations

import json

import pytest

from simulators.population import Population
from tests.processes import wait_until
from tests.shipped_broker import ReceiptResponder, ShippedBroker, drill_desk

pytestmark = pytest.mark.services
FACILITY, READER = "34001", "desk-1"
EVENTS = 200


def test_events_refused_for_want_of_a_subscriber_are_kept_and_go_once_one_subscribes(tmp_path):
    population = Population(8)
    with ShippedBroker([(FACILITY, READER)]) as broker:
        agent = drill_desk(tmp_path, broker, FACILITY, READER, retry_after=1)
        agent.start()
        witness = None
        try:
            ids = [agent.submit_qr(population.citizen(i).qr_payload()).event.event_id for i in range(EVENTS)]
            # Every one was answered "no matching subscribers", and is still here.
            wait_until(lambda: agent.publisher.state.refused >= EVENTS, 60, "the broker to answer every publish")
            assert agent.publisher.state.acknowledged == 0
            assert agent.outbox.depth() == EVENTS
            # The server subscribes: the kept events go on the next attempt, and are receipted.
            witness = ReceiptResponder(broker.local_url)
            assert agent.publisher.wait_drained(60)
            wait_until(lambda: len(witness.payloads()) >= EVENTS, 30, "the witness to get every event")
            received = [json.loads(p)["event_id"] for p in witness.payloads()]
        finally:
            agent.stop()
            if witness is not None:
                witness.close()
    lost = set(ids) - set(received)
    doubled = len(received) - len(set(received))
    print(f"\nno-subscriber drill: {EVENTS} created, {agent.publisher.state.refused} PUBACKs with reason 16 kept, "
          f"{len(set(received))} delivered, {len(lost)} lost, {doubled} doubled")
    assert lost == set() and doubled == 0
    assert sorted(received) == sorted(ids)
