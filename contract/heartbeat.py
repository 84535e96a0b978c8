"""The heartbeat on the wire: what a desk reports every minute about itself, and how the server reads it.

Published by the desk (``edge.heartbeat.HealthSnapshot`` builds it) on
``cccd/v1/<facility>/<reader>/heartbeat``, QoS 1, never retained; it carries no personal
data. The server keeps a few of its figures (software version, outbox, card readers,
last error: :class:`HeartbeatFigures`, the base of :class:`Heartbeat`) in the reader's
registry row, and parses only those. One model for both sides: the desk cannot
send a heartbeat the server would not read. Lists are bounded so that a reader cannot
make the registry row (or the server's memory) grow; fields the server does not know
(a newer desk) are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
MAX_ERROR = 200  # characters of the last error the registry keeps
MAX_ERRORS = 10  # recent errors a heartbeat carries
MAX_READERS = 16  # card readers attached to one desk


class HeartbeatFigures(BaseModel):
    """The heartbeat's figures that the server keeps; parsing only these skips the rest of
    the payload (the desk's clock, link and component states) at a third of the cost."""

    model_config = ConfigDict(extra="ignore")

    software_version: str = Field("", max_length=64)
    readers: list[str] = Field(default_factory=list, max_length=MAX_READERS)
    outbox_depth: int = Field(0, ge=0, le=100_000_000)
    outbox_oldest_age_s: float | None = Field(None, ge=0, le=10 * 365 * 86400)
    outbox_alarm: bool = False
    errors: list[str] = Field(default_factory=list, max_length=MAX_ERRORS)

    @classmethod
    def parse(cls, payload: bytes) -> Self | None:
        """The heartbeat (these fields of it), or None for a payload that is not one (still a sign of life)."""
        try:
            return cls.model_validate_json(payload)
        except (ValueError, ValidationError):
            return None

    @property
    def last_error(self) -> str | None:
        """The newest error, cut to what the registry keeps, control characters removed."""
        if not self.errors:
            return None
        return "".join(ch for ch in self.errors[-1] if ch.isprintable())[:MAX_ERROR] or None


class Heartbeat(HeartbeatFigures):
    """One heartbeat, contract v1: the figures and everything else the desk reports."""

    schema_version: int = SCHEMA_VERSION
    facility_code: str = Field("", max_length=64)
    reader_id: str = Field("", max_length=64)
    sent_at: datetime | None = None
    uptime_s: float | None = None
    outbox_alarms: list[str] = Field(default_factory=list, max_length=16)  # codes: outbox.disk_full, ...
    outbox_free_bytes: int | None = None
    outbox_write_failures: int = 0
    clock: dict[str, object] = Field(default_factory=dict)  # the desk's clock sync state
    link: dict[str, object] = Field(default_factory=dict)  # the desk publisher's counters
    last_scan_at: datetime | None = None
    components: dict[str, str] = Field(default_factory=dict)  # component name -> its state
    restarts: dict[str, int] = Field(default_factory=dict)  # component name -> times restarted

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()
