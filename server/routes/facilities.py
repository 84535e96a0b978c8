"""``/api/v1/facilities``: the registry of health facilities, and its CSV import (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status
from fastapi.responses import Response

from server.csvout import CSV_ANSWER, csv_response
from server.deps import ADMIN, READ, Store
from server.schemas import FacilityOut, Format, Imported
from server.store import RegistryError

router = APIRouter(prefix="/facilities", tags=["facilities"])


@router.get("", dependencies=READ, response_model=list[FacilityOut], responses=CSV_ANSWER)
def facilities(
    store: Store, province: str | None = None, district: str | None = None, format: Format = Format.json
) -> list[FacilityOut] | Response:
    rows = store.facilities(province, district)
    return csv_response(rows, "facilities") if format == Format.csv else rows


@router.post("/import", dependencies=ADMIN, responses={422: {"description": "the CSV names the bad row"}})
def import_facilities(store: Store, body: Annotated[str, Body(media_type="text/csv")]) -> Imported:
    """Insert or update facilities from CSV: code,name,type,province,district,commune."""
    try:
        return Imported(imported=store.import_facilities(body))
    except RegistryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
