"""The API's dependencies, in one place: who is asking (read or admin token) and the app's services.

Viewers use a read token, administrators an admin token (which also reads). The API
takes ``Authorization: Bearer``; the dashboard takes a token once through its login
form and keeps only an opaque, expiring session id in an HttpOnly, SameSite=Strict
cookie (Secure over TLS); the database keeps only the id's hash, so a restart or another
server process keeps the session. Reads accept the header or the session; admin endpoints take
the header only, so no page in the user's browser can act as its admin. Wrong tokens
are counted per client in the database (shared by every server process): past the limit the
client gets 429 until its lockout ends.
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
from server.security import FailedAuthLimiter, SessionStore
from server.settings import ServerSettings
from server.store import EventStore

COOKIE = "cccd_session"
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


def get_sessions(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.sessions
    return sessions


def get_limiter(request: Request) -> FailedAuthLimiter:
    limiter: FailedAuthLimiter = request.app.state.limiter
    return limiter


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _unauthorized(detail: str = "a valid bearer token is required") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def too_many_attempts(retry_after: int) -> HTTPException:
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed attempts: try again later",
                         headers={"Retry-After": str(retry_after)})


def check_token(request: Request, token: str, settings: ServerSettings) -> Role:
    """The role of a presented token; 429 while the client is locked out, 401 (counted) when wrong."""
    limiter = get_limiter(request)
    key = client_key(request)
    retry = limiter.retry_after(key)
    if retry is not None:
        raise too_many_attempts(retry)
    role = role_of(token, settings)
    if role is None:
        limiter.failed(key)
        raise _unauthorized()
    return role


def session_role(request: Request) -> Role | None:
    """The role of the browser's dashboard session (the ``viewer`` check of pages such as
    :mod:`server.routes.reports`), or None."""
    role = get_sessions(request).get(request.cookies.get(COOKIE))
    return next((r for r in Role if r.value == role), None)


def presented_role(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[ServerSettings, Depends(get_settings)],
) -> Role | None:
    if creds is not None:
        return check_token(request, creds.credentials, settings)
    return session_role(request)


def require_reader(role: Annotated[Role | None, Depends(presented_role)]) -> Role:
    if role is None:
        raise _unauthorized()
    return role


def require_admin(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: Annotated[ServerSettings, Depends(get_settings)],
) -> Role:
    """An admin token in the Authorization header: a browser's session never authorises an admin action."""
    if creds is None:
        raise _unauthorized("admin endpoints take the token in the Authorization header")
    role = check_token(request, creds.credentials, settings)
    if role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "an admin token is required")
    return role


#: The longest range any query answers at once (ten years of days).
MAX_RANGE_DAYS = 3660
#: The calendar every range must lie in: beyond it no count exists, and the period arithmetic
#: (weeks, months) stays far from the ends of Python's dates.
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2099, 12, 31)


@dataclass(frozen=True)
class Dates:
    """An inclusive range of local days."""

    start: date
    end: date


def date_range(from_: Annotated[date, Query(alias="from")], to: date) -> Dates:
    """The one rule for every date range of the API: ``from`` ≤ ``to``, at most ten years, within 2000..2099."""
    if not (EARLIEST_DAY <= from_ <= LATEST_DAY and EARLIEST_DAY <= to <= LATEST_DAY):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"dates must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    if to < from_:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'to' is before 'from'")
    if (to - from_).days > MAX_RANGE_DAYS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at most ten years at once")
    return Dates(from_, to)


Settings = Annotated[ServerSettings, Depends(get_settings)]
Store = Annotated[EventStore, Depends(get_store)]
DateRange = Annotated[Dates, Depends(date_range)]
OfflineAfter = Annotated[timedelta, Depends(offline_after)]
#: A free-text area filter (a province or district name): as long as the registry's column, and no
#: control characters (PostgreSQL refuses a NUL in a string: that would be a 500).
AreaName = Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]
READ = [Depends(require_reader)]
ADMIN = [Depends(require_admin)]
