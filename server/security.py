"""What keeps a browser and a guessing client from turning the API against its users.

- :class:`SessionStore`: the dashboard's session cookie holds an opaque, expiring id, never a
  token (sessions live in memory: a restart signs viewers out).
- :class:`FailedAuthLimiter`: after ``max_failures`` wrong tokens within ``window`` seconds a
  client gets 429 (with Retry-After) for every token it presents until ``lockout`` has passed,
  right or wrong, so guessing gains nothing.
- :class:`SecurityHeaders`: CSP, frame, sniffing, referrer and cache headers on every answer
  (and HSTS over TLS).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_R = TypeVar("_R")

SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
# Scripts and styles from this server only (the officer's dashboard has its own .js/.css); inline
# style attributes for the bars; one inline handler allowed by its hash: the report's print button.
PRINT_BUTTON = "'sha256-MguIPR6qNR8D3B+eAlK+bIRTZe8t3wkOY4B/56Me9FU='"  # onclick="window.print()"
CSP = (f"default-src 'none'; script-src 'self' 'unsafe-hashes' {PRINT_BUTTON}; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the form POST
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


@dataclass(frozen=True)
class _Session(Generic[_R]):
    role: _R
    expires: float


class SessionStore(Generic[_R]):
    """Opaque session ids (256 random bits) mapped to a role, expiring; the oldest dropped beyond a bound."""

    def __init__(self, lifetime: float = SESSION_SECONDS, max_sessions: int = MAX_SESSIONS) -> None:
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, _Session[_R]] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, role: _R) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = _Session(role, time.monotonic() + self.lifetime)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return sid

    def get(self, sid: str | None) -> _R | None:
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if session.expires < time.monotonic():
                del self._sessions[sid]
                return None
            return session.role

    def drop(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)


class FailedAuthLimiter:
    """Failed authentications per client (its address); bounded memory."""

    def __init__(self, max_failures: int = 10, window: float = 60.0, lockout: float = 60.0,
                 max_clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_clients = max_clients
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try again, or None when it may now."""
        with self._lock:
            until = self._locked.get(client)
            if until is None:
                return None
            left = until - time.monotonic()
            if left <= 0:
                del self._locked[client]
                return None
            return max(1, round(left))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.pop(client, []) if now - t < self.window]
            recent.append(now)
            if len(recent) >= self.max_failures:
                self._locked[client] = now + self.lockout
                recent = []
            self._failures[client] = recent
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
            if len(self._locked) > self.max_clients:
                self._locked = {c: u for c, u in self._locked.items() if u > now}


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in present]
                if tls:
                    extra.append(HSTS)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
