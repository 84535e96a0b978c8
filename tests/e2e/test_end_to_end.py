"""The whole path on real parts: QR text -> desk agent -> mosquitto -> server -> counts.

A real mosquitto on a free loopback port, the real server as a subprocess, and the
simulated fleet through its command line. The server's counts must equal exactly what
the fleet sent, duplicates included, and no personal data may cross the broker or land
in the server's database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import httpx
import pytest

from simulators.population import Population
from simulators.services import Mosquitto
from tests.mqtt_sniffer import Sniffer
from tests.processes import READ_TOKEN, ServerProcess, wait_until

pytestmark = pytest.mark.services
TOKEN = READ_TOKEN
SEED, FACILITIES, COUNT, DUPLICATES = 7, 4, 120, 6



@pytest.fixture
def broker():
    with Mosquitto() as mosq:
        yield mosq


@pytest.fixture
def server(tmp_path, broker):
    process = ServerProcess(tmp_path, broker.url).start()
    try:
        yield {"base": process.base, "db": process.db, "proc": process.proc}
    finally:
        process.stop()


def test_server_counts_exactly_what_the_fleet_sent_and_no_personal_data_leaves_the_desk(tmp_path, broker, server):
    sniffer = Sniffer(broker.url)
    run = subprocess.run(
        [sys.executable, "-m", "simulators.cli", "checkins", "--broker", broker.url,
         "--facilities", str(FACILITIES), "--count", str(COUNT), "--seed", str(SEED),
         "--duplicates", str(DUPLICATES), "--state-dir", str(tmp_path / "fleet")],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["total_checkins"] == COUNT and report["duplicates_sent"] == DUPLICATES

    health = lambda: httpx.get(f"{server['base']}/api/v1/health").json()["ingest"]  # noqa: E731
    wait_until(lambda: health().get("stored", 0) + health().get("duplicates", 0) >= COUNT + DUPLICATES,
               60, "the server to ingest every delivery")
    counters = health()
    assert counters["stored"] == COUNT
    assert counters["duplicates"] == DUPLICATES
    assert counters.get("refused", 0) == 0

    auth = {"Authorization": f"Bearer {TOKEN}"}
    total = 0
    for code, sent in report["facilities"].items():
        days = sorted(sent["by_day"])
        if not days:
            continue
        usage = httpx.get(f"{server['base']}/api/v1/usage",
                          params={"facility": code, "from": days[0], "to": days[-1]}, headers=auth).json()
        assert usage["total_checkins"] == sent["checkins"]
        assert usage["distinct_citizens"] == sent["distinct_citizens"]
        assert {d["day"]: d["checkins"] for d in usage["days"]} == sent["by_day"]
        total += usage["total_checkins"]
    assert total == COUNT
    print(f"\nend-to-end: sent {COUNT} (+{DUPLICATES} duplicate deliveries) over {FACILITIES} facilities; "
          f"server stored {counters['stored']}, absorbed {counters['duplicates']} duplicates; "
          f"per facility {[(c, f['checkins'], f['distinct_citizens']) for c, f in report['facilities'].items()]}")

    # Privacy: nothing identifying crossed the broker or reached the server's database.
    sniffer.close()
    traffic = b"\n".join(t.encode() + b" " + p for t, p in sniffer.messages)
    assert traffic.count(b'"event_id"') >= COUNT
    db_bytes = b"".join(p.read_bytes() for p in server["db"].parent.glob("server.sqlite*"))
    population = Population(SEED)
    for citizen in population.sample(max(1, COUNT * 3 // 4)):
        for secret in personal_strings(citizen):
            assert secret not in traffic, "personal data crossed the broker"
            assert secret not in db_bytes, "personal data reached the server database"


def personal_strings(citizen) -> list[bytes]:
    dob: date = citizen.date_of_birth
    values = [
        citizen.id_number, citizen.id_number[-9:], citizen.full_name, citizen.address,
        dob.strftime("%d%m%Y"), dob.strftime("%d/%m/%Y"), dob.isoformat(),
    ]
    if citizen.old_id_number:
        values.append(citizen.old_id_number)
    return [v.encode() for v in values]


def test_server_api_refuses_requests_without_a_valid_token(server):
    assert httpx.get(f"{server['base']}/api/v1/usage?facility=34001&from=2026-01-01&to=2026-01-02").status_code == 401
    bad = {"Authorization": "Bearer wrong-token-wrong-token"}
    assert httpx.get(f"{server['base']}/api/v1/usage?facility=34001&from=2026-01-01&to=2026-01-02",
                     headers=bad).status_code == 401
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{server['base']}/api/v1/usage?facility=34001&from=2026-01-02&to=2026-01-01",
                     headers=ok).status_code == 422
    assert httpx.get(f"{server['base']}/api/v1/usage?facility=34;drop&from=2026-01-01&to=2026-01-02",
                     headers=ok).status_code == 422
