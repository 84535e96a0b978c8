"""Simulated readers: the real desk agent, fed by a seeded synthetic population.

``run_checkins`` starts one agent per facility, sends M check-ins spread over N
facilities, waits until the broker took every one (or, on request, until the server
receipted every one and it left every outbox), optionally re-publishes some
already-delivered events verbatim (a duplicate delivery the server must absorb), and
returns what it sent per facility — counts only, no personal data.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.domain.qr import VIETNAM_TZ
from edge.events import CheckInEvent, checkin_topic
from edge.settings_base import MqttSettings
from simulators.population import Population


def facility_codes(count: int, province: str = "34") -> list[str]:
    """Synthetic facility codes in the 5-digit style of health-insurance facility codes."""
    return [f"{province}{i + 1:03d}" for i in range(count)]


@dataclass
class FleetReport:
    broker: str
    seed: int
    facilities: dict[str, dict[str, object]]
    total_checkins: int
    duplicates_sent: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "broker": self.broker,
            "seed": self.seed,
            "total_checkins": self.total_checkins,
            "duplicates_sent": self.duplicates_sent,
            "seconds": round(self.seconds, 3),
            "facilities": self.facilities,
        }


def make_agent(
    facility: str, reader: str, broker_url: str, state_dir: Path, key: bytes, key_file: Path,
    *, outbox: dict[str, object] | None = None,
) -> DeskAgent:
    settings = EdgeSettings.load(
        None,
        facility_code=facility,
        reader_id=reader,
        pseudonym_key_file=key_file,
        state_dir=state_dir / facility / reader,
        mqtt=MqttSettings(url=broker_url, client_id=f"sim-{facility}-{reader}"),
        # a fleet has no screens and no chip readers: QR payloads go straight in
        screen={"enabled": False},
        chip={"enabled": False},
        outbox=outbox or {},
    )
    return DeskAgent(settings, pseudonym_key=key)


def run_checkins(
    broker_url: str,
    facilities: int,
    count: int,
    seed: int,
    *,
    duplicates: int = 0,
    state_dir: Path | None = None,
    pseudonym_key: bytes | None = None,
    timeout: float = 120.0,
    wait_for: Literal["broker", "receipt"] = "broker",
) -> FleetReport:
    """Send ``count`` check-ins over ``facilities`` simulated readers and wait until the broker took each
    (``wait_for="broker"``: what a fleet sending to a server that is down needs) or the server
    receipted each (``"receipt"``: every outbox empty)."""
    started = time.monotonic()
    rng = random.Random(seed)
    population = Population(seed)
    key = pseudonym_key or os.urandom(32)
    work = state_dir or Path(tempfile.mkdtemp(prefix="cccd-fleet-"))
    key_file = work / "pseudonym.key"  # only a name for the settings; the key is passed in memory
    codes = facility_codes(facilities)
    # Handing everything to the broker (a server that is down) needs a window as large as the run.
    window = max(1000, min(count, 100_000))
    outbox: dict[str, object] | None = {"resend_window": window} if wait_for == "broker" else None
    agents = {code: make_agent(code, "desk-1", broker_url, work, key, key_file, outbox=outbox) for code in codes}
    for agent in agents.values():
        agent.start()

    # Some citizens come back: draw from a pool smaller than the number of visits.
    pool = max(1, (count * 3) // 4)
    sent: dict[str, list[CheckInEvent]] = defaultdict(list)
    try:
        for _ in range(count):
            code = rng.choice(codes)
            citizen = population.citizen(rng.randrange(pool))
            outcome = agents[code].submit_qr(citizen.qr_payload())
            if outcome.event is None:
                raise RuntimeError(f"a synthetic card was refused: {outcome.error}")
            sent[code].append(outcome.event)
        deadline = time.monotonic() + timeout
        for agent in agents.values():
            left = max(0.1, deadline - time.monotonic())
            if wait_for == "receipt" and not agent.publisher.wait_drained(left):
                raise TimeoutError("the server did not receipt every check-in in time")
            if wait_for == "broker" and not agent.publisher.wait_acknowledged(left):
                raise TimeoutError("the broker did not take every check-in in time")
        dup_count = _send_duplicates(broker_url, [e for evs in sent.values() for e in evs], duplicates, rng)
    finally:
        for agent in agents.values():
            agent.stop()

    summary: dict[str, dict[str, object]] = {}
    for code in codes:
        events = sent.get(code, [])
        per_day = Counter(e.occurred_at.astimezone(VIETNAM_TZ).date().isoformat() for e in events)
        summary[code] = {
            "checkins": len(events),
            "distinct_citizens": len({e.citizen_pseudonym for e in events}),
            "by_day": dict(sorted(per_day.items())),
        }
    return FleetReport(
        broker=broker_url,
        seed=seed,
        facilities=summary,
        total_checkins=count,
        duplicates_sent=dup_count,
        seconds=time.monotonic() - started,
    )


def _send_duplicates(broker_url: str, events: list[CheckInEvent], count: int, rng: random.Random) -> int:
    """Publish ``count`` already-delivered events again, byte for byte, as a redelivery would."""
    if count <= 0 or not events:
        return 0
    settings = MqttSettings(url=broker_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-dup-{os.getpid()}", protocol=mqtt.MQTTv5)
    client.connect(settings.host, settings.port)
    client.loop_start()
    try:
        for event in rng.sample(events, min(count, len(events))):
            info = client.publish(checkin_topic(event.facility_code, event.reader_id), event.to_json_bytes(), qos=1)
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return min(count, len(events))
