"""A few seconds' memory of the fleet-wide answers (coverage, readers, fleet, the dashboard).

At national scale each of these reads 40,000 readers and 13,000 facilities (tens of
milliseconds of SQL, and as much again turning rows into JSON or HTML), while what they
say changes slowly: coverage counts a reader heard within days, "offline" means silent
for 15 minutes. A dashboard on every officer's screen and a monitor asking each minute
would otherwise repeat that work for identical answers. So ``[api] cache_seconds`` (off
by default: a test or a small site wants every answer fresh) keeps each successful answer
of these paths, keyed by path and query, for that long. For as long again a kept answer
is still given at once while one request's worth of work renews it in the background
(stale-while-revalidate), so no viewer waits for the query once it has been asked: an
answer is at most twice ``cache_seconds`` old, plus the time the query takes.

Authorisation is never cached: a cached answer is given only to a request whose bearer
token or dashboard session grants a role *now* (checked here with the same functions the
routes use); any other request goes to the route, which refuses it (and counts a wrong
token) as before. A hit says how old it is in ``Age``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The read paths whose answers are the same for every viewer (no personal or per-session content).
CACHED_PATHS = frozenset({"/api/v1/coverage", "/api/v1/coverage/uncovered", "/api/v1/readers", "/api/v1/fleet",
                          "/dashboard"})
MAX_ENTRIES = 256  # distinct queries kept; the oldest go first
MAX_BODY = 8 * 1024 * 1024  # a larger answer (a CSV of every reader) is not kept
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Answer:
    at: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class ReadCache:
    """ASGI middleware: GET answers of :data:`CACHED_PATHS` kept ``seconds`` for any authorised viewer."""

    def __init__(self, app: ASGIApp, *, seconds: float, authorised: Callable[[Request], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.seconds, self.authorised, self.clock = app, seconds, authorised, clock
        self._answers: dict[tuple[str, bytes], _Answer] = {}
        self._renewing: dict[tuple[str, bytes], asyncio.Task[None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in CACHED_PATHS:
            await self.app(scope, receive, send)
            return
        if not self.authorised(Request(scope)):
            await self.app(scope, receive, send)  # the route refuses it, as without the cache
            return
        key = (scope["path"], scope.get("query_string", b""))
        now = self.clock()
        kept = self._answers.get(key)
        age = now - kept.at if kept is not None else None
        if kept is None or age is None or age >= 2 * self.seconds:
            await self._fresh(key, now, scope, receive, send)
            return
        if age >= self.seconds and key not in self._renewing:
            self._renewing[key] = asyncio.get_running_loop().create_task(self._renew(key, dict(scope)))
        await send({"type": "http.response.start", "status": kept.status,
                    "headers": [*kept.headers, (b"age", str(int(age)).encode())]})
        await send({"type": "http.response.body", "body": kept.body})

    async def _renew(self, key: tuple[str, bytes], scope: Scope) -> None:
        """Ask the route again for a kept answer, with nobody waiting for it."""
        asked = asyncio.Event()

        async def no_body() -> Message:
            if asked.is_set():  # no client to disconnect: wait as for a client that stays
                await asyncio.Event().wait()
            asked.set()
            return {"type": "http.request", "body": b"", "more_body": False}

        async def nowhere(_message: Message) -> None:
            return None

        try:
            await self._fresh(key, self.clock(), scope, no_body, nowhere)
        except Exception:  # an app's failure of any kind: the next request asks the route itself
            log.exception("renewing the kept answer of %s failed", key[0])
        finally:
            del self._renewing[key]

    async def _fresh(self, key: tuple[str, bytes], now: float, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's answer, passed on as it comes and kept when it is a whole 200."""
        start: Message = {}
        chunks: list[bytes] = []
        size = 0

        async def keep(message: Message) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body" and size <= MAX_BODY:
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if not message.get("more_body", False) and start.get("status") == 200 and size <= MAX_BODY:
                    if len(self._answers) >= MAX_ENTRIES:
                        self._answers.pop(next(iter(self._answers)))
                    self._answers[key] = _Answer(now, 200, list(start.get("headers", [])), b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keep)
