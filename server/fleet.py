"""The technician's fleet view: every reader with its facility, software, heartbeat and outbox.

Filtered (state, outbox depth, software version, area) and paged by the database, so a
page of 50 readers out of 40,000 costs one indexed query and one count. The heartbeat
figures (software version, outbox depth and age, card readers attached, the last error)
are the ones of each reader's latest heartbeat, kept on its registry row by the writer.
The clock offset is the one measured on the reader's latest check-in (docs/clock.md);
beyond the bound it is a warning (``clock.offset``): the server corrects its events'
days, the desk's clock still needs the technician.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, func, literal_column, select

from server.exports import Column, Row, Table
from server.labels import reader_state as state_label
from server.localformat import Lang
from server.store.areas import not_online, reader_state
from server.store.base import FACILITY, READER, as_utc
from server.validation import CLOCK_OFFSET_BOUND

ReaderState = Literal["online", "stopped", "last_will", "missed_heartbeats", "never_seen"]
StateFilter = Literal["any", "online", "offline", "stopped", "last_will", "missed_heartbeats", "never_seen"]
STATE_FILTERS: tuple[StateFilter, ...] = ("any", "online", "offline", "stopped", "last_will", "missed_heartbeats",
                                          "never_seen")
MAX_PAGE = 500


@dataclass(frozen=True)
class FleetFilter:
    state: StateFilter = "any"
    min_outbox: int | None = None
    version_not: str | None = None  # readers running anything but this version
    province: str | None = None
    district: str | None = None
    limit: int = 50
    offset: int = 0


class FleetRow(BaseModel):
    """One reader of the fleet view (also the API's row: ``/api/v1/fleet``)."""

    facility_code: str
    facility_name: str
    province: str
    district: str
    reader_id: str
    state: ReaderState
    since: datetime | None  # when the state began: last heard (offline) or registered (never seen)
    last_heartbeat: datetime | None
    software_version: str | None
    outbox_depth: int | None
    outbox_oldest_age_s: float | None
    readers_attached: int | None
    last_error: str | None
    clock_offset_s: float | None = None  # server time minus the desk's, on its latest check-in
    clock_offset_at: datetime | None = None
    warnings: list[str] = []  # "clock.offset": the desk's clock is off by more than the bound


def fleet_warnings(clock_offset_s: float | None) -> list[str]:
    """A reader's warnings from its row's figures."""
    off = clock_offset_s is not None and abs(clock_offset_s) > CLOCK_OFFSET_BOUND.total_seconds()
    return ["clock.offset"] if off else []


@dataclass(frozen=True)
class FleetPage:
    rows: list[FleetRow]
    total: int
    filter: FleetFilter
    versions: list[tuple[str, int]]  # every version in the fleet and its readers, newest-looking first


class FleetFilterError(ValueError):
    """A filter the fleet view cannot apply (answered with 422)."""


def parse_filter(params: dict[str, str]) -> FleetFilter:
    """The filter from a query string, bounded."""
    wanted = params.get("state") or "any"
    state = next((st for st in STATE_FILTERS if st == wanted), None)
    if state is None:
        raise FleetFilterError(f"state: one of {', '.join(STATE_FILTERS)}")
    numbers: dict[str, int | None] = {}
    for key, default, top in (("min_outbox", None, 10_000_000), ("limit", 50, MAX_PAGE), ("offset", 0, 10_000_000)):
        raw = (params.get(key) or "").strip()
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise FleetFilterError(f"{key}: a whole number") from None
        if value is not None and not 0 <= value <= top:
            raise FleetFilterError(f"{key}: between 0 and {top}")
        numbers[key] = value
    texts: dict[str, str | None] = {}
    for key in ("version_not", "province", "district"):
        given = (params.get(key) or "").strip() or None
        if given is not None and (len(given) > 100 or any(ord(ch) < 32 for ch in given)):
            raise FleetFilterError(f"{key}: at most 100 printable characters")
        texts[key] = given
    return FleetFilter(state, numbers["min_outbox"], texts["version_not"], texts["province"],
                       texts["district"], numbers["limit"] or 50, numbers["offset"] or 0)


def _conditions(flt: FleetFilter, state: ColumnElement[str], cutoff: datetime) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if flt.state == "offline":
        conds.append(not_online(cutoff))
    elif flt.state != "any":
        conds.append(state == flt.state)
    if flt.min_outbox is not None:
        conds.append(READER.c.outbox_depth >= flt.min_outbox)
    if flt.version_not:
        conds.append(func.coalesce(READER.c.software_version, "") != flt.version_not)
    if flt.province:
        conds.append(FACILITY.c.province == flt.province)
    if flt.district:
        conds.append(FACILITY.c.district == flt.district)
    return conds


def fleet_page(conn: Connection, flt: FleetFilter, offline_cutoff: datetime) -> FleetPage:
    """One page of readers matching the filter, the number that match, and the fleet's versions."""
    state = reader_state(offline_cutoff)
    joined = READER.join(FACILITY, FACILITY.c.code == READER.c.facility_code)
    conds = _conditions(flt, state, offline_cutoff)
    total = int(conn.execute(select(func.count()).select_from(joined).where(*conds)).scalar_one())
    since = func.coalesce(READER.c.last_seen_at, READER.c.registered_at)
    query = (
        select(READER.c.facility_code, FACILITY.c.name, FACILITY.c.province, FACILITY.c.district, READER.c.reader_id,
               state.label("state"), since.label("since"), READER.c.last_heartbeat_at, READER.c.software_version,
               READER.c.outbox_depth, READER.c.outbox_oldest_age_s, READER.c.readers_attached, READER.c.last_error,
               READER.c.clock_offset_s, READER.c.clock_offset_at)
        .select_from(joined)
        .where(*conds)
        .order_by(FACILITY.c.province, FACILITY.c.district, READER.c.facility_code, READER.c.reader_id)
        .limit(max(1, min(flt.limit, MAX_PAGE)))
        .offset(max(0, flt.offset))
    )
    rows = [
        FleetRow(facility_code=r.facility_code, facility_name=r.name, province=r.province, district=r.district,
                 reader_id=r.reader_id, state=r.state, since=as_utc(r.since),
                 last_heartbeat=as_utc(r.last_heartbeat_at),
                 software_version=r.software_version, outbox_depth=r.outbox_depth,
                 outbox_oldest_age_s=r.outbox_oldest_age_s, readers_attached=r.readers_attached,
                 last_error=r.last_error, clock_offset_s=r.clock_offset_s,
                 clock_offset_at=as_utc(r.clock_offset_at), warnings=fleet_warnings(r.clock_offset_s))
        for r in conn.execute(query)
    ]
    # The empty string inline, not bound: PostgreSQL must see one expression in SELECT and GROUP BY.
    version = func.coalesce(READER.c.software_version, literal_column("''"))
    versions_q = (
        select(version, func.count())
        .group_by(version)
        .order_by(func.count().desc())
        .limit(50)
    )
    versions = [(str(v), int(n)) for v, n in conn.execute(versions_q)]
    return FleetPage(rows, total, flt, versions)


def fleet_table(page: FleetPage, lang: Lang) -> Table:
    cols = (
        Column("facility", "Mã cơ sở", "Facility code", width=12), Column("name", "Tên cơ sở", "Facility"),
        Column("district", "Huyện", "District"), Column("reader", "Đầu đọc", "Reader"),
        Column("state", "Tình trạng", "State"), Column("since", "Từ lúc", "Since", "datetime"),
        Column("heartbeat", "Tín hiệu định kỳ cuối", "Last heartbeat", "datetime"),
        Column("version", "Phiên bản", "Version"), Column("outbox", "Hàng đợi", "Outbox", "int"),
        Column("age", "Tuổi hàng đợi (giây)", "Outbox age (s)", "int"),
        Column("attached", "Thiết bị đọc", "Card readers", "int"), Column("error", "Lỗi cuối", "Last error"),
        Column("clock", "Lệch đồng hồ (giây)", "Clock offset (s)", "int"),
    )
    rows: list[Row] = [
        {"facility": r.facility_code, "name": r.facility_name, "district": r.district, "reader": r.reader_id,
         "state": state_label(r.state, lang), "since": r.since if r.state != "online" else None,
         "heartbeat": r.last_heartbeat, "version": r.software_version, "outbox": r.outbox_depth,
         "age": round(r.outbox_oldest_age_s) if r.outbox_oldest_age_s is not None else None,
         "attached": r.readers_attached, "error": r.last_error,
         "clock": round(r.clock_offset_s) if r.clock_offset_s is not None else None}
        for r in page.rows
    ]
    return Table("cccd-fleet", "Đầu đọc", "Readers", cols, rows)
