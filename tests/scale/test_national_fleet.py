"""The national fleet simulator: every light reader connects with its own credentials on the
real broker, heartbeats and check-ins flow and are acknowledged, its takeover twin kicks
nobody off; its day profile has a morning peak and a mean of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from server.brokerfiles import acl_text, mosquitto_hash, password_text
from simulators.national_fleet import (
    _DAY_PEAK,
    FleetPlan,
    broker_for,
    day_rate,
    national_readers,
    run_fleet,
    sim_password,
)
from simulators.services import Mosquitto


def test_the_day_has_a_morning_peak_a_mean_of_one_and_stays_under_the_thinning_bound():
    samples = [day_rate(i / 10_000) for i in range(10_000)]
    assert abs(sum(samples) / len(samples) - 1) < 0.02
    assert max(samples) < _DAY_PEAK
    assert day_rate(0.15) > 3 * day_rate(0.45)  # 08:30 is busier than noon


def test_readers_spread_over_provinces_and_regional_brokers_with_unique_usernames():
    readers = national_readers(40_000)
    assert len({r.username for r in readers}) == 40_000
    assert len({r.facility for r in readers}) == 13_334
    brokers = [("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)]
    per_broker = [sum(broker_for(r, brokers) == b for r in readers) for b in brokers]
    assert min(per_broker) > 12_000


@pytest.mark.services
def test_a_small_fleet_connects_publishes_and_its_takeover_twin_kicks_nobody_off():
    readers = national_readers(62)
    work = Path(tempfile.mkdtemp(prefix="cccd-fleet-test-"))
    os.chmod(work, 0o777)
    accounts = [(r.username, mosquitto_hash(sim_password("t", r.username)), r.facility, r.reader) for r in readers]
    (work / "passwd").write_text(password_text(accounts, None))
    (work / "acl").write_text(acl_text(accounts, None))
    # the template's identity binding, on the test listener
    with Mosquitto(password_file=work / "passwd", acl_file=work / "acl",
                   extra_config="use_username_as_clientid true\n") as broker:
        plan = FleetPlan(brokers=[("127.0.0.1", broker.port)], readers=62, processes=2, seed="t", heartbeat_s=1,
                         checkins_per_reader_day=30, day_s=4, duration=4, connect_rate=500,
                         takeover=readers[1].username, takeovers=2)
        report = run_fleet(plan)
    assert report["connected"] == 60 and report["refused"] == {}  # 2 readers are the twin's
    assert report["takeovers"] == 2 and report["dropped"] == 0
    assert report["heartbeats"] >= 60 * 3
    assert report["checkins_sent"] > 0 and report["checkins_acked"] == report["checkins_sent"]
    assert report["checkins_refused"] == {}
