"""What the alert rules watch: the fleet's state as Prometheus metrics.

All from the registry in the database, at scrape time: the readers that are silent
(announced offline, missed heartbeats, or never seen), the readers per area and state,
the facilities per district with a working reader, the covered facilities where nobody
has checked in for a day or more, and the outbox depth and age of each reader's latest
heartbeat (kept on its row by the writer). Every one of these is filtered and aggregated
by the database, so a scrape costs a few grouped queries however large the fleet is, and
only readers with a problem (silent, a non-empty outbox) get a series of their own.

Opening hours are exported as a 0/1 gauge computed in the deployment's zone, so the
"reader offline in opening hours" rule needs no UTC arithmetic in PromQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import Connection, and_, func, or_, select

from contract.status import OFFLINE_STATUSES
from server.store import EventStore
from server.store.areas import reader_state
from server.store.base import FACILITY, READER

#: Why a reader is not online; the same words as the readers API.
OFFLINE_REASONS = ("stopped", "last_will", "missed_heartbeats", "never_seen")
#: A covered facility is listed once nobody checked in there for this long (the alert waits longer).
QUIET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class OpeningHours:
    """When the facilities receive patients, in the deployment's zone (weekday 0 = Monday)."""

    timezone: str = "Asia/Ho_Chi_Minh"
    opens: int = 7
    closes: int = 17
    weekdays: frozenset[int] = frozenset(range(6))  # Monday to Saturday

    def open_at(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        return local.weekday() in self.weekdays and self.opens <= local.hour < self.closes


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class FleetCollector:
    """A Prometheus collector over the registry and the heartbeats."""

    def __init__(
        self,
        store: EventStore,
        *,
        offline_after: timedelta,
        coverage_days: int,
        target_ratio: float = 1.0,
        opening_hours: OpeningHours | None = None,
    ) -> None:
        self.store = store
        self.offline_after = offline_after
        self.coverage_days = coverage_days
        self.target_ratio = target_ratio
        self.opening_hours = opening_hours or OpeningHours()

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        yield GaugeMetricFamily(
            "cccd_opening_hours", "1 while facilities receive patients (in the deployment's zone), else 0",
            value=1 if self.opening_hours.open_at(now) else 0,
        )
        yield GaugeMetricFamily("cccd_coverage_target_ratio", "the target share of facilities with a working reader",
                                value=self.target_ratio)
        yield from self._coverage()
        with self.store.engine.connect() as conn:
            yield from self._readers(conn, now)
            yield from self._quiet_facilities(conn, now)
            yield from self._outboxes(conn)

    def _readers(self, conn: Connection, now: datetime) -> Iterator[Metric]:
        state = reader_state(now - self.offline_after).label("state")
        counts = GaugeMetricFamily("cccd_readers", "registered readers per area and state",
                                   labels=["province", "district", "state"])
        query = (
            select(FACILITY.c.province, FACILITY.c.district, state, func.count())
            .select_from(READER.join(FACILITY, FACILITY.c.code == READER.c.facility_code))
            .group_by(FACILITY.c.province, FACILITY.c.district, state)
        )
        for province, district, st, n in conn.execute(query):
            counts.add_metric([province, district, st], int(n))
        yield counts
        silent = GaugeMetricFamily(
            "cccd_reader_silent_seconds", "seconds since a reader not online was last heard (or registered)",
            labels=["facility", "reader", "province", "district", "reason"],
        )
        cutoff = now - self.offline_after
        query = (
            select(READER.c.facility_code, READER.c.reader_id, FACILITY.c.province, FACILITY.c.district,
                   reader_state(cutoff).label("state"),
                   func.coalesce(READER.c.last_seen_at, READER.c.registered_at).label("since"))
            .select_from(READER.join(FACILITY, FACILITY.c.code == READER.c.facility_code))
            .where(or_(READER.c.status.in_(OFFLINE_STATUSES), READER.c.last_seen_at.is_(None),
                       READER.c.last_seen_at < cutoff))
        )
        for r in conn.execute(query):
            since = _utc(r.since) or now
            silent.add_metric([r.facility_code, r.reader_id, r.province, r.district, r.state],
                              max(0.0, (now - since).total_seconds()))
        yield silent

    def _coverage(self) -> Iterator[Metric]:
        # the store's one definition of a covered facility (a reader heard within the window)
        coverage = self.store.coverage("district", self.coverage_days)
        total = GaugeMetricFamily("cccd_district_facilities", "registered facilities per district",
                                  labels=["province", "district"])
        with_reader = GaugeMetricFamily(
            "cccd_district_facilities_covered",
            "facilities per district with a reader heard within the coverage window",
            labels=["province", "district"],
        )
        for area in coverage.areas:
            labels = [area.province, area.district or ""]
            total.add_metric(labels, area.facilities)
            with_reader.add_metric(labels, area.covered)
        yield total
        yield with_reader

    def _quiet_facilities(self, conn: Connection, now: datetime) -> Iterator[Metric]:
        cutoff = now - timedelta(days=self.coverage_days)
        last_checkin = func.max(READER.c.last_checkin_at)
        query = (
            select(FACILITY.c.code, FACILITY.c.province, FACILITY.c.district,
                   func.coalesce(last_checkin, func.min(READER.c.registered_at)).label("since"))
            .select_from(READER.join(FACILITY, FACILITY.c.code == READER.c.facility_code))
            .group_by(FACILITY.c.code, FACILITY.c.province, FACILITY.c.district)
            .having(and_(
                or_(last_checkin >= cutoff, func.max(READER.c.last_heartbeat_at) >= cutoff),
                or_(last_checkin.is_(None), last_checkin < now - QUIET_AFTER),
            ))
        )
        quiet = GaugeMetricFamily(
            "cccd_facility_checkin_silence_seconds",
            "covered facilities (a reader heard) with no check-in for a day or more: seconds since the last one",
            labels=["facility", "province", "district"],
        )
        for r in conn.execute(query):
            since = _utc(r.since) or now
            quiet.add_metric([r.code, r.province, r.district], max(0.0, (now - since).total_seconds()))
        yield quiet

    def _outboxes(self, conn: Connection) -> Iterator[Metric]:
        depth = GaugeMetricFamily("cccd_reader_outbox_depth", "events waiting in a reader's outbox (last heartbeat)",
                                  labels=["facility", "reader"])
        age = GaugeMetricFamily(
            "cccd_reader_outbox_oldest_age_seconds", "age of the oldest event in a reader's outbox (last heartbeat)",
            labels=["facility", "reader"],
        )
        query = (
            select(READER.c.facility_code, READER.c.reader_id, READER.c.outbox_depth, READER.c.outbox_oldest_age_s)
            .where(READER.c.outbox_depth > 0)
            .order_by(READER.c.facility_code, READER.c.reader_id)
        )
        for r in conn.execute(query):
            depth.add_metric([r.facility_code, r.reader_id], int(r.outbox_depth))
            age.add_metric([r.facility_code, r.reader_id], float(r.outbox_oldest_age_s or 0.0))
        yield depth
        yield age
        total = conn.execute(select(func.coalesce(func.sum(READER.c.outbox_depth), 0))).scalar_one()
        yield GaugeMetricFamily("cccd_fleet_outbox_events", "events waiting in all readers' outboxes",
                                value=int(total))
