"""``/api/v1/health``: the one answer without a token (for load balancers and monitoring)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from server.deps import get_ingestor
from server.ingest import Ingestor
from server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health")
def health(ingestor: Annotated[Ingestor | None, Depends(get_ingestor)]) -> Health:
    return Health(
        status="ok",
        mqtt_connected=bool(ingestor and ingestor.connected),
        mqtt_subscribed=bool(ingestor and ingestor.subscribed),
        ingest=dict(ingestor.counters) if ingestor else {},
    )
