"""The desk agent end to end on the QR path: a simulated camera, the real broker, the
screen in a real Chromium, the HIS API, availability and heartbeat."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from app.agent import DeskAgent
from contract.status import STOPPED_PAYLOAD
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from simulators.qr_sources import SyntheticCardStream
from simulators.services import Mosquitto, free_port
from tests.browser import chromium_page, have_chromium, publish_screenshot
from tests.mqtt_sniffer import Sniffer
from tests.processes import wait_until

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture
def broker():
    with Mosquitto() as mosq:
        yield mosq


def make_settings(tmp_path: Path, broker_url: str, **overrides) -> tuple[EdgeSettings, str]:
    key, his = tmp_path / "pseudonym.key", tmp_path / "his.token"
    write_secret_file(key, os.urandom(32))
    write_secret_file(his, os.urandom(16))
    settings = EdgeSettings.load(
        None,
        facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=tmp_path / "state",
        mqtt={"url": broker_url}, heartbeat_seconds=1,
        chip={"enabled": False},
        screen={"port": free_port(), "history_enabled": True},
        his={"token_file": his},
        **overrides,
    )
    return settings, settings.his_token()


def test_camera_cards_become_one_checkin_each_with_screen_his_and_availability(tmp_path, broker):
    sniffer = Sniffer(broker.url)
    settings, his_token = make_settings(tmp_path, broker.url)
    camera = SyntheticCardStream(seed=21, count=3, frames_per_card=4, gap_frames=2)
    agent = DeskAgent(settings, qr_sources=[camera])
    agent.start()
    base = f"http://127.0.0.1:{settings.screen.port}"
    try:
        checkins = lambda: [json.loads(p) for p in sniffer.payloads("/checkin")]  # noqa: E731
        wait_until(lambda: len(checkins()) >= 3, 60, "three check-ins")
        events = checkins()
        assert len(events) == 3  # four frames per card, one check-in per card
        assert {e["method"] for e in events} == {"qr"} and {e["trust_level"] for e in events} == {"qr_only"}

        # The HIS gets the last patient in XML130 names; the name is intact with its diacritics.
        last_payload = camera.expected_payloads[-1].split("|")
        his = httpx.get(f"{base}/his/v1/patient/current", headers={"Authorization": f"Bearer {his_token}"}).json()
        assert his["so_cccd"] == last_payload[0] and his["ho_ten"] == last_payload[2]
        assert his["ngay_sinh"] == last_payload[3][4:] + last_payload[3][2:4] + last_payload[3][:2] + "0000"
        assert httpx.get(f"{base}/his/v1/patient/current").status_code == 401

        # Local history is on in this test: today's three visits.
        assert len(httpx.get(f"{base}/screen/api/history").json()) == 3

        # Availability and heartbeat.
        wait_until(lambda: sniffer.payloads("/heartbeat"), 10, "a heartbeat")
        beat = json.loads(sniffer.payloads("/heartbeat")[-1])
        assert beat["reader_id"] == "desk-1" and "outbox_depth" in beat and beat["last_scan_at"]
        assert b"online" in sniffer.payloads("/status")

        if have_chromium():
            with chromium_page() as page:
                page.goto(base + "/")
                page.wait_for_selector("#name:not(:empty)")
                assert page.text_content("#name") == last_payload[2]
                assert "QR" in page.text_content("#trust")
                page.screenshot(path=str(tmp_path / "desk-qr-only.png"))
                publish_screenshot(tmp_path / "desk-qr-only.png", "desk-qr-only.png")  # only when refreshing docs
    finally:
        agent.stop()
    # a clean stop says so (contract.status), not the will's plain "offline"
    wait_until(lambda: sniffer.payloads("/status")[-1:] == [STOPPED_PAYLOAD], 10, "the stopped status")
    sniffer.close()
