"""``/api/v1/readers``: the registered readers, online or not and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from contract.topics import FACILITY_CODE_PATTERN
from server.csvout import CSV_ANSWER, csv_response
from server.deps import READ, OfflineAfter, Store
from server.schemas import Format, ReaderOut

router = APIRouter(prefix="/readers", tags=["readers"])
CODE = rf"^{FACILITY_CODE_PATTERN}$"
DEFAULT_PAGE, MAX_PAGE = 1000, 10_000


@router.get("", dependencies=READ, response_model=list[ReaderOut], responses=CSV_ANSWER)
def readers(
    store: Store,
    offline_after: OfflineAfter,
    facility: Annotated[str | None, Query(pattern=CODE)] = None,
    offline: bool | None = None,
    province: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: Format = Format.json,
) -> list[ReaderOut] | Response:
    """One page of readers in (facility, reader) order, filtered in the database; the next
    page is ``offset + limit`` (a national fleet is 40,000 readers: page through it)."""
    rows = store.readers(offline_after, facility, offline=offline, province=province, limit=limit, offset=offset)
    return csv_response(rows, "readers") if format == Format.csv else rows
