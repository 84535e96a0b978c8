"""The desk's live state: the current patient, today's history (only when the facility
turns it on), and the agent's status, fanned out to the screen and the HIS feed.

Scans arrive on reader threads; screens listen on the web server's event loop. The hub
is the one place both meet, so it is thread-safe and pushes to each listener's loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from edge.desk.view import PatientView
from edge.domain.qr import VIETNAM_TZ

# The states that end a visit: the ones today's list keeps.
_SETTLED = frozenset({"recorded", "recorded_caution", "not_recorded"})


@dataclass(frozen=True)
class HubEvent:
    """One change for the listeners: its kind, its JSON for the screen, and the view it is about."""

    kind: str  # visit, status, clear
    data: str
    view: PatientView | None = None


@dataclass
class _Listener:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[HubEvent]


class DeskHub:
    """Current patient + status + bounded history, with live listeners."""

    def __init__(
        self,
        *,
        history_enabled: bool = False,
        clear_after_seconds: float = 120.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.history_enabled = history_enabled
        self.clear_after_seconds = clear_after_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._current: PatientView | None = None
        self._photo: tuple[str, bytes, str] | None = None  # visit id, bytes, mime type
        self._history: list[PatientView] = []
        self._history_day: date | None = None
        self._status: dict[str, object] = {}
        self._listeners: list[_Listener] = []

    # -- writers (any thread)
    def show(self, view: PatientView, photo: bytes | None = None, photo_mime: str = "image/jpeg") -> None:
        with self._lock:
            self._current = view
            self._photo = (view.visit_id, photo, photo_mime) if photo else None
            if self.history_enabled and view.state in _SETTLED and view.id_number is not None:
                self._purge_history_locked()
                self._history.append(view)
        self._broadcast(HubEvent("visit", self.view_json(view), view))

    def set_status(self, **status: object) -> None:
        with self._lock:
            self._status.update(status)
            snapshot = dict(self._status)
        self._broadcast(HubEvent("status", json.dumps(snapshot, default=str)))

    def clear(self) -> None:
        with self._lock:
            self._current = None
            self._photo = None
        self._broadcast(HubEvent("clear", "{}"))

    # -- readers
    def current(self) -> PatientView | None:
        with self._lock:
            view = self._current
        if view is not None and self.clear_after_seconds > 0:
            age = (self._clock() - view.scanned_at).total_seconds()
            if age > self.clear_after_seconds:
                self.clear()  # the last patient does not stay on screen for the next one
                return None
        return view

    def photo(self, visit_id: str) -> tuple[bytes, str] | None:
        with self._lock:
            if self._photo and self._photo[0] == visit_id:
                return self._photo[1], self._photo[2]
        return None

    def status(self) -> dict[str, object]:
        with self._lock:
            return dict(self._status)

    def history(self) -> list[PatientView]:
        with self._lock:
            self._purge_history_locked()
            return list(self._history)

    def _purge_history_locked(self) -> None:
        # Retention: until midnight at the desk.
        today = self._clock().astimezone(VIETNAM_TZ).date()
        if self._history_day != today:
            self._history = [v for v in self._history if v.scanned_at.astimezone(VIETNAM_TZ).date() == today]
            self._history_day = today

    def view_json(self, view: PatientView) -> str:
        """The view as the screen reads it, with what the screen derives (photo URL, seconds left)."""
        data = view.model_dump(mode="json")
        data["photo_url"] = f"/screen/photo/{view.visit_id}" if view.has_photo else None
        data["fallback_in_seconds"] = (max(0.0, (view.fallback_at - self._clock()).total_seconds())
                                       if view.fallback_at else None)
        reason = view.reason
        data["reason"] = reason.model_dump(mode="json") if reason else None
        return json.dumps(data, ensure_ascii=False)

    # -- live listeners (event loop side)
    def listen(self) -> _Listener:
        listener = _Listener(asyncio.get_running_loop(), asyncio.Queue(maxsize=100))
        with self._lock:
            self._listeners.append(listener)
        return listener

    def unlisten(self, listener: _Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _broadcast(self, event: HubEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.loop.call_soon_threadsafe(_offer, listener.queue, event)
            except RuntimeError:  # its loop closed
                self.unlisten(listener)


def _offer(queue: asyncio.Queue[HubEvent], item: HubEvent) -> None:
    if queue.full():  # a stalled screen must not hold the desk back: drop its oldest
        queue.get_nowait()
    queue.put_nowait(item)
