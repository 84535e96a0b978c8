"""Availability: the desk's status line on the screen and the heartbeat to the province.

A worker that refreshes the status (link, outbox depth and alarm, last scan) about once
a second, or at once when poked after a scan, and publishes the heartbeat every
``heartbeat_seconds``. The retained ``online``/``offline`` availability itself is the
publisher's birth message and last will.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime

from app.components import Worker
from edge.clock import ClockState, clock_state
from edge.config import EdgeSettings
from edge.desk.hub import DeskHub
from edge.domain.messages import MESSAGES, Message
from edge.events import heartbeat_topic
from edge.heartbeat import HealthSnapshot
from edge.outbox import Outbox
from edge.publisher import OutboxPublisher

log = logging.getLogger(__name__)


def _message(code: str) -> Message:
    return MESSAGES[code] if code in MESSAGES else MESSAGES["outbox.alarm"]


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
        restarts: Callable[[], dict[str, int]] = dict,
        clock: Callable[[], ClockState] = clock_state,
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
        self._restarts = restarts
        self._poke = threading.Event()
        self._alarms: list[str] = []
        self._clock = clock
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

    def alarms(self, depth: int, oldest_age: float | None, free: int | None) -> list[str]:
        """The outbox's alarm codes, the most urgent first (the screen shows the first)."""
        limits = self.settings.outbox
        codes = []
        if self.outbox.write_failing:
            codes.append("outbox.write_failed")
        if free is not None and free < limits.alarm_free_bytes:
            codes.append("outbox.disk_full")
        if depth >= limits.alarm_depth or (oldest_age is not None and oldest_age >= limits.alarm_age_seconds):
            codes.append("outbox.alarm")
        return codes

    def refresh(self) -> None:
        try:
            depth, oldest_age = self.outbox.depth(), self.outbox.oldest_age()
        except sqlite3.Error as exc:  # a failing disk: the status says so, the thread goes on
            log.error("cannot read the outbox: %s", exc.__class__.__name__)
            depth, oldest_age = self.health.outbox_depth, self.health.outbox_oldest_age_s
        free = self.outbox.free_bytes()
        alarms = self.alarms(depth, oldest_age, free)
        if alarms and alarms != self._alarms:
            log.error("outbox alarm %s: %d events wait, oldest %.0f s, %s bytes free; none is dropped",
                      ",".join(alarms), depth, oldest_age or 0, free)
        self._alarms = alarms
        last_scan = self._last_scan_at()
        link = self.publisher.state
        self.health.outbox_depth = depth
        self.health.outbox_oldest_age_s = oldest_age
        self.health.outbox_alarm = bool(alarms)
        self.health.outbox_alarms = alarms
        self.health.outbox_free_bytes = free
        self.health.outbox_write_failures = self.outbox.write_failures
        self.health.clock = self._clock().to_dict()
        self.health.link = {
            "connected": link.connected, "published": link.published, "acknowledged": link.acknowledged,
            "refused": link.refused, "confirmed": link.confirmed, "resent": link.resent,
            "receipts": link.receipts, "connections": link.connections, "outbox_errors": link.outbox_errors,
        }
        self.health.last_scan_at = last_scan
        self.health.readers = self._readers()
        self.health.components = self._component_states()
        self.health.restarts = self._restarts()
        message = _message(alarms[0]) if alarms else None
        self.hub.set_status(
            connected=link.connected,
            outbox_depth=depth,
            last_scan_at=last_scan.isoformat() if last_scan else None,
            alarm={"code": alarms[0], "vi": message.vi, "en": message.en} if message and alarms else None,
            clock=self.health.clock,
        )

    def send_heartbeat(self) -> bool:
        return self.publisher.publish_now(
            heartbeat_topic(self.settings.facility_code, self.settings.reader_id),
            self.health.to_json_bytes(), qos=1,
        )
