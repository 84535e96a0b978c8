"""What the server keeps of a reader's heartbeat: software version, outbox, card readers, last error.

The desk publishes the heartbeat (``edge/heartbeat.py``) on ``cccd/v1/<facility>/<reader>/heartbeat``;
it carries no personal data. A heartbeat that does not parse is still a sign of life; its
figures are then left as they were.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_ERROR = 200


class HeartbeatReport(BaseModel):
    """The heartbeat's figures, bounded (a reader cannot make the registry row grow)."""

    model_config = ConfigDict(extra="ignore")

    software_version: str = Field("", max_length=64)
    readers: list[str] = Field(default_factory=list, max_length=16)
    outbox_depth: int = Field(0, ge=0, le=100_000_000)
    outbox_oldest_age_s: float | None = Field(None, ge=0, le=10 * 365 * 86400)
    outbox_alarm: bool = False
    errors: list[str] = Field(default_factory=list, max_length=10)

    @classmethod
    def parse(cls, payload: bytes) -> HeartbeatReport | None:
        """The report, or None for a payload that is not one."""
        try:
            return cls.model_validate(json.loads(payload))
        except (ValueError, ValidationError):
            return None

    @property
    def last_error(self) -> str | None:
        """The newest error, cut to what the registry keeps, control characters removed."""
        if not self.errors:
            return None
        return "".join(ch for ch in self.errors[-1] if ch.isprintable())[:MAX_ERROR] or None
