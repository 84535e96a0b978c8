"""``/api/v1/facilities``: the registry of health facilities, and its CSV import (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from server.csvout import CSV_ANSWER, csv_response
from server.deps import ADMIN, READ, AreaName, Store
from server.schemas import FACILITY_LIST, FacilityOut, Format, Imported
from server.store import RegistryError

router = APIRouter(prefix="/facilities", tags=["facilities"])


@router.get("", dependencies=READ, response_model=list[FacilityOut], responses=CSV_ANSWER)
def facilities(
    store: Store, province: AreaName = None, district: AreaName = None, format: Format = Format.json
) -> list[FacilityOut] | Response:
    rows = store.facilities(province, district)
    if format == Format.csv:
        return csv_response(rows, "facilities")
    return Response(FACILITY_LIST.dump_json(rows, by_alias=True), media_type="application/json")


#: A national registry (13,000 facilities) is about 2 MB of CSV.
MAX_IMPORT_BYTES = 16 * 1024 * 1024
_CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.post("/import", dependencies=ADMIN, openapi_extra=_CSV_BODY, responses={
    413: {"description": "the body is over 16 MiB"}, 415: {"description": "the body is not text/csv"},
    422: {"description": "the CSV names the bad line and column, or the body is not UTF-8"}})
async def import_facilities(request: Request, store: Store) -> Imported:
    """Insert or update facilities from CSV (UTF-8): code,name,type,province,district,commune."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("text/csv", "application/csv"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the CSV as text/csv")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_IMPORT_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"at most {MAX_IMPORT_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"line {line}: not UTF-8 (byte {exc.start} of the body)") from None
    try:
        return Imported(imported=await run_in_threadpool(store.import_facilities, text))
    except RegistryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
