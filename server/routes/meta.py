"""The API's own description (OpenAPI) and the Prometheus metrics: behind a read token.

No HTML docs page: FastAPI's ReDoc and Swagger pages load their scripts from a public CDN,
and no installed package ships them; the schema at /api/v1/openapi.json serves any viewer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.deps import READ, get_ingestor, get_metrics
from server.ingest import Ingestor
from server.metrics import IngestMetrics

router = APIRouter(include_in_schema=False)
#: ``/metrics`` sits at the root, where Prometheus looks for it.
metrics_router = APIRouter(include_in_schema=False)


@router.get("/openapi.json", dependencies=READ)
def openapi(request: Request) -> dict[str, object]:
    schema: dict[str, object] = request.app.openapi()
    return schema


@metrics_router.get("/metrics", dependencies=READ)
def prometheus(
    metrics: Annotated[IngestMetrics, Depends(get_metrics)],
    ingestor: Annotated[Ingestor | None, Depends(get_ingestor)],
) -> Response:
    if ingestor:
        metrics.backlog.set(ingestor.backlog)
        metrics.oldest_unacknowledged.set(ingestor.oldest_unacknowledged_age() or 0.0)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
