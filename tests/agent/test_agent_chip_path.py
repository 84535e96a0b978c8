"""The desk agent with the virtual CCCD on the real pcscd: QR from the simulated camera,
then the chip; one check-in with the combined trust level; the screen in Chromium with
the photo; a QR/chip mismatch; recovery after pcscd restarts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.domain.qr import today_in_vietnam
from edge.settings_base import write_secret_file
from simulators.population import Population
from simulators.qr_sources import SyntheticCardStream
from simulators.services import Mosquitto, free_port
from simulators.vcard.cli import make_card
from simulators.vcard.lds_builder import build_chip_profile
from simulators.vcard.pki import build_test_pki
from simulators.vcard.vpcd import VpcdLink
from tests.browser import chromium_page, have_chromium, publish_screenshot
from tests.mqtt_sniffer import Sniffer
from tests.processes import ServerProcess, wait_until

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]
SEED = 31
READER = "Virtual PCD 00 00"





@pytest.fixture(scope="module")
def pki():
    return build_test_pki(SEED)


@pytest.fixture
def broker():
    with Mosquitto() as mosq:
        yield mosq


def make_agent(tmp_path: Path, broker_url: str, pki, qr_sources=None) -> DeskAgent:
    key = tmp_path / "pseudonym.key"
    write_secret_file(key, os.urandom(32))
    his = tmp_path / "his.token"
    write_secret_file(his, os.urandom(16))
    (tmp_path / "trust").mkdir()
    csca = pki.write_csca_pem(tmp_path / "trust" / "csca.pem")
    settings = EdgeSettings.load(
        None,
        facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=tmp_path / "state",
        mqtt={"url": broker_url}, heartbeat_seconds=1,
        chip={"reader": READER, "trust_paths": [csca.parent], "wait_seconds": 60},
        screen={"port": free_port()}, his={"token_file": his},
    )
    return DeskAgent(settings, qr_sources=qr_sources or [])


def screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))
    publish_screenshot(tmp_path / name, name)  # to docs/ only under scripts/refresh-screenshots.sh


def test_camera_qr_then_the_chip_gives_one_clone_checked_checkin_with_the_photo(tmp_path, pcscd, broker, pki):
    server = ServerProcess(tmp_path, broker.url).start()
    citizen = Population(SEED).citizen(0)
    card = make_card(build_chip_profile(citizen, pki=pki, seed=SEED))[0]
    sniffer = Sniffer(broker.url)
    camera = SyntheticCardStream(seed=SEED, count=1, frames_per_card=4)
    assert camera.expected_payloads == [citizen.qr_payload()]
    agent = make_agent(tmp_path, broker.url, pki, [camera])
    agent.start()
    try:
        # The QR arrives first: the screen asks for the card on the reader.
        wait_until(lambda: agent.hub.current() and agent.hub.current().next_step.code == "next.place_card_on_reader",
                   30, "the QR read")
        assert sniffer.payloads("/checkin") == []
        with VpcdLink(card):
            # The event may reach the broker before the screen's next frame: wait for both.
            wait_until(lambda: sniffer.payloads("/checkin") and agent.hub.current().state == "recorded", 60,
                       "the chip check-in")
            view = agent.hub.current()
            (event,) = [json.loads(p) for p in sniffer.payloads("/checkin")]
            assert event["method"] == "qr+chip"
            assert event["trust_level"] == "chip_verified_clone_checked"
            assert view.full_name == citizen.full_name and view.has_photo
            assert view.ethnicity == citizen.ethnicity
            if have_chromium():
                with chromium_page() as page:
                    page.goto(f"http://127.0.0.1:{agent.settings.screen.port}/")
                    page.wait_for_selector("#photo:not(.hidden)")
                    assert page.evaluate("document.getElementById('photo').naturalWidth") > 0
                    assert "không phải bản sao" in page.text_content("#trust")
                    screenshot(page, tmp_path, "desk-chip-verified.png")
            time.sleep(0.5)
        assert len(sniffer.payloads("/checkin")) == 1  # the card left: still one visit
        # The server counted it, with the level the desk reached.
        today = today_in_vietnam().isoformat()
        usage = wait_until(lambda: server.get("/api/v1/usage", facility="34001", **{"from": today, "to": today})
                           if server.health()["ingest"].get("stored") else None, 30, "the server to count it")
        assert usage["total_checkins"] == 1
        assert "chip_verified_clone_checked" in json.dumps(usage)
    finally:
        agent.stop()
        sniffer.close()
        server.stop()


def test_an_altered_qr_on_a_genuine_chip_is_caught_by_the_cross_check(tmp_path, pcscd, broker, pki):
    """A QR re-printed with another name and birth date but the real ID number (so the
    CAN still opens the chip): the chip is genuine, the cross-check is not."""
    owner = Population(SEED).citizen(1)
    fields = owner.qr_payload().split("|")
    fields[2] = "Trần Thị Giả" if owner.full_name != "Trần Thị Giả" else "Lê Văn Giả"
    fields[3] = "01011990" if fields[3] != "01011990" else "02021991"
    forged = "|".join(fields).encode()
    card = make_card(build_chip_profile(owner, pki=pki, seed=SEED))[0]
    sniffer = Sniffer(broker.url)
    agent = make_agent(tmp_path, broker.url, pki)
    agent.start()
    try:
        agent.enqueue_qr(forged)
        wait_until(lambda: agent.hub.current() is not None, 30, "the QR read")
        with VpcdLink(card):
            wait_until(lambda: sniffer.payloads("/checkin") and agent.hub.current().state == "not_recorded", 60,
                       "the check-in")
            (event,) = [json.loads(p) for p in sniffer.payloads("/checkin")]
            assert event["method"] == "qr+chip" and event["trust_level"] == "invalid"
            view = agent.hub.current()
            codes = {b.code for b in view.badges}
            assert "crosscheck.name_mismatch" in codes and "crosscheck.date_of_birth_mismatch" in codes, codes
            assert view.outcome == "failure" and view.next_step.code == "next.check_document_by_hand"
            assert view.full_name == owner.full_name  # the screen shows the chip's data, not the QR's
            if have_chromium():
                with chromium_page() as page:
                    page.goto(f"http://127.0.0.1:{agent.settings.screen.port}/")
                    page.wait_for_selector("#banner.failure")
                    screenshot(page, tmp_path, "desk-mismatch.png")
    finally:
        agent.stop()
        sniffer.close()


def test_the_agent_keeps_reading_cards_after_pcscd_restarts(tmp_path, pcscd, broker, pki):
    population = Population(SEED)
    sniffer = Sniffer(broker.url)
    agent = make_agent(tmp_path, broker.url, pki)
    agent.start()
    try:
        for round_, index in enumerate((2, 3)):
            citizen = population.citizen(index)
            card = make_card(build_chip_profile(citizen, pki=pki, seed=SEED))[0]
            agent.enqueue_qr(citizen.qr_payload().encode())
            with VpcdLink(card):
                wait_until(lambda n=round_: len(sniffer.payloads("/checkin")) > n, 60, f"check-in {round_ + 1}")
            if round_ == 0:
                pcscd.restart(crash=True)  # pcscd dies and comes back: the observer must reconnect
        levels = [json.loads(p)["trust_level"] for p in sniffer.payloads("/checkin")]
        assert levels == ["chip_verified_clone_checked"] * 2
    finally:
        agent.stop()
        sniffer.close()
