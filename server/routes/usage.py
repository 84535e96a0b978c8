"""``/api/v1/usage`` and ``/api/v1/citizens``: check-ins and distinct citizens per period, from the rollups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response

from contract.topics import FACILITY_CODE_PATTERN
from server.csvout import CSV_ANSWER, csv_response
from server.deps import READ, AreaName, DateRange, Store
from server.schemas import Breakdown, Citizens, CitizensPeriod, DistrictUsage, FacilityUsage, Format, GroupBy, Usage
from server.store.queries import OverBudget

router = APIRouter(tags=["usage"])
CODE = rf"^{FACILITY_CODE_PATTERN}$"


@router.get("/usage", dependencies=READ, response_model=Usage, responses=CSV_ANSWER)
def usage(
    store: Store,
    dates: DateRange,
    facility: Annotated[str | None, Query(pattern=CODE)] = None,
    district: AreaName = None,
    province: AreaName = None,
    group_by: GroupBy = GroupBy.day,
    breakdown: Breakdown | None = None,
    distinct: bool = True,
    format: Format = Format.json,
) -> Usage | Response:
    """Check-ins by method and trust level, and distinct citizens, per period (from the daily rollups).

    Filter by ``facility``, ``district`` or ``province`` (none: everything);
    ``breakdown=facility|district`` adds the totals per facility or district.
    """
    rows: list[FacilityUsage] | list[DistrictUsage] | None = None
    if breakdown == Breakdown.facility:
        try:
            rows = store.usage_by_facility(dates.start, dates.end, district, province)
        except OverBudget as exc:  # every facility's days over ten years: not in a second
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    elif breakdown == Breakdown.district:
        rows = store.usage_by_district(dates.start, dates.end, province)
    if rows is not None and breakdown is not None and format == Format.csv:
        return csv_response(rows, f"usage-by-{breakdown.value}")
    out = store.usage(facility, dates.start, dates.end, group_by=group_by, district=district, province=province,
                      distinct=distinct)
    out.breakdown = rows
    if format == Format.csv:
        return csv_response(out.periods, "usage")
    return out


@router.get("/citizens", dependencies=READ, response_model=Citizens, responses=CSV_ANSWER)
def citizens(
    store: Store,
    dates: DateRange,
    facility: Annotated[str | None, Query(pattern=CODE)] = None,
    district: AreaName = None,
    province: AreaName = None,
    group_by: GroupBy = GroupBy.month,
    format: Format = Format.json,
) -> Citizens | Response:
    """Distinct citizens (by pseudonym) per period."""
    u = store.usage(facility, dates.start, dates.end, group_by=group_by, district=district, province=province)
    rows = [CitizensPeriod(period=p.period, distinct_citizens=p.distinct_citizens) for p in u.periods]
    if format == Format.csv:
        return csv_response(rows, "citizens")
    return Citizens(from_=u.from_, to=u.to, group_by=u.group_by, periods=rows, distinct_citizens=u.distinct_citizens,
                     distinct_citizens_note=u.distinct_citizens_note)
