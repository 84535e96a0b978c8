"""The desk web: the receptionist's screen and the local HIS API (uvicorn on loopback)."""

from __future__ import annotations

import time
from collections.abc import Callable

import uvicorn

from app.components import ComponentState, Worker
from edge.config import ScreenSettings
from edge.desk.app import create_desk_app
from edge.desk.hub import DeskHub


class DeskWeb(Worker):
    """Serves the screen; started() returns once the port is bound (or after 10 s)."""

    def __init__(self, hub: DeskHub, settings: ScreenSettings, *, his_token: str | None,
                 on_can: Callable[[str], None]) -> None:
        super().__init__("desk-web", stall_seconds=float("inf"))  # uvicorn's loop reports no beats
        app = create_desk_app(hub, his_token=his_token, on_can=on_can)
        self._config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                      access_log=False)
        self._server = uvicorn.Server(self._config)  # off the main thread uvicorn leaves the signals alone

    def run(self) -> None:
        self._server.run()

    def start(self) -> None:
        self._server = uvicorn.Server(self._config)  # a server object serves once: a fresh one per start
        super().start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline and super().state() is ComponentState.RUNNING:
            time.sleep(0.05)

    def on_stop(self) -> None:
        self._server.should_exit = True

    def state(self) -> ComponentState:
        state = super().state()
        if state is ComponentState.FINISHED:  # uvicorn returns by itself only when it could not serve
            return ComponentState.FAILED
        return state
