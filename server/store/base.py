"""What the writer, the registry and the queries share: the tables, the clock and the dialect's upsert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from server.db import (
    AreaCoverage,
    AreaDailyUsage,
    AreaDistinct,
    CheckInRow,
    DailyCitizen,
    DailyUsage,
    DashboardSession,
    Facility,
    FacilityMonthUsage,
    FacilityPeriod,
    FailedAuth,
    QuarantineRow,
    Reader,
    ReaderCert,
    RefusedDaily,
    TypeDailyUsage,
)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


EVENTS = _table(CheckInRow)
USAGE = _table(DailyUsage)
AREA = _table(AreaDailyUsage)
AREA_TYPE = _table(TypeDailyUsage)
AREA_COVERAGE = _table(AreaCoverage)
AREA_DISTINCT = _table(AreaDistinct)
CITIZEN = _table(DailyCitizen)
REFUSED = _table(RefusedDaily)
FACILITY = _table(Facility)
FACILITY_PERIOD = _table(FacilityPeriod)
FACILITY_MONTH = _table(FacilityMonthUsage)
READER = _table(Reader)
QUARANTINE = _table(QuarantineRow)
SESSIONS = _table(DashboardSession)
FAILURES = _table(FailedAuth)
READER_CERT = _table(ReaderCert)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Stored datetimes are UTC; SQLite gives them back naive."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_rows(dialect: str) -> tuple[str, str]:
    """A statement's rows as one JSON array parameter (the writer's one-statement-per-table batches):
    the FROM item and the expression of one row, whose ``->>i`` is its i-th value as text."""
    if dialect == "postgresql":
        return "json_array_elements(%s::json) AS e", "e"
    return "json_each(?) AS j", "j.value"


def upsert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT for the engine's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class StoreBase:
    """An engine and the day boundary (the deployment's time zone)."""

    def __init__(self, engine: Engine, timezone_name: str = "Asia/Ho_Chi_Minh") -> None:
        self.engine = engine
        self.tz = ZoneInfo(timezone_name)
