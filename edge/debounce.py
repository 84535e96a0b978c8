"""Debounce QR reads: one card held in front of the camera is one check-in.

The camera decodes the same card in frame after frame, and a receptionist often scans a
card twice. A read is *new* when its key was not seen within ``window`` seconds; every
sighting refreshes the key, so a card left in view stays one check-in however long it
stays (it must leave the view for a full window before it counts again).

The key is a function of the payload. The default, :func:`debounce_key`, is the 12-digit
ID number when the payload starts with one (so the same card read by the camera and by
a scanner, or with a trailing CR/LF, is still one card), else a hash of the payload
bytes. Pure logic, no I/O; the clock is injectable for tests.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from edge.domain.qr import peek_id_number

KeyFunction = Callable[[bytes], bytes]


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
    ) -> None:
        if window < 0:
            raise ValueError("window must be >= 0")
        self.window = window
        self._key = key
        self._clock = clock
        self._last_seen: OrderedDict[bytes, float] = OrderedDict()
        self._max_keys = max_keys

    def accept(self, data: bytes, *, now: float | None = None) -> bool:
        return self.accept_key(self._key(data), now=now)

    def accept_key(self, key: bytes, *, now: float | None = None) -> bool:
        """As :meth:`accept`, for a key already known (e.g. :func:`id_number_key` after a chip read)."""
        now = self._clock() if now is None else now
        last = self._last_seen.get(key)
        self._last_seen[key] = now  # every sighting refreshes: a card left in view stays one read
        self._last_seen.move_to_end(key)
        self._expire(now)
        return last is None or now - last > self.window

    def _expire(self, now: float) -> None:
        while self._last_seen:
            seen = next(iter(self._last_seen.values()))
            if now - seen <= self.window and len(self._last_seen) <= self._max_keys:
                break
            self._last_seen.popitem(last=False)

    def reset(self) -> None:
        self._last_seen.clear()
