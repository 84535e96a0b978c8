"""``/api/v1/quarantine`` (admin): the messages acknowledged but not stored, and why.

Each row has the reason, topic, reader, receipt time, size and the payload's SHA-256;
the payload itself is never kept.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from server.csvout import CSV_ANSWER, csv_response
from server.deps import ADMIN, DateRange, Store
from server.schemas import Format, QuarantineOut

router = APIRouter(prefix="/quarantine", tags=["quarantine"])


@router.get("", dependencies=ADMIN, response_model=list[QuarantineOut], responses=CSV_ANSWER)
def quarantine(
    store: Store,
    dates: DateRange,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    format: Format = Format.json,
) -> list[QuarantineOut] | Response:
    rows = store.quarantine(dates.start, dates.end, limit)
    return csv_response(rows, "quarantine") if format == Format.csv else rows
