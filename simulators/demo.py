"""The demo: a broker, the server and simulated readers producing check-ins.

Everything runs on this machine on free loopback ports, with the embedded defaults
(SQLite). A small province is registered — facilities in three districts, most with a
simulated reader, a few without (so coverage is short of the 100% target) — and one desk
runs the full agent with the receptionist's screen and the HIS API. It prints where to
look and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

import uvicorn

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from server.api import create_app
from server.settings import ServerSettings
from simulators.fleet import facility_codes, make_agent
from simulators.population import Population
from simulators.services import Mosquitto, free_port

log = logging.getLogger("demo")

DISTRICTS = ("Thành phố Thái Bình", "Vũ Thư", "Kiến Xương")
KINDS = ("hospital", "health_station", "health_station", "private_clinic")


def _say(text: str) -> None:
    """The demo's console output (it is an interactive command, not a library)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def registry_csv(codes: list[str]) -> str:
    lines = ["code,name,type,province,district,commune"]
    for i, code in enumerate(codes):
        kind = KINDS[i % len(KINDS)]
        name = {"hospital": "Bệnh viện", "health_station": "Trạm y tế", "private_clinic": "Phòng khám"}[kind]
        lines.append(f"{code},{name} {code},{kind},Thái Bình,{DISTRICTS[i % len(DISTRICTS)]},Xã {i + 1}")
    return "\n".join(lines) + "\n"


def run_demo(state_dir: Path, *, readers: int = 3, interval: float = 2.0, seed: int = 1,
             duration: float | None = None) -> int:
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    with Mosquitto() as broker:
        token = secrets.token_urlsafe(24)
        port = free_port()
        settings = ServerSettings.load(
            None,
            database_url=f"sqlite:///{state_dir / 'server.sqlite'}",
            mqtt={"url": broker.url, "client_id": "cccd-server-demo"},
            api={"host": "127.0.0.1", "port": port, "read_tokens": [token]},
            # the simulated readers are registered on their first message (demo only)
            registry={"auto_register": True},
        )
        app = create_app(settings)
        # A province of facilities: the first `readers` have a simulated reader, two more have none.
        codes = facility_codes(readers + 2)
        app.state.store.import_facilities(registry_csv(codes))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)

        key = os.urandom(32)
        fleet = [make_agent(code, "desk-1", broker.url, state_dir / "edge", key, state_dir / "k")
                 for code in codes[1:readers]]
        desk = _desk_agent(state_dir, broker.url, codes[0], key)
        for agent in fleet:
            agent.start()
        desk.start()
        screen = f"http://127.0.0.1:{desk.settings.screen.port}/"
        _say(
            "\nCCCD check-in demo is running.\n"
            f"  Desk screen  : {screen}  (the receptionist's view at {codes[0]}; HIS API: {screen}his/docs)\n"
            f"  HIS token    : {desk.settings.his_token()}\n"
            f"  Dashboard    : http://127.0.0.1:{port}/dashboard  (sign in with the read token)\n"
            f"  Server API   : http://127.0.0.1:{port}/api/v1  (OpenAPI, with the token: /api/v1/openapi.json)\n"
            f"  Read token   : {token}\n"
            f"  Try          : curl -H 'Authorization: Bearer {token}' "
            f"'http://127.0.0.1:{port}/api/v1/coverage?level=district'\n"
            f"  MQTT broker  : {broker.url}\n"
            f"  Facilities   : {', '.join(codes)} ({len(codes) - readers} without a reader)\n"
            "Press Ctrl-C to stop.\n"
        )
        population = Population(seed)
        rng = random.Random(seed)
        sent = 0
        started = time.monotonic()
        try:
            while not stop.is_set():
                if duration is not None and time.monotonic() - started > duration:
                    break
                payload = population.citizen(rng.randrange(500)).qr_payload()
                if not fleet or rng.random() < 0.3:
                    desk.enqueue_qr(payload.encode())  # as if scanned at the desk with the screen
                else:
                    rng.choice(fleet).submit_qr(payload)
                sent += 1
                if sent % 10 == 0:
                    ingestor = getattr(app.state, "ingestor", None)
                    stored = int(ingestor.counters["stored"]) if ingestor else 0
                    _say(f"  {sent} check-ins sent, {stored} stored by the server")
                stop.wait(interval / max(1, readers))
        finally:
            _say("\nStopping...")
            for agent in (*fleet, desk):
                agent.stop()
            server.should_exit = True
            thread.join(10)
    _say(f"Demo stopped after {sent} check-ins. Data kept in {state_dir}")
    return 0


def _desk_agent(state_dir: Path, broker_url: str, facility: str, key: bytes) -> DeskAgent:
    key_file, his_file = state_dir / "pseudonym.key", state_dir / "his.token"
    write_secret_file(key_file, key)
    if not his_file.exists():
        write_secret_file(his_file, os.urandom(16))
    settings = EdgeSettings.load(
        None,
        facility_code=facility, reader_id="quay-1", pseudonym_key_file=key_file,
        state_dir=state_dir / "edge" / facility / "quay-1",
        mqtt={"url": broker_url, "client_id": f"demo-desk-{facility}"},
        chip={"enabled": False}, debounce_seconds=5,
        screen={"port": free_port(), "clear_after_seconds": 0}, his={"token_file": his_file},
    )
    return DeskAgent(settings, pseudonym_key=key)
