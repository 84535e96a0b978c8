"""The API's response models: what the read queries return and the routes answer (and the OpenAPI schema shows).

Datetimes are UTC ISO strings, dates ISO dates; ``from`` is a keyword in Python, so
the models name it ``from_`` and answer it as ``from``.
"""

from __future__ import annotations

from datetime import date
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Level(str, Enum):
    district = "district"
    province = "province"


class GroupBy(str, Enum):
    day = "day"
    week = "week"
    month = "month"


class Breakdown(str, Enum):
    facility = "facility"
    district = "district"


class Format(str, Enum):
    json = "json"
    csv = "csv"


class OfflineReason(str, Enum):
    stopped = "stopped"  # the desk said so on a clean stop (contract.status)
    last_will = "last_will"  # the broker's will: the connection was lost
    missed_heartbeats = "missed_heartbeats"
    never_seen = "never_seen"


class Row(BaseModel):
    """A response row: serialised by alias (``from``), built by field name."""

    model_config = ConfigDict(populate_by_name=True)


class FacilityOut(Row):
    code: str
    name: str
    type: str
    province: str
    district: str
    commune: str


#: The registry as one list: validated and serialised in one call each (40,000 facilities: a
#: third of the time of row by row, and no second validation by the route's response model).
FACILITY_LIST = TypeAdapter(list[FacilityOut])


class UncoveredFacility(FacilityOut):
    readers: int = Field(description="registered readers of the facility (0: none registered yet)")


class ReaderOut(Row):
    facility_code: str
    reader_id: str
    mqtt_username: str | None
    registered_at: str | None
    last_checkin_at: str | None
    last_heartbeat_at: str | None
    last_seen_at: str | None
    status: str | None
    status_at: str | None
    province: str
    district: str
    facility_name: str
    online: bool
    offline_reason: OfflineReason | None


class CoverageArea(Row):
    province: str
    district: str | None = None
    facilities: int
    covered: int
    ratio: float
    missing_to_target: int


class CoverageTotal(Row):
    facilities: int
    covered: int
    ratio: float
    missing_to_target: int


class Coverage(Row):
    level: Level
    window_days: int
    target_ratio: float
    areas: list[CoverageArea]
    total: CoverageTotal


#: A distinct figure that may be missing (server/store/distinct.py: a range too costly to count exactly).
_UNCOUNTED = "null when it could not be counted exactly in time: see distinct_citizens_note"


class UsagePeriod(Row):
    period: str = Field(description="first day of the period (ISO weeks start on Monday)")
    checkins: int
    distinct_citizens: int | None = Field(description=_UNCOUNTED)
    by_method: dict[str, int]
    by_trust: dict[str, int]


class UsageDay(Row):
    day: str
    checkins: int
    distinct_citizens: int | None = Field(description=_UNCOUNTED)


class FacilityUsage(Row):
    code: str
    name: str
    province: str
    district: str
    checkins: int


class DistrictUsage(Row):
    province: str
    district: str
    checkins: int


class Usage(Row):
    facility: str | None
    district: str | None
    province: str | None
    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    periods: list[UsagePeriod]
    total_checkins: int
    distinct_citizens: int | None = Field(description=_UNCOUNTED)
    distinct_citizens_note: str | None = Field(None, description="why a distinct figure is null")
    by_method: dict[str, int]
    by_trust: dict[str, int]
    days: list[UsageDay] | None = Field(None, description="per day (group_by=day only)")
    breakdown: list[FacilityUsage] | list[DistrictUsage] | None = Field(
        None, description="totals per facility or district (with breakdown=)"
    )


class CitizensPeriod(Row):
    period: str
    distinct_citizens: int | None = Field(description=_UNCOUNTED)


class Citizens(Row):
    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    periods: list[CitizensPeriod]
    distinct_citizens: int | None = Field(description=_UNCOUNTED)
    distinct_citizens_note: str | None = Field(None, description="why a distinct figure is null")


class Imported(Row):
    imported: int


class HealthStatus(str, Enum):
    ok = "ok"
    degraded = "degraded"


class HealthReason(Row):
    code: str = Field(description="store_retrying | quarantine_rising | broker_disconnected | ingest_unreachable")
    detail: str
    since_seconds: float | None = Field(None, description="how long ago it started (or last happened)")


class Health(Row):
    status: HealthStatus = Field(description="ok, or degraded (then reasons say why)")
    reasons: list[HealthReason] = []
    mqtt_connected: bool
    mqtt_subscribed: bool
    oldest_unacknowledged_seconds: float | None = Field(
        None, description="age of the oldest message received and not yet acknowledged (stored)"
    )
    quarantined: dict[str, int] = Field(default_factory=dict, description="quarantined since start, by reason")
    ingest: dict[str, int]


class QuarantineOut(Row):
    received_at: str
    reason: str
    topic: str
    facility_code: str | None
    reader_id: str | None
    size: int
    payload_sha256: str
    retained: bool
