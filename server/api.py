"""The HTTP API under /api/v1 and the dashboard. Everything but the health check needs a token.

Viewers use a read token, administrators an admin token (which also reads). The API
takes ``Authorization: Bearer``; the dashboard takes the same token once through its
login form and keeps it in an HttpOnly cookie.
"""

from __future__ import annotations

import csv
import hmac
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from enum import Enum
from typing import Annotated

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.db import init_db, make_engine
from server.ingest import Ingestor
from server.metrics import IngestMetrics
from server.settings import ServerSettings
from server.store import EventStore, RegistryError

_bearer = HTTPBearer(auto_error=False)
COOKIE = "cccd_token"
CODE = r"^[A-Za-z0-9_-]{1,32}$"


class Level(str, Enum):
    district = "district"
    province = "province"


class GroupBy(str, Enum):
    day = "day"
    week = "week"
    month = "month"


class Breakdown(str, Enum):
    facility = "facility"
    district = "district"


class Format(str, Enum):
    json = "json"
    csv = "csv"


def _token_in(token: str, allowed: list) -> bool:
    return any(hmac.compare_digest(token.encode(), t.get_secret_value().encode()) for t in allowed)


def _presented(request: Request, creds: HTTPAuthorizationCredentials | None) -> str | None:
    if creds is not None:
        return creds.credentials
    return request.cookies.get(COOKIE)


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                         headers={"WWW-Authenticate": "Bearer"})


