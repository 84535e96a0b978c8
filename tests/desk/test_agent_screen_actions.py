"""The screen's buttons reach the visit flow through the real agent (its queue and desk thread),
over real HTTP, and a CAN typed while a QR visit waits never costs that visit."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from edge.trust.crosscheck import IdentityFields
from edge.trust.levels import TrustLevel
from simulators.population import Population
from simulators.services import Mosquitto, free_port
from tests.desk.chips import chip_check
from tests.mqtt_sniffer import Sniffer
from tests.processes import wait_until

CITIZEN = Population(31).citizen(2)


@pytest.fixture
def broker():
    with Mosquitto() as mosq:
        yield mosq


def test_can_next_patient_and_rescan_from_the_screen_reach_the_desk(tmp_path, broker):
    key = tmp_path / "pseudonym.key"
    write_secret_file(key, os.urandom(32))
    settings = EdgeSettings.load(None, facility_code="34001", reader_id="desk-1", pseudonym_key_file=key,
                                 state_dir=tmp_path / "state", mqtt={"url": broker.url},
                                 chip={"enabled": False, "wait_seconds": 600}, screen={"port": free_port()})
    reads: list[object] = []

    def chip(keys, qr):
        reads.append(qr)
        return chip_check(TrustLevel.CHIP_VERIFIED, IdentityFields(CITIZEN.id_number, CITIZEN.full_name,
                                                                   CITIZEN.date_of_birth, CITIZEN.sex))

    sniffer = Sniffer(broker.url)
    agent = DeskAgent(settings, chip_reader=chip, qr_sources=[])
    agent.start()
    base = f"http://127.0.0.1:{settings.screen.port}"
    try:
        agent.enqueue_qr(CITIZEN.qr_payload().encode())
        wait_until(lambda: agent.hub.current() and agent.hub.current().state == "waiting_card", 20, "the QR")
        r = httpx.post(f"{base}/screen/api/can", json={"can": CITIZEN.id_number[-6:]})
        assert r.status_code == 409 and agent.hub.current().state == "waiting_card"  # the waiting visit is kept
        assert httpx.get(f"{base}/screen/api/state", headers={"Host": "evil.example"}).status_code == 400
        assert httpx.post(f"{base}/screen/api/next").status_code == 202
        wait_until(lambda: len(sniffer.payloads("/checkin")) == 1 and agent.hub.current() is None, 20,
                   "next patient: the waiting visit recorded QR-only")
        assert json.loads(sniffer.payloads("/checkin")[0])["trust_level"] == "qr_only"
        assert httpx.post(f"{base}/screen/api/rescan").status_code == 202
        wait_until(lambda: agent.hub.current() is not None, 20, "the rescan screen")
        assert agent.hub.current().next_step.code == "desk.rescan_ready"
        assert len(sniffer.payloads("/checkin")) == 1 and reads == []
    finally:
        agent.stop()
        sniffer.close()
