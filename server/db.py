"""The schema: registry (facilities, readers), check-in events and the rollups every query reads.

Events are de-duplicated by their id; the rollups (check-ins per facility, day, method
and trust level; distinct pseudonyms per facility and day) are updated in the same
transaction as the event, so counts never drift from events and no query scans them.
SQLite (WAL) is the embedded default; PostgreSQL is supported. The schema is owned by
the Alembic migrations in ``server/migrations``, applied (``upgrade head``) on start.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

FACILITY_TYPES = ("hospital", "health_station", "private_clinic")


class Base(DeclarativeBase):
    pass


class Facility(Base):
    __tablename__ = "facility"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(20))
    province: Mapped[str] = mapped_column(String(100))
    district: Mapped[str] = mapped_column(String(100))
    commune: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (Index("ix_facility_area", "province", "district"),)


class Reader(Base):
    __tablename__ = "reader"

    facility_code: Mapped[str] = mapped_column(String(32), ForeignKey("facility.code"), primary_key=True)
    reader_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mqtt_username: Mapped[str | None] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_checkin_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str | None] = mapped_column(String(8))
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the figures of the latest heartbeat (contract/heartbeat.py), for the fleet view and the alerts
    software_version: Mapped[str | None] = mapped_column(String(64))
    outbox_depth: Mapped[int | None] = mapped_column(Integer)
    outbox_oldest_age_s: Mapped[float | None] = mapped_column(Float)
    readers_attached: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    # the desk's clock offset measured on its latest check-in (docs/clock.md), and when
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    clock_offset_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReaderCert(Base):
    """A TLS client certificate issued to a reader by the device CA (server/ca.py): its serial
    goes on the CRL once revoked."""

    __tablename__ = "reader_cert"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # hex, as openssl prints it
    facility_code: Mapped[str] = mapped_column(String(32))
    reader_id: Mapped[str] = mapped_column(String(64))
    common_name: Mapped[str] = mapped_column(String(128))
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    not_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        ForeignKeyConstraint(["facility_code", "reader_id"], ["reader.facility_code", "reader.reader_id"]),
        Index("ix_reader_cert_reader", "facility_code", "reader_id"),
    )


class CheckInRow(Base):
    """The raw events: kept for audit and de-duplication; no query reads them."""

    __tablename__ = "checkin_event"

    event_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    facility_code: Mapped[str] = mapped_column(String(32))
    reader_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    local_day: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(8))
    trust_level: Mapped[str] = mapped_column(String(32))
    citizen_pseudonym: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # docs/clock.md: the desk's offset when it sent one, and its own read time when occurred_at was corrected
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    desk_occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = ({"sqlite_with_rowid": False},)


class DailyUsage(Base):
    """Check-ins per facility, day, method and trust level."""

    __tablename__ = "daily_usage"

    facility_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    trust_level: Mapped[str] = mapped_column(String(32), primary_key=True)
    checkins: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_daily_usage_day", "day"), {"sqlite_with_rowid": False})


class FacilityPeriod(Base):
    """One row per facility and calendar week, month, quarter or year in which it stored a card read.

    The covered-facility figures (the dashboard's weekly coverage, the report's facilities
    with a working reader) read these rows (one per facility and period) instead of probing
    every facility's days (server/store/periods.py).
    """

    __tablename__ = "facility_period"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    facility_code: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


class DailyCitizen(Base):
    """One row per pseudonym seen at a facility on a day: distinct citizens per period."""

    __tablename__ = "daily_citizen"

    facility_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    citizen_pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)

    # the writer's check "has this citizen another row in this area and period" (server/store/distinct.py)
    __table_args__ = (Index("ix_daily_citizen_pseudonym_day", "citizen_pseudonym", "day"), {"sqlite_with_rowid": False})


class AreaDistinct(Base):
    """Distinct citizens per scope (an area: the country, a province, a district, a facility type
    country-wide, in a province or in a district) and calendar period (day, ISO week, month,
    quarter, year), kept exact by the writer.

    Like ``area_daily_usage``, a check-in counts in the areas its facility belonged to when
    it was stored (server/store/distinct.py; docs/counting.md).
    """

    __tablename__ = "area_distinct"

    scope: Mapped[str] = mapped_column(String(320), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    citizens: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = ({"sqlite_with_rowid": False},)


class AreaDailyUsage(Base):
    """Check-ins per district (within its province), day, method and trust level.

    A facility's events count in the district it belonged to when they were stored.
    """

    __tablename__ = "area_daily_usage"

    province: Mapped[str] = mapped_column(String(100), primary_key=True)
    district: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    trust_level: Mapped[str] = mapped_column(String(32), primary_key=True)
    checkins: Mapped[int] = mapped_column(Integer, default=0)

    # a rowid table: its day index then finds rows cheaply for area-wide ranges
    __table_args__ = (Index("ix_area_daily_usage_day", "day"),)


class TypeDailyUsage(Base):
    """Check-ins and rejected attempts per district, facility type and day: the report's "by
    facility type" without summing every facility's rows (like ``area_daily_usage``, a facility's
    events count in the district and type it had when they were stored)."""

    __tablename__ = "type_daily_usage"

    province: Mapped[str] = mapped_column(String(100), primary_key=True)
    district: Mapped[str] = mapped_column(String(100), primary_key=True)
    facility_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    checkins: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_type_daily_usage_day", "day"),)


class FacilityMonthUsage(Base):
    """Card reads (check-ins and rejected attempts, as the API's ``checkins``) per facility and
    calendar month: a per-facility breakdown over months or years sums 12 rows a facility a year
    instead of every day's (server/store/queries.py)."""

    __tablename__ = "facility_month_usage"

    facility_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    checkins: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_facility_month_usage_month", "month"), {"sqlite_with_rowid": False})


class AreaCoverage(Base):
    """Covered facilities per district and calendar week, month, quarter or year: the number of
    ``facility_period`` rows of the district's facilities (the district each had when its first read
    of the period was stored), for the weekly coverage of an area without joining the registry."""

    __tablename__ = "area_coverage"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    province: Mapped[str] = mapped_column(String(100), primary_key=True)
    district: Mapped[str] = mapped_column(String(100), primary_key=True)
    facilities: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = ({"sqlite_with_rowid": False},)


class RefusedDaily(Base):
    """Refused messages per day and reason (never their payload)."""

    __tablename__ = "refused_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class QuarantineRow(Base):
    """A message acknowledged but not stored, and why: never its payload, only its size and hash."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(256))
    facility_code: Mapped[str | None] = mapped_column(String(32))
    reader_id: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    retained: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_quarantine_received_at", "received_at"),)


class DashboardSession(Base):
    """A signed-in dashboard browser (server/security.py): only the hash of its opaque id is kept."""

    __tablename__ = "dashboard_session"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_dashboard_session_expires_at", "expires_at"),)


class FailedAuth(Base):
    """Failed authentications per client address in its current window, and its lockout (shared by
    every server process)."""

    __tablename__ = "failed_auth"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_failed_auth_window_start", "window_start"),)


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before the broker gets its acknowledgement.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


MIGRATIONS = Path(__file__).with_name("migrations")


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration (``alembic upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    if engine.url.get_backend_name() == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
