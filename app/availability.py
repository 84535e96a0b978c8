"""Availability: the desk's status line on the screen and the heartbeat to the province.

A worker that refreshes the status (link, outbox depth and alarm, last scan) about once
a second, or at once when poked after a scan, and publishes the heartbeat every
``heartbeat_seconds``. The retained ``online``/``offline`` availability itself is the
publisher's birth message and last will.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from app.components import Worker
from edge.config import EdgeSettings
from edge.desk.hub import DeskHub
from edge.domain.messages import MESSAGES
from edge.events import heartbeat_topic
from edge.heartbeat import HealthSnapshot
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher

log = logging.getLogger(__name__)


class Availability(Worker):
    """Keeps the screen's status and the heartbeat current."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        outbox: Outbox,
        publisher: OutboxPublisher,
        hub: DeskHub,
        health: HealthSnapshot,
        last_scan_at: Callable[[], datetime | None],
        readers: Callable[[], list[str]],
        component_states: Callable[[], dict[str, str]],
    ) -> None:
        super().__init__("availability")
        self.settings = settings
        self.outbox = outbox
        self.publisher = publisher
        self.hub = hub
        self.health = health
        self._last_scan_at = last_scan_at
        self._readers = readers
        self._component_states = component_states
        self._poke = threading.Event()
        self._alarm = False
        self._last_heartbeat = 0.0

    def poke(self) -> None:
        """Refresh now (after a scan), not at the next tick."""
        self._poke.set()

    def run(self) -> None:
        # The first heartbeat after one period: the retained "online" already says the desk is up.
        self._last_heartbeat = time.monotonic()
        while not self.stopping.is_set():
            self.beat()
            self.refresh()
            now = time.monotonic()
            # Not sent (no link): tried again at the next tick, not a whole period later.
            if now - self._last_heartbeat >= self.settings.heartbeat_seconds and self.send_heartbeat():
                self._last_heartbeat = now
            self._poke.wait(1.0)
            self._poke.clear()

    def on_stop(self) -> None:
        self._poke.set()

    def refresh(self) -> None:
        depth = self.outbox.depth()
        alarm = depth >= self.settings.outbox.alarm_depth
        if alarm and not self._alarm:
            log.error("outbox alarm: %d events wait for the broker (bound %d); none is dropped",
                      depth, self.settings.outbox.alarm_depth)
        self._alarm = alarm
        last_scan = self._last_scan_at()
        self.health.outbox_depth = depth
        self.health.outbox_oldest_age_s = self.outbox.oldest_age()
        self.health.outbox_alarm = alarm
        self.health.last_scan_at = last_scan
        self.health.readers = self._readers()
        self.health.components = self._component_states()
        message = MESSAGES["outbox.alarm"] if alarm else None
        self.hub.set_status(
            connected=self.publisher.state.connected,
            outbox_depth=depth,
            last_scan_at=last_scan.isoformat() if last_scan else None,
            alarm={"vi": message.vi, "en": message.en} if message else None,
        )

    def send_heartbeat(self) -> bool:
        return self.publisher.publish_now(
            heartbeat_topic(self.settings.facility_code, self.settings.reader_id),
            self.health.to_json_bytes(), qos=1,
        )
