"""A clean stop and a lost connection, told apart end to end (issue 14): the real desk agent
(``cccd-edge run``) and ``cccd-server serve`` as subprocesses, on mosquitto with the shipped
configuration. SIGTERM: the agent says ``stopped`` itself (contract.status) and the fleet says
"stopped cleanly"; SIGKILL: the broker publishes the will after the keepalive and the fleet says
"lost connection"; a registered reader that never connected stays "never seen"."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from srvhelpers import facilities_csv

from server.db import init_db, make_engine
from server.labels import READER_STATES
from server.store import EventStore
from simulators.services import Mosquitto
from tests.processes import READ_TOKEN, ProgramProcess, ServerProcess, wait_until, write_agent_config

pytestmark = pytest.mark.services


def _agent(tmp_path: Path, broker_url: str, n: int) -> ProgramProcess:
    # the smallest keepalive the settings allow: the broker sends the will 1.5 keepalives after a loss
    config = write_agent_config(tmp_path, broker_url, mqtt="keepalive = 5")
    return ProgramProcess("app.cli", ["run", "--config", str(config)], tmp_path / f"agent{n}.log").start()


def _fleet(server: ServerProcess) -> dict[str, str]:
    return {r["reader_id"]: r["state"] for r in server.get("/api/v1/fleet")["readers"]}


def _offline_reason(server: ServerProcess, reader: str) -> str | None:
    rows = [r for r in server.get("/api/v1/readers") if r["reader_id"] == reader]
    return rows[0]["offline_reason"]


def _fleet_badges(server: ServerProcess, lang: str = "vi") -> list[str]:
    """The state badges of the fleet page's rows, as the technician reads them."""
    with httpx.Client(base_url=server.base, timeout=10) as browser:
        browser.post("/dashboard/login", data={"token": READ_TOKEN})
        page = browser.get("/dashboard/fleet", params={"lang": lang}).text
    return re.findall(r'data-state="[a-z_]+">([^<]+)</span>', page)


def test_sigterm_says_stopped_cleanly_sigkill_says_lost_connection_and_never_connected_is_never_seen(tmp_path):
    db = tmp_path / "server.sqlite"
    store = EventStore(make_engine(f"sqlite:///{db}"))
    init_db(store.engine)
    store.import_facilities(facilities_csv(["34001"]))
    store.add_reader("34001", "desk-1")
    store.add_reader("34001", "desk-2")  # registered, never connected
    store.engine.dispose()
    with Mosquitto() as broker:
        server = ServerProcess(tmp_path, broker.url, auto_register=False).start()
        try:
            agent = _agent(tmp_path, broker.url, 1)
            try:
                wait_until(lambda: _fleet(server).get("desk-1") == "online", 60, "the agent online")
                assert _fleet(server)["desk-2"] == "never_seen"
            finally:
                agent.stop()  # SIGTERM: a clean stop
            wait_until(lambda: _fleet(server)["desk-1"] == "stopped", 30, "the clean stop recorded")
            assert _offline_reason(server, "desk-1") == "stopped"
            assert server.get("/api/v1/fleet", state="stopped")["total"] == 1
            assert server.get("/api/v1/fleet", state="offline")["total"] == 2
            assert _fleet_badges(server) == [READER_STATES["stopped"][0], READER_STATES["never_seen"][0]]
            assert _fleet_badges(server, "en") == ["Stopped cleanly", "Never connected"]

            agent = _agent(tmp_path, broker.url, 2)
            try:
                wait_until(lambda: _fleet(server)["desk-1"] == "online", 60, "the agent online again")
            finally:
                agent.kill()  # SIGKILL: no last word; the broker notices after the keepalive
            wait_until(lambda: _fleet(server)["desk-1"] == "last_will", 60, "the will recorded")
            assert _offline_reason(server, "desk-1") == "last_will"
            assert _fleet(server)["desk-2"] == "never_seen"

            assert _fleet_badges(server) == [READER_STATES["last_will"][0], READER_STATES["never_seen"][0]]
            assert _fleet_badges(server, "en") == ["Lost connection", "Never connected"]
        finally:
            server.stop()
