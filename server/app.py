"""The app factory: the API under /api/v1, the dashboard and ``/metrics``, with the MQTT ingest
started and stopped by the app's lifespan.

One process may run all of it (``[process] role = "all"``, the default) or a part: ``api``
(API and dashboard; health asks the ingest processes), ``ingest`` (the ingest, with only
``/api/v1/health`` and ``/metrics`` over HTTP). See docs/scale.md, "Processes".

Layout (as FastAPI's full-stack template): :mod:`server.deps` (who is asking, the
app's services), :mod:`server.routes` (one module per resource, pydantic response
models from :mod:`server.schemas`), :mod:`server.store` (writer, registry, queries),
:mod:`server.ingest` (broker → store).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request
from fastapi.security.utils import get_authorization_scheme_param

from server.db import init_db, make_engine
from server.deps import COOKIE, client_key, role_of
from server.fleet_metrics import FleetCollector, OpeningHours
from server.ingest import Ingestor
from server.metrics import IngestMetrics
from server.read_cache import ReadCache
from server.routes import api_router, dashboard, health, reports
from server.routes.health import RemoteIngest
from server.routes.meta import metrics_router
from server.security import FailedAuthLimiter, SecurityHeaders, SessionStore
from server.settings import ServeRole, ServerSettings
from server.store import EventStore
from server.validation import Bounds


def make_ingestor(settings: ServerSettings, store: EventStore, metrics: IngestMetrics) -> Ingestor:
    return Ingestor(
        store, settings.mqtt, batch_size=settings.batch_size,
        receive_maximum=settings.ingest.receive_maximum, linger=settings.ingest.linger_ms / 1000,
        auto_register=settings.registry.auto_register, metrics=metrics, receipts=settings.ingest.receipts,
        quarantine_keep=timedelta(days=settings.ingest.quarantine_keep_days),
        bounds=Bounds.of(settings.ingest.earliest_event, timedelta(seconds=settings.ingest.max_future_skew_seconds),
                         settings.ingest.max_payload_bytes),
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the ingest (when the app was made with it) for the app's life; release the database after."""
    ingestor: Ingestor | None = app.state.ingestor
    if ingestor is not None:
        ingestor.start()
    try:
        yield
    finally:
        if ingestor is not None:
            ingestor.stop()
        store: EventStore = app.state.store
        store.engine.dispose()


def create_app(settings: ServerSettings, *, ingest: bool = True, role: ServeRole | None = None) -> FastAPI:
    """The server application for ``role`` (default ``[process] role``); ``ingest=False`` serves
    the API without the MQTT subscriber and without asking any ingest process (tests)."""
    role = role or settings.process.role
    engine = make_engine(settings.database_url)
    init_db(engine)
    store = EventStore(engine, settings.timezone)
    metrics = IngestMetrics()
    app = FastAPI(
        title="CCCD check-in server", version="0.2.0", lifespan=lifespan,
        docs_url=None, redoc_url=None, openapi_url=None,
        description="Chip-ID check-in usage and reader coverage of health facilities, against the 100% target.",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = metrics
    app.state.ingestor = make_ingestor(settings, store, metrics) if ingest and role is not ServeRole.api else None
    app.state.remote_ingest = (RemoteIngest(settings.process.ingest_health_urls,
                                            settings.process.ingest_timeout_seconds)
                               if ingest and role is ServeRole.api else None)
    # in the database: a restart keeps the viewers signed in, and every server process shares the limit
    app.state.sessions = SessionStore(engine)
    app.state.limiter = FailedAuthLimiter(engine, settings.api.max_failed_auth, 60.0, settings.api.lockout_seconds)
    app.add_middleware(SecurityHeaders)
    app.include_router(metrics_router)
    if role is ServeRole.ingest:
        # the ingest process answers only what monitoring asks of it
        ingest_api = APIRouter(prefix="/api/v1")
        ingest_api.include_router(health.router)
        app.include_router(ingest_api)
        return app
    # the fleet's state for the alert rules (server/ops/alerts.yml), computed at each scrape
    FleetCollector(store, offline_after=timedelta(seconds=settings.registry.offline_after_seconds),
                   coverage_days=settings.registry.coverage_days,
                   opening_hours=OpeningHours(settings.timezone)).register(metrics.registry)
    app.include_router(api_router)
    app.include_router(dashboard.router)
    app.include_router(reports.router)
    if settings.api.cache_seconds > 0:
        app.add_middleware(ReadCache, seconds=settings.api.cache_seconds, authorised=_viewer_check(app))
    return app


def _viewer_check(app: FastAPI) -> Callable[[Request], bool]:
    """Whether a request may read now: a read or admin token in the header (a client not locked
    out), or a live dashboard session; as :func:`server.deps.presented_role` decides."""
    settings: ServerSettings = app.state.settings
    sessions: SessionStore = app.state.sessions
    limiter: FailedAuthLimiter = app.state.limiter

    def viewer(request: Request) -> bool:
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if token and scheme.lower() == "bearer":  # as HTTPBearer(auto_error=False) reads it
            return limiter.retry_after(client_key(request)) is None and role_of(token, settings) is not None
        return sessions.get(request.cookies.get(COOKIE)) is not None

    return viewer
