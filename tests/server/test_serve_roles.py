"""``cccd-server serve --role api`` and ``--role ingest`` as two real processes on the shipped broker.

An event a reader publishes is stored by the ingest process and visible through the API
process; the API process's health follows the ingest process: ``degraded``
(``ingest_unreachable``) while it is stopped (SIGSTOP) or killed, ``ok`` again once it
runs. Timeouts below are generous bounds for a loaded machine, never speed assertions.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from contract.mqtt import make_client
from contract.settings import MqttSettings
from contract.topics import checkin_topic
from simulators.services import free_port
from tests.processes import READ_TOKEN, ServerProcess, wait_until
from tests.shipped_broker import SERVER_PASSWORD, SERVER_USER, ShippedBroker

pytestmark = pytest.mark.services
READER = ("34001", "desk-1")


def _config(db: Path, broker: ShippedBroker, api_port: int, ingest_port: int) -> str:
    return (f'database_url = "sqlite:///{db}"\n'
            f'[mqtt]\nurl = "{broker.local_url}"\nusername = "{SERVER_USER}"\npassword = "{SERVER_PASSWORD}"\n'
            f'[api]\nport = {api_port}\nread_tokens = ["{READ_TOKEN}"]\n[registry]\nauto_register = true\n'
            f'[process]\ningest_port = {ingest_port}\ningest_timeout_seconds = 0.5\n')


def _publish(broker: ShippedBroker, n: int) -> list[str]:
    """n check-ins from the reader, over its TLS listener with its own credentials; acknowledged by the broker."""
    client = make_client(MqttSettings.model_validate(broker.reader_mqtt(*READER)), "34001/desk-1")
    client.connect("127.0.0.1", broker.tls_port)
    client.loop_start()
    ids = []
    try:
        for _ in range(n):
            event = CheckInEvent(event_id=new_event_id(), facility_code=READER[0], reader_id=READER[1],
                                 occurred_at=datetime.now(UTC), method=Method.QR, trust_level=TrustLevel.QR_ONLY,
                                 citizen_pseudonym=f"{time.time_ns() % 10**12:064x}")
            client.publish(checkin_topic(*READER), event.to_json_bytes(), qos=1).wait_for_publish(10)
            ids.append(event.event_id)
    finally:
        client.disconnect()
        client.loop_stop()
    return ids


def _checkins(api: ServerProcess) -> int:
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()  # the server counts local days: 17:00 UTC is tomorrow
    days = {"from": (today.replace(day=1)).isoformat(), "to": today.isoformat()}
    body = api.get("/api/v1/usage", **days)
    return int(body["total_checkins"])


def _reasons(api: ServerProcess) -> list[str]:
    return [r["code"] for r in api.health()["reasons"]]


def test_the_ingest_process_stores_what_the_api_process_serves_and_the_api_health_follows_the_ingest(tmp_path):
    with ShippedBroker([READER]) as broker:
        api_port, ingest_port = free_port(), free_port()
        config = _config(tmp_path / "server.sqlite", broker, api_port, ingest_port)
        ingest = ServerProcess(tmp_path, broker.local_url, config_text=config, port=ingest_port, role="ingest")
        api = ServerProcess(tmp_path, broker.local_url, config_text=config, port=api_port, role="api")
        try:
            ingest.start()  # migrates the database first, as the systemd units order it
            api.start()  # its health says subscribed only once it asked the ingest process
            # the ingest process serves its health and metrics, not the API
            no_api = httpx.get(f"{ingest.base}/api/v1/readers", headers={"Authorization": f"Bearer {READ_TOKEN}"},
                               timeout=10)
            assert no_api.status_code == 404
            metrics = httpx.get(f"{ingest.base}/metrics", headers={"Authorization": f"Bearer {READ_TOKEN}"},
                                timeout=10)
            assert metrics.status_code == 200 and "cccd_ingest" in metrics.text
            assert api.health()["status"] == "ok"

            _publish(broker, 5)
            wait_until(lambda: _checkins(api) == 5, 60, "the api process to serve what the ingest process stored")
            assert api.health()["ingest"].get("stored") == 5  # the ingest's own counters, asked over HTTP

            assert ingest.proc is not None
            os.kill(ingest.proc.pid, signal.SIGSTOP)
            try:
                wait_until(lambda: _reasons(api) == ["ingest_unreachable"], 30, "degraded while the ingest is stopped")
                health = api.health()
                assert health["status"] == "degraded" and not health["mqtt_connected"]
                assert _checkins(api) == 5  # the API still answers from the database
            finally:
                os.kill(ingest.proc.pid, signal.SIGCONT)
            wait_until(lambda: api.health()["status"] == "ok", 30, "ok once the ingest runs again")

            ingest.kill()
            wait_until(lambda: _reasons(api) == ["ingest_unreachable"], 30, "degraded while the ingest is dead")
            _publish(broker, 3)  # queued by the broker for the server's persistent session
            ingest.start()
            wait_until(lambda: api.health()["status"] == "ok", 30, "ok once the ingest is back")
            wait_until(lambda: _checkins(api) == 8, 60, "the queued events stored after the restart")
        finally:
            api.stop()
            ingest.stop()
