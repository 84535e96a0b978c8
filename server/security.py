"""What keeps a browser and a guessing client from turning the API against its users.

- :class:`SessionStore`: the dashboard's session cookie holds an opaque, expiring id, never a
  token; the database keeps the id's hash (a restart, or another server process, keeps the session).
- :class:`FailedAuthLimiter`: after ``max_failures`` wrong tokens within ``window`` seconds a
  client gets 429 (with Retry-After) for every token it presents until ``lockout`` has passed,
  right or wrong, so guessing gains nothing; counted in the database, so the limit holds across
  every server process and restart.
- :class:`SecurityHeaders`: CSP, frame, sniffing, referrer and cache headers on every answer
  (and HSTS over TLS).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, case, delete, func, insert, or_, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.store.base import FAILURES, SESSIONS, as_utc, upsert

SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
# Scripts and styles from this server only (the officer's dashboard has its own .js/.css, which also
# wires the report's print button: no inline script at all); inline style attributes for the bars.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
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


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _now(clock: Callable[[], float]) -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


class SessionStore:
    """Dashboard sessions in the database, so that every server process knows them and a restart keeps them.

    The browser gets an opaque id (256 random bits); the database keeps only its SHA-256 (a copy of
    the table signs nobody in), the role, when it began and when it ends. An expired session is
    refused and deleted; expired ones are pruned at each sign-in, and beyond ``max_sessions`` the
    oldest go first. Signing out deletes the row. ``clock`` (seconds since the epoch) is for tests.
    """

    def __init__(self, engine: Engine, lifetime: float = SESSION_SECONDS, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self.clock = clock

    def create(self, role: str) -> str:
        sid = secrets.token_urlsafe(32)
        now = _now(self.clock)
        with self.engine.begin() as conn:
            conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < now))
            conn.execute(insert(SESSIONS).values(id_sha256=_hash(sid), role=role, created_at=now,
                                                 expires_at=now + timedelta(seconds=self.lifetime)))
            count = int(conn.execute(select(func.count()).select_from(SESSIONS)).scalar_one())
            if count > self.max_sessions:
                oldest = (select(SESSIONS.c.id_sha256).order_by(SESSIONS.c.created_at)
                          .limit(count - self.max_sessions).scalar_subquery())
                conn.execute(delete(SESSIONS).where(SESSIONS.c.id_sha256.in_(oldest)))
        return sid

    def get(self, sid: str | None) -> str | None:
        """The role of a live session, or None (unknown, expired: then deleted)."""
        if not sid or len(sid) > 128:
            return None
        key = _hash(sid)
        with self.engine.connect() as conn:
            row = conn.execute(select(SESSIONS.c.role, SESSIONS.c.expires_at)
                               .where(SESSIONS.c.id_sha256 == key)).first()
        if row is None:
            return None
        expires = as_utc(row.expires_at)
        if expires is None or expires <= _now(self.clock):
            self.drop(sid)
            return None
        return str(row.role)

    def drop(self, sid: str | None) -> None:
        if sid and len(sid) <= 128:
            with self.engine.begin() as conn:
                conn.execute(delete(SESSIONS).where(SESSIONS.c.id_sha256 == _hash(sid)))


class FailedAuthLimiter:
    """Failed authentications per client address, counted in the database: every server process
    (several API workers, a restarted server) sees the same counts and the same lockout, so the
    limit is ``max_failures`` per ``window`` for the deployment, not per process.

    One row per client: the start of its window, the failures in it, and its lockout. A failure is
    one atomic upsert (a window older than ``window`` starts over; the ``max_failures``-th failure
    sets the lockout and starts over), so concurrent processes cannot both miss the limit. Rows of
    clients neither counting nor locked are pruned at each failure: the table holds only the clients
    that failed within the last window or are locked.
    """

    def __init__(self, engine: Engine, max_failures: int = 10, window: float = 60.0, lockout: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.clock = clock

    def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try again, or None when it may now."""
        with self.engine.connect() as conn:
            until = as_utc(conn.execute(select(FAILURES.c.locked_until)
                                        .where(FAILURES.c.client == client[:64])).scalar())
        if until is None:
            return None
        left = (until - _now(self.clock)).total_seconds()
        return max(1, math.ceil(left)) if left > 0 else None

    def failed(self, client: str) -> None:
        now = _now(self.clock)
        window_start = now - timedelta(seconds=self.window)
        key = client[:64]
        with self.engine.begin() as conn:
            conn.execute(delete(FAILURES).where(
                FAILURES.c.window_start < window_start,
                or_(FAILURES.c.locked_until.is_(None), FAILURES.c.locked_until < now)))
            lock = now + timedelta(seconds=self.lockout)
            first_locks = self.max_failures <= 1
            ins = upsert(conn, FAILURES).values(client=key, window_start=now, failures=0 if first_locks else 1,
                                                locked_until=lock if first_locks else None)
            stale = FAILURES.c.window_start < window_start
            counted = case((stale, 1), else_=FAILURES.c.failures + 1)
            reached = counted >= self.max_failures
            conn.execute(ins.on_conflict_do_update(index_elements=[FAILURES.c.client], set_={
                # the counts of this window; reaching the limit locks the client out and starts over
                "failures": case((reached, 0), else_=counted),
                "window_start": case((stale, now), else_=FAILURES.c.window_start),
                "locked_until": case((reached, lock), else_=FAILURES.c.locked_until),
            }))


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
