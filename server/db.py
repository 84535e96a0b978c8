"""Storage: the check-in events and the daily rollups that every query reads.

Events are de-duplicated by their id; the rollups (check-ins per facility, day, method
and trust level; distinct pseudonyms per facility and day) are updated in the same
transaction as the event, so counts never drift from events and no query scans them.
SQLite (WAL) is the embedded default; PostgreSQL is supported.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Engine, Integer, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CheckInRow(Base):
    __tablename__ = "checkin_event"

    event_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    facility_code: Mapped[str] = mapped_column(String(32), index=True)
    reader_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    local_day: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(8))
    trust_level: Mapped[str] = mapped_column(String(32))
    citizen_pseudonym: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DailyUsage(Base):
    """Check-ins per facility, day, method and trust level."""

    __tablename__ = "daily_usage"

    facility_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    trust_level: Mapped[str] = mapped_column(String(32), primary_key=True)
    checkins: Mapped[int] = mapped_column(Integer, default=0)


class DailyCitizen(Base):
    """One row per pseudonym seen at a facility on a day: distinct citizens per period."""

    __tablename__ = "daily_citizen"

    facility_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    citizen_pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before the broker gets its acknowledgement.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_db(engine: Engine) -> None:
    Base.metadata.create_all(engine)
