"""Debounce QR reads: one card held in front of the camera is one check-in.

The camera decodes the same card in frame after frame, and a receptionist often scans a
card twice. A read is *new* when its key was not seen within ``window`` seconds; every
sighting refreshes the key, so a card left in view stays one check-in however long it
stays (it must leave the view for a full window before it counts again).

The key is a function of the payload. The default, :func:`debounce_key`, is the 12-digit
ID number when the payload starts with one (so the same card read by the camera and by
a scanner, or with a trailing CR/LF, is still one card), else a hash of the payload
bytes. Pure logic, no I/O of its own; the clock is injectable for tests.

A restart must not forget the card just read (it would be a second check-in): given a
:class:`DebounceMemory` (the outbox database), the debouncer writes each new sighting
there and reloads the recent ones when it starts. What it keeps is ``seal(key)`` — the
agent passes a keyed hash, so no ID number is held in memory or written to disk.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from edge.domain.qr import peek_id_number

KeyFunction = Callable[[bytes], bytes]


class DebounceMemory(Protocol):
    """Where sightings outlive the process, by wall-clock time (e.g. ``edge.outbox.DebounceStore``)."""

    def seen(self, key: bytes, at: float) -> bool: ...

    def recent(self, since: float) -> list[tuple[bytes, float]]: ...

    def forget(self, key: bytes) -> None: ...


def id_number_key(id_number: str) -> bytes:
    """The key of a card known by its ID number (a chip read, a parsed QR)."""
    return b"id:" + id_number.encode("ascii")


def debounce_key(data: bytes) -> bytes:
    """The identity of a payload: its ID number when it has one, else a hash of the bytes."""
    id_number = peek_id_number(data)
    if id_number is not None:
        return id_number_key(id_number)
    return b"raw:" + hashlib.sha256(data.strip(b"\r\n\x00")).digest()


class Debouncer:
    """``accept(data)`` returns True for a new check-in, False for a repeat sighting."""

    def __init__(
        self,
        window: float = 3.0,
        *,
        key: KeyFunction = debounce_key,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1024,
        memory: DebounceMemory | None = None,
        seal: KeyFunction | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if window < 0:
            raise ValueError("window must be >= 0")
        self.window = window
        self._key = key
        self._clock = clock
        self._last_seen: OrderedDict[bytes, float] = OrderedDict()
        self._max_keys = max_keys
        self._memory = memory
        self._seal: KeyFunction = seal or (lambda k: k)
        self._wall = wall_clock
        self._written: dict[bytes, float] = {}  # when each key's sighting was last written to the memory
        if memory is not None:
            now, wall = clock(), wall_clock()
            for sealed, at in memory.recent(wall - window):
                self._last_seen[sealed] = now - max(0.0, wall - at)  # the same age, on this clock
                self._written[sealed] = self._last_seen[sealed]

    def accept(self, data: bytes, *, now: float | None = None) -> bool:
        return self.accept_key(self._key(data), now=now)

    def accept_key(self, key: bytes, *, now: float | None = None) -> bool:
        """As :meth:`accept`, for a key already known (e.g. :func:`id_number_key` after a chip read)."""
        now = self._clock() if now is None else now
        key = self._seal(key)
        last = self._last_seen.get(key)
        self._last_seen[key] = now  # every sighting refreshes: a card left in view stays one read
        self._last_seen.move_to_end(key)
        new = last is None or now - last > self.window
        if self._memory is not None and (new or now - self._written.get(key, float("-inf")) >= self.window / 2):
            # Written when new, and again now and then while the card stays in view; not every frame.
            self._memory.seen(key, self._wall())
            self._written[key] = now
        self._expire(now)
        return new

    def forget(self, key: bytes) -> None:
        """The next sighting of ``key`` is new (the receptionist asked to rescan)."""
        key = self._seal(key)
        self._last_seen.pop(key, None)
        self._written.pop(key, None)
        if self._memory is not None:
            self._memory.forget(key)

    def _expire(self, now: float) -> None:
        while self._last_seen:
            seen = next(iter(self._last_seen.values()))
            if now - seen <= self.window and len(self._last_seen) <= self._max_keys:
                break
            key, _ = self._last_seen.popitem(last=False)
            self._written.pop(key, None)

    def reset(self) -> None:
        self._last_seen.clear()
        self._written.clear()
