"""``/api/v1/fleet``: every reader with its state, heartbeat, software version and outbox, filtered
and paged by the database (the technician's fleet view, for API clients)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from server.deps import READ, OfflineAfter, Store
from server.fleet import MAX_PAGE, STATE_FILTERS, FleetFilter, FleetRow, StateFilter, fleet_page

router = APIRouter(prefix="/fleet", tags=["fleet"])


class VersionCount(BaseModel):
    version: str
    readers: int


class FleetOut(BaseModel):
    total: int
    limit: int
    offset: int
    readers: list[FleetRow]
    versions: list[VersionCount]


@router.get("", dependencies=READ, response_model=FleetOut)
def fleet(
    store: Store,
    offline_after: OfflineAfter,
    state: StateFilter = "any",
    min_outbox: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
    version_not: Annotated[str | None, Query(max_length=64)] = None,
    province: Annotated[str | None, Query(max_length=100)] = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> FleetOut:
    """Readers matching every filter given: ``state`` (``offline`` = any state but online),
    an outbox of at least ``min_outbox`` events, a version other than ``version_not``, an area."""
    if state not in STATE_FILTERS:  # pragma: no cover - the Literal already refuses it
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown state")
    flt = FleetFilter(state, min_outbox, version_not, province, district, limit, offset)
    with store.engine.connect() as conn:
        page = fleet_page(conn, flt, datetime.now(UTC) - offline_after)
    return FleetOut(
        total=page.total, limit=limit, offset=offset,
        readers=page.rows,
        versions=[VersionCount(version=v, readers=n) for v, n in page.versions],
    )
