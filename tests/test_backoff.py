"""Reconnecting after an outage: jittered backoff capped low (2 s), so a desk is back within
seconds of the broker's return; checked on the draws and on a real broker outage."""

from __future__ import annotations

import json
import os
import random
import time

import pytest

from edge.publisher import Backoff
from simulators.fleet import make_agent
from simulators.population import Population
from simulators.services import Mosquitto
from tests.processes import wait_until
from tests.shipped_broker import ReceiptResponder


def test_draws_double_with_jitter_and_never_pass_the_cap():
    rng = random.Random(5)
    backoff = Backoff(0.25, 2.0, rng=rng.random)
    draws = [backoff.next() for _ in range(40)]
    assert all(0 < d <= 2.0 for d in draws)
    assert draws[0] <= 0.25 and max(draws[:3]) <= 1.0  # short at first
    assert max(draws) > 1.0  # it does reach the cap's range
    assert len({round(d, 6) for d in draws[10:]}) > 20  # jittered: desks do not retry in lockstep
    backoff.reset()
    assert backoff.next() <= 0.25


@pytest.mark.services
def test_after_a_long_outage_no_wait_between_attempts_passes_the_cap(tmp_path):
    broker = Mosquitto().start()
    witness = ReceiptResponder(broker.url, client_id="backoff-server", username=None)
    agent = make_agent("34001", "desk-1", broker.url, tmp_path, os.urandom(32), tmp_path / "k")
    agent.start()
    try:
        wait_until(lambda: agent.publisher.state.connected, 20, "the first connection")
        broker.stop()
        time.sleep(12)  # long enough for the old backoff (doubling to 30 s) to wait 8-16 s
        ids = [agent.submit_qr(Population(2).citizen(i).qr_payload()).event.event_id for i in range(5)]
        broker.start()
        back = time.monotonic()
        wait_until(lambda: agent.publisher.state.connected, 30, "the reconnection")
        print(f"\nreconnected {time.monotonic() - back:.1f} s after the broker came back; "
              f"longest wait between attempts {agent.publisher.backoff.longest:.2f} s")
        assert agent.publisher.backoff.longest <= 2.0
        assert agent.publisher.wait_drained(30)
        wait_until(lambda: {json.loads(p)["event_id"] for p in witness.payloads()} >= set(ids), 20, "delivery")
    finally:
        agent.stop()
        witness.close()
        broker.__exit__(None, None, None)
