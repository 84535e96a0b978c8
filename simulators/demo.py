"""The demo: a broker, the server and a few simulated readers producing check-ins.

Everything runs on this machine on free loopback ports, with the embedded defaults
(SQLite); it prints where to look and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import threading
import time
from pathlib import Path

import uvicorn

from edge.domain.qr import today_in_vietnam
from server.api import create_app
from server.settings import ServerSettings
from simulators.fleet import facility_codes, make_agent
from simulators.population import Population
from simulators.services import Mosquitto, free_port

log = logging.getLogger("demo")


def run_demo(state_dir: Path, *, readers: int = 3, interval: float = 2.0, seed: int = 1,
             duration: float | None = None) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    with Mosquitto(workdir=None) as broker:
        token = secrets.token_urlsafe(24)
        port = free_port()
        settings = ServerSettings.load(
            None,
            database_url=f"sqlite:///{state_dir / 'server.sqlite'}",
            mqtt={"url": broker.url, "client_id": "cccd-server-demo"},
            api={"host": "127.0.0.1", "port": port, "read_tokens": [token]},
            # the simulated readers are not in a registry: let the demo server register them
            registry={"auto_register": True},
        )
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)

        key = os.urandom(32)
        codes = facility_codes(readers)
        agents = [make_agent(code, "desk-1", broker.url, state_dir / "edge", key, state_dir / "k") for code in codes]
        for agent in agents:
            agent.start()

        today = today_in_vietnam().isoformat()
        print(
            "\nCCCD check-in demo is running.\n"
            f"  MQTT broker : {broker.url}\n"
            f"  Server API  : http://127.0.0.1:{port}/api/v1  (OpenAPI: http://127.0.0.1:{port}/docs)\n"
            f"  Read token  : {token}\n"
            f"  Try         : curl -H 'Authorization: Bearer {token}' "
            f"'http://127.0.0.1:{port}/api/v1/usage?facility={codes[0]}&from={today}&to={today}'\n"
            f"  Readers     : {', '.join(codes)} (one simulated desk each, a check-in every ~{interval:g} s)\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        population = Population(seed)
        rng = random.Random(seed)
        sent = 0
        started = time.monotonic()
        try:
            while not stop.is_set():
                if duration is not None and time.monotonic() - started > duration:
                    break
                agent = rng.choice(agents)
                agent.submit_qr(population.citizen(rng.randrange(500)).qr_payload())
                sent += 1
                if sent % 10 == 0:
                    stored = app_counter(server)
                    print(f"  {sent} check-ins sent, {stored} stored by the server", flush=True)
                stop.wait(interval / max(1, len(agents)))
        finally:
            print("\nStopping...", flush=True)
            for agent in agents:
                agent.stop()
            server.should_exit = True
            thread.join(10)
    print(f"Demo stopped after {sent} check-ins. Data kept in {state_dir}", flush=True)
    return 0


def app_counter(server: uvicorn.Server) -> int:
    app = server.config.app
    ingestor = getattr(app.state, "ingestor", None)
    return int(ingestor.counters["stored"]) if ingestor else 0
