"""The HTTP API under /api/v1. Every endpoint but the health check needs a bearer token."""

from __future__ import annotations

import hmac
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, AsyncIterator

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.db import init_db, make_engine
from server.ingest import Ingestor
from server.settings import ServerSettings
from server.store import EventStore

_bearer = HTTPBearer(auto_error=False)


def _token_in(token: str, allowed: list) -> bool:
    return any(hmac.compare_digest(token, t.get_secret_value()) for t in allowed)


def require_reader(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    settings: ServerSettings = request.app.state.settings
    if creds is None or not (
        _token_in(creds.credentials, settings.api.read_tokens)
        or _token_in(creds.credentials, settings.api.admin_tokens)
    ):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})


def create_app(settings: ServerSettings, *, ingest: bool = True) -> FastAPI:
    """The server application; ``ingest=False`` serves the API without the MQTT subscriber."""
    engine = make_engine(settings.database_url)
    init_db(engine)
    store = EventStore(engine, settings.timezone)
    ingestor = Ingestor(store, settings.mqtt, batch_size=settings.ingest_batch_size) if ingest else None

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

    app = FastAPI(title="CCCD check-in server", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.ingestor = ingestor

    @app.get("/api/v1/health")
    def health() -> dict:
        return {
            "status": "ok",
            "mqtt_connected": bool(ingestor and ingestor.connected),
            "mqtt_subscribed": bool(ingestor and ingestor.subscribed),
            "ingest": dict(ingestor.counters) if ingestor else {},
        }

    @app.get("/api/v1/usage", dependencies=[Depends(require_reader)])
    def usage(
        facility: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")],
        from_: Annotated[date, Query(alias="from")],
        to: date,
    ) -> dict:
        if to < from_:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "'to' is before 'from'")
        return store.usage(facility, from_, to)

    return app
