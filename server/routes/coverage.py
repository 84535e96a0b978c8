"""``/api/v1/coverage``: facilities with a reader heard recently, per area, against the 100% target."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from server.csvout import CSV_ANSWER, csv_response
from server.deps import READ, AreaName, Settings, Store
from server.schemas import Coverage, Format, Level, UncoveredFacility

router = APIRouter(prefix="/coverage", tags=["coverage"])


@router.get("", dependencies=READ, response_model=Coverage, responses=CSV_ANSWER)
def coverage(
    store: Store,
    settings: Settings,
    level: Level = Level.district,
    province: AreaName = None,
    days: Annotated[int | None, Query(ge=1, le=365)] = None,
    format: Format = Format.json,
) -> Coverage | Response:
    """Covered facilities (a reader heard within ``days``, default from the settings) per area."""
    out = store.coverage(level, days or settings.registry.coverage_days, province)
    return csv_response(out.areas, f"coverage-{level.value}") if format == Format.csv else out


@router.get("/uncovered", dependencies=READ, response_model=list[UncoveredFacility], responses=CSV_ANSWER)
def uncovered(
    store: Store,
    settings: Settings,
    days: Annotated[int | None, Query(ge=1, le=365)] = None,
    format: Format = Format.json,
) -> list[UncoveredFacility] | Response:
    rows = store.uncovered_facilities(days or settings.registry.coverage_days)
    return csv_response(rows, "uncovered") if format == Format.csv else rows
