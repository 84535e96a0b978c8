"""Writing events and reading counts: the server's core, with no MQTT and no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from edge.events import CheckInEvent
from server.db import CheckInRow, DailyCitizen, DailyUsage


def _insert(session: Session, table):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT for the engine's dialect."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0


class EventStore:
    """Stores events exactly once and keeps the rollups in the same transaction."""

    def __init__(self, engine: Engine, timezone_name: str = "Asia/Ho_Chi_Minh") -> None:
        self.engine = engine
        self.tz = ZoneInfo(timezone_name)

    def store(self, events: list[CheckInEvent]) -> StoreResult:
        """Store a batch in one transaction; duplicates (by event id) change nothing."""
        result = StoreResult()
        now = datetime.now(timezone.utc)
        with Session(self.engine) as session, session.begin():
            for ev in events:
                day = ev.occurred_at.astimezone(self.tz).date()
                inserted = session.execute(
                    _insert(session, CheckInRow.__table__)
                    .values(
                        event_id=ev.event_id,
                        facility_code=ev.facility_code,
                        reader_id=ev.reader_id,
                        occurred_at=ev.occurred_at,
                        local_day=day,
                        method=ev.method.value,
                        trust_level=ev.trust_level.value,
                        citizen_pseudonym=ev.citizen_pseudonym,
                        received_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["event_id"])
                ).rowcount
                if not inserted:
                    result.duplicates += 1
                    continue
                result.stored += 1
                stmt = _insert(session, DailyUsage.__table__).values(
                    facility_code=ev.facility_code,
                    day=day,
                    method=ev.method.value,
                    trust_level=ev.trust_level.value,
                    checkins=1,
                )
                session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["facility_code", "day", "method", "trust_level"],
                        set_={"checkins": DailyUsage.__table__.c.checkins + 1},
                    )
                )
                session.execute(
                    _insert(session, DailyCitizen.__table__)
                    .values(facility_code=ev.facility_code, day=day, citizen_pseudonym=ev.citizen_pseudonym)
                    .on_conflict_do_nothing()
                )
        return result

    def usage(self, facility_code: str, start: date, end: date) -> dict:
        """Check-ins per day and distinct citizens for one facility, ``start``..``end`` inclusive."""
        with Session(self.engine) as session:
            per_day = session.execute(
                select(DailyUsage.day, func.sum(DailyUsage.checkins))
                .where(DailyUsage.facility_code == facility_code, DailyUsage.day.between(start, end))
                .group_by(DailyUsage.day)
                .order_by(DailyUsage.day)
            ).all()
            distinct_per_day = dict(
                session.execute(
                    select(DailyCitizen.day, func.count())
                    .where(DailyCitizen.facility_code == facility_code, DailyCitizen.day.between(start, end))
                    .group_by(DailyCitizen.day)
                ).all()
            )
            distinct_total = session.execute(
                select(func.count(func.distinct(DailyCitizen.citizen_pseudonym))).where(
                    DailyCitizen.facility_code == facility_code, DailyCitizen.day.between(start, end)
                )
            ).scalar_one()
        days = [
            {"day": day.isoformat(), "checkins": int(total), "distinct_citizens": int(distinct_per_day.get(day, 0))}
            for day, total in per_day
        ]
        return {
            "facility": facility_code,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "days": days,
            "total_checkins": sum(d["checkins"] for d in days),
            "distinct_citizens": int(distinct_total),
        }