def require_reader(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    settings: ServerSettings = request.app.state.settings
    token = _presented(request, creds)
    if token is None or not (_token_in(token, settings.api.read_tokens) or _token_in(token, settings.api.admin_tokens)):
        raise _unauthorized()


def require_admin(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    settings: ServerSettings = request.app.state.settings
    token = _presented(request, creds)
    if token is None:
        raise _unauthorized()
    if not _token_in(token, settings.api.admin_tokens):
        if _token_in(token, settings.api.read_tokens):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "an admin token is required")
        raise _unauthorized()


def csv_response(rows: list[dict], name: str) -> Response:
    buf = io.StringIO()
    if rows:
        fields: list[str] = []
        for row in rows:
            fields += [k for k in row if k not in fields]
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (";".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
                             for k, v in row.items()})
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def create_app(settings: ServerSettings, *, ingest: bool = True) -> FastAPI:
    """The server application; ``ingest=False`` serves the API without the MQTT subscriber."""
    engine = make_engine(settings.database_url)
    init_db(engine)
    store = EventStore(engine, settings.timezone)
    metrics = IngestMetrics()
    ingestor = (
        Ingestor(
            store, settings.mqtt, batch_size=settings.batch_size,
            receive_maximum=settings.ingest.receive_maximum, linger=settings.ingest.linger_ms / 1000,
            auto_register=settings.registry.auto_register, metrics=metrics,
        )
        if ingest
        else None
    )
    offline_after = timedelta(seconds=settings.registry.offline_after_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if ingestor:
            ingestor.start()
        try:
            yield
        finally:
            if ingestor:
                ingestor.stop()
            engine.dispose()

    app = FastAPI(
        title="CCCD check-in server", version="0.2.0", lifespan=lifespan,
        docs_url=None, redoc_url=None, openapi_url=None,
        description="Chip-ID check-in usage and reader coverage of health facilities, against the 100% target.",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.ingestor = ingestor
    app.state.metrics = metrics
    read = [Depends(require_reader)]
    admin = [Depends(require_admin)]

    @app.get("/api/v1/health")
    def health() -> dict:
        return {
            "status": "ok",
            "mqtt_connected": bool(ingestor and ingestor.connected),
            "mqtt_subscribed": bool(ingestor and ingestor.subscribed),
            "ingest": dict(ingestor.counters) if ingestor else {},
        }

    @app.get("/api/v1/facilities", dependencies=read, response_model=None)
    def facilities(
        province: str | None = None, district: str | None = None, format: Format = Format.json
    ) -> Response | list[dict]:
        rows = store.facilities(province, district)
        return csv_response(rows, "facilities") if format == Format.csv else rows

    @app.post("/api/v1/facilities/import", dependencies=admin, response_model=None)
    def import_facilities(body: Annotated[str, Body(media_type="text/csv")]) -> dict:
        """Insert or update facilities from CSV: code,name,type,province,district,commune."""
        try:
            return {"imported": store.import_facilities(body)}
        except RegistryError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None

    @app.get("/api/v1/readers", dependencies=read, response_model=None)
    def readers(
        facility: Annotated[str | None, Query(pattern=CODE)] = None,
        offline: bool | None = None,
        format: Format = Format.json,
    ) -> Response | list[dict]:
        rows = store.readers(offline_after, facility)
        if offline is not None:
            rows = [r for r in rows if r["online"] != offline]
        return csv_response(rows, "readers") if format == Format.csv else rows

    @app.get("/api/v1/coverage", dependencies=read, response_model=None)
    def coverage(
        level: Level = Level.district,
        province: str | None = None,
        days: Annotated[int | None, Query(ge=1, le=365)] = None,
        format: Format = Format.json,
    ) -> Response | dict:
        """Covered facilities (a reader heard within ``days``, default from the settings) per area."""
        out = store.coverage(level.value, days or settings.registry.coverage_days, province)
        return csv_response(out["areas"], f"coverage-{level.value}") if format == Format.csv else out

    @app.get("/api/v1/coverage/uncovered", dependencies=read, response_model=None)
    def uncovered(
        days: Annotated[int | None, Query(ge=1, le=365)] = None, format: Format = Format.json
    ) -> Response | list[dict]:
        rows = store.uncovered_facilities(days or settings.registry.coverage_days)
        return csv_response(rows, "uncovered") if format == Format.csv else rows

    @app.get("/api/v1/usage", dependencies=read, response_model=None)
    def usage(
        from_: Annotated[date, Query(alias="from")],
        to: date,
        facility: Annotated[str | None, Query(pattern=CODE)] = None,
        district: str | None = None,
        province: str | None = None,
        group_by: GroupBy = GroupBy.day,
        breakdown: Breakdown | None = None,
        distinct: bool = True,
        format: Format = Format.json,
    ) -> Response | dict:
        """Check-ins by method and trust level, and distinct citizens, per period (from the daily rollups).

        Filter by ``facility``, ``district`` or ``province`` (none: everything);
        ``breakdown=facility|district`` adds the totals per facility or district.
        """
        if to < from_:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'to' is before 'from'")
        if (to - from_).days > 3660:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most ten years at once")
        if breakdown is not None:
            rows = (
                store.usage_by_facility(from_, to, district, province)
                if breakdown == Breakdown.facility
                else store.usage_by_district(from_, to, province)
            )
            if format == Format.csv:
                return csv_response(rows, f"usage-by-{breakdown.value}")
        out = store.usage(facility, from_, to, group_by=group_by.value, district=district, province=province,
                          distinct=distinct)
        if breakdown is not None:
            out["breakdown"] = rows
        if format == Format.csv:
            return csv_response(out["periods"], "usage")
        return out

    @app.get("/api/v1/citizens", dependencies=read, response_model=None)
    def citizens(
        from_: Annotated[date, Query(alias="from")],
        to: date,
        facility: Annotated[str | None, Query(pattern=CODE)] = None,
        district: str | None = None,
        province: str | None = None,
        group_by: GroupBy = GroupBy.month,
        format: Format = Format.json,
    ) -> Response | dict:
        """Distinct citizens (by pseudonym) per period."""
        if to < from_:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'to' is before 'from'")
        u = store.usage(facility, from_, to, group_by=group_by.value, district=district, province=province)
        rows = [{"period": p["period"], "distinct_citizens": p["distinct_citizens"]} for p in u["periods"]]
        if format == Format.csv:
            return csv_response(rows, "citizens")
        return {"from": u["from"], "to": u["to"], "group_by": u["group_by"], "periods": rows,
                "distinct_citizens": u["distinct_citizens"]}

    @app.get("/api/v1/openapi.json", dependencies=read, include_in_schema=False)
    def openapi() -> dict:
        return app.openapi()

    @app.get("/api/v1/docs", dependencies=read, include_in_schema=False)
    def docs() -> HTMLResponse:
        from fastapi.openapi.docs import get_redoc_html

        return get_redoc_html(openapi_url="/api/v1/openapi.json", title="CCCD API")

    @app.get("/metrics", dependencies=read, include_in_schema=False)
    def prometheus() -> Response:
        if ingestor:
            metrics.backlog.set(ingestor.backlog)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    from server.dashboard import mount_dashboard

    mount_dashboard(app, store, settings, offline_after)
    return app
