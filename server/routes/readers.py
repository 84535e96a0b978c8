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


@router.get("", dependencies=READ, response_model=list[ReaderOut], responses=CSV_ANSWER)
def readers(
    store: Store,
    offline_after: OfflineAfter,
    facility: Annotated[str | None, Query(pattern=CODE)] = None,
    offline: bool | None = None,
    format: Format = Format.json,
) -> list[ReaderOut] | Response:
    rows = store.readers(offline_after, facility)
    if offline is not None:
        rows = [r for r in rows if r.online != offline]
    return csv_response(rows, "readers") if format == Format.csv else rows
