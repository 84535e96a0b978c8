"""The desk web: the receptionist's screen and the local HIS API (uvicorn on loopback)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import uvicorn

from app.components import ComponentState, Worker
from edge.config import ScreenSettings
from edge.desk.access import ScreenAccess
from edge.desk.app import DeskActions, create_desk_app
from edge.desk.hub import DeskHub

log = logging.getLogger(__name__)


class DeskWeb(Worker):
    """Serves the screen; started() returns once the port is bound (or after 10 s)."""

    def __init__(self, hub: DeskHub, settings: ScreenSettings, *, his_token: str | None,
                 actions: DeskActions, screen_token: str | None = None,
                 aim_jpeg: Callable[[], bytes | None] | None = None) -> None:
        super().__init__("desk-web", stall_seconds=float("inf"))  # uvicorn's loop reports no beats
        tls = settings.tls_cert_file is not None and settings.tls_key_file is not None
        # The screen answers its own names only: loopback, the listen address, the configured LAN names.
        wildcard = settings.host in ("0.0.0.0", "::")
        access = ScreenAccess.for_names([*([] if wildcard else [settings.host]), *settings.names],
                                        token=screen_token, secure=tls)
        # The aiming view only in technician mode: off, the desk web serves no camera frames.
        app = create_desk_app(hub, his_token=his_token, actions=actions, access=access,
                              aim_jpeg=aim_jpeg if settings.technician_mode else None)
        self._config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                      access_log=False,
                                      ssl_certfile=str(settings.tls_cert_file) if tls else None,
                                      ssl_keyfile=str(settings.tls_key_file) if tls else None)
        shown = "127.0.0.1" if wildcard else settings.host
        self.url = f"{'https' if tls else 'http'}://{shown}:{settings.port}/"
        self._server = uvicorn.Server(self._config)  # off the main thread uvicorn leaves the signals alone

    def run(self) -> None:
        self._server.run()

    def start(self) -> None:
        self._server = uvicorn.Server(self._config)  # a server object serves once: a fresh one per start
        super().start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline and super().state() is ComponentState.RUNNING:
            time.sleep(0.05)
        if self._server.started:
            log.info("the receptionist's screen: %s", self.url)

    def on_stop(self) -> None:
        self._server.should_exit = True

    def state(self) -> ComponentState:
        state = super().state()
        if state is ComponentState.FINISHED:  # uvicorn returns by itself only when it could not serve
            return ComponentState.FAILED
        return state
