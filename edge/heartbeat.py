"""The reader's heartbeat: what the province needs to see that a desk is alive and well.

Published periodically on ``cccd/v1/<facility>/<reader>/heartbeat`` as the contract's
:class:`contract.heartbeat.Heartbeat` (the model the server reads it with); carries no
personal data — software version, readers attached, the outbox's depth, age, free space and
alarms, whether the desk's clock is synchronised, the link's counters, the last scan
time, recent errors, and the state of each part of the agent.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from contract.heartbeat import MAX_ERRORS, MAX_READERS, Heartbeat


@functools.cache  # importlib.metadata scans the installed distributions: ~4 ms a call
def software_version() -> str:
    try:
        return version("cccd-reader")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class HealthSnapshot:
    facility_code: str
    reader_id: str
    readers: list[str] = field(default_factory=list)
    outbox_depth: int = 0
    outbox_oldest_age_s: float | None = None
    outbox_alarm: bool = False
    outbox_alarms: list[str] = field(default_factory=list)  # codes: outbox.write_failed, outbox.disk_full, ...
    outbox_free_bytes: int | None = None
    outbox_write_failures: int = 0
    clock: dict[str, object] = field(default_factory=dict)  # edge.clock.ClockState.to_dict()
    link: dict[str, object] = field(default_factory=dict)  # the publisher's counters
    last_scan_at: datetime | None = None
    errors: list[str] = field(default_factory=list)
    components: dict[str, str] = field(default_factory=dict)  # component name -> its state
    restarts: dict[str, int] = field(default_factory=dict)  # component name -> times it was restarted
    started_at: float = field(default_factory=time.monotonic)

    def note_error(self, text: str) -> None:
        """Keep one of the recent errors the heartbeat reports (no personal data in ``text``)."""
        self.errors.append(f"{datetime.now(UTC).isoformat()} {text}")
        del self.errors[:-20]

    def to_json_bytes(self) -> bytes:
        """The heartbeat as the contract defines it (the model the server reads it with)."""
        return Heartbeat(
            facility_code=self.facility_code, reader_id=self.reader_id, sent_at=datetime.now(UTC),
            software_version=software_version(), uptime_s=round(time.monotonic() - self.started_at, 1),
            readers=self.readers[-MAX_READERS:], outbox_depth=self.outbox_depth,
            outbox_oldest_age_s=None if self.outbox_oldest_age_s is None else round(self.outbox_oldest_age_s, 1),
            outbox_alarm=self.outbox_alarm, outbox_alarms=self.outbox_alarms, outbox_free_bytes=self.outbox_free_bytes,
            outbox_write_failures=self.outbox_write_failures, clock=self.clock, link=self.link,
            last_scan_at=self.last_scan_at, errors=self.errors[-MAX_ERRORS:], components=self.components,
            restarts=self.restarts,
        ).to_json_bytes()
