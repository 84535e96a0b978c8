"""The API's dependencies, in one place: who is asking (read or admin token) and the app's services.

Viewers use a read token, administrators an admin token (which also reads). The API
takes ``Authorization: Bearer``; the dashboard takes the same token once through its
login form and keeps it in an HttpOnly cookie.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from server.ingest import Ingestor
from server.metrics import IngestMetrics
from server.settings import ServerSettings
from server.store import EventStore

COOKIE = "cccd_token"
_bearer = HTTPBearer(auto_error=False)


class Role(str, Enum):
    read = "read"
    admin = "admin"


def _token_in(token: str, allowed: Sequence[SecretStr]) -> bool:
    return any(hmac.compare_digest(token.encode(), t.get_secret_value().encode()) for t in allowed)


def role_of(token: str | None, settings: ServerSettings) -> Role | None:
    """The role a presented token grants, or None (compared in constant time)."""
    if not token:
        return None
    if _token_in(token, settings.api.admin_tokens):
        return Role.admin
    if _token_in(token, settings.api.read_tokens):
        return Role.read
    return None


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def get_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.store
    return store


def get_metrics(request: Request) -> IngestMetrics:
    metrics: IngestMetrics = request.app.state.metrics
    return metrics


def get_ingestor(request: Request) -> Ingestor | None:
    ingestor: Ingestor | None = request.app.state.ingestor
    return ingestor


def offline_after(settings: Annotated[ServerSettings, Depends(get_settings)]) -> timedelta:
    return timedelta(seconds=settings.registry.offline_after_seconds)


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required",
                         headers={"WWW-Authenticate": "Bearer"})


def presented_role(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[ServerSettings, Depends(get_settings)],
) -> Role | None:
    token = creds.credentials if creds is not None else request.cookies.get(COOKIE)
    return role_of(token, settings)


def require_reader(role: Annotated[Role | None, Depends(presented_role)]) -> Role:
    if role is None:
        raise _unauthorized()
    return role


def require_admin(role: Annotated[Role | None, Depends(presented_role)]) -> Role:
    if role is None:
        raise _unauthorized()
    if role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "an admin token is required")
    return role


#: The longest range any query answers at once (ten years of days).
MAX_RANGE_DAYS = 3660


@dataclass(frozen=True)
class Dates:
    """An inclusive range of local days."""

    start: date
    end: date


def date_range(from_: Annotated[date, Query(alias="from")], to: date) -> Dates:
    """The one rule for every date range of the API: ``from`` ≤ ``to``, at most ten years."""
    if to < from_:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'to' is before 'from'")
    if (to - from_).days > MAX_RANGE_DAYS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most ten years at once")
    return Dates(from_, to)


Settings = Annotated[ServerSettings, Depends(get_settings)]
Store = Annotated[EventStore, Depends(get_store)]
DateRange = Annotated[Dates, Depends(date_range)]
OfflineAfter = Annotated[timedelta, Depends(offline_after)]
READ = [Depends(require_reader)]
ADMIN = [Depends(require_admin)]
