"""``/api/v1/health``: the one answer without a token (for load balancers and monitoring).

``degraded`` while batches cannot be stored (the database is unavailable: retried with
backoff), for ``[ingest] quarantine_alert_seconds`` after a message was quarantined, and
while the ingest is not connected to the broker; ``reasons`` say which, and
``oldest_unacknowledged_seconds`` how long the oldest waiting message has waited.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends

from server.deps import Settings, get_ingestor
from server.ingest import Ingestor
from server.schemas import Health, HealthReason, HealthStatus

router = APIRouter(tags=["health"])


@router.get("/health")
def health(ingestor: Annotated[Ingestor | None, Depends(get_ingestor)], settings: Settings) -> Health:
    if ingestor is None:
        return Health(status=HealthStatus.ok, mqtt_connected=False, mqtt_subscribed=False, ingest={})
    now = time.time()
    state = ingestor.health
    reasons = []
    failing = state.store_failing_since
    if failing is not None:
        reasons.append(HealthReason(code="store_retrying", detail=f"storing fails ({state.last_store_error}); retried",
                                    since_seconds=round(now - failing, 3)))
    last = state.last_quarantine_at
    if last is not None and now - last < settings.ingest.quarantine_alert_seconds:
        total = sum(state.quarantined_by_reason.values())
        reasons.append(HealthReason(code="quarantine_rising", detail=f"{total} message(s) quarantined since start",
                                    since_seconds=round(now - last, 3)))
    if not ingestor.connected:
        reasons.append(HealthReason(code="broker_disconnected", detail="the ingest is not connected to the broker"))
    age = ingestor.oldest_unacknowledged_age()
    return Health(
        status=HealthStatus.degraded if reasons else HealthStatus.ok,
        reasons=reasons,
        mqtt_connected=ingestor.connected,
        mqtt_subscribed=ingestor.subscribed,
        oldest_unacknowledged_seconds=round(age, 3) if age is not None else None,
        quarantined=dict(state.quarantined_by_reason),
        ingest=dict(ingestor.counters),
    )
