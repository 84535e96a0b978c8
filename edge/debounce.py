"""Debounce QR reads: one card held in front of the camera is one check-in.

The camera decodes the same card in frame after frame, and a receptionist often scans a
card twice. A read is *new* when its key was not seen within ``window`` seconds; every
sighting refreshes the key, so a card left in view stays one check-in however long it
stays (it must leave the view for a full window before it counts again).

The key is the 12-digit ID number when the payload starts with one (so the same card
read by the camera and by a scanner, or with a trailing CR/LF, is still one card), else
the payload bytes. Pure logic, no I/O; the clock is injectable for tests.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable

_ID_PREFIX = re.compile(rb"^(?:\xef\xbb\xbf)?([0-9]{12})\|")


def debounce_key(data: bytes) -> bytes:
    """The identity of a payload: its ID number when it has one, else a hash of the bytes."""
    match = _ID_PREFIX.match(data)
    if match:
        return b"id:" + match.group(1)
    return b"raw:" + hashlib.sha256(data.strip(b"\r\n\x00")).digest()


class Debouncer:
    """``accept(data)`` returns True for a new check-in, False for a repeat sighting."""

    def __init__(
        self, window: float = 3.0, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 1024
    ) -> None:
        if window < 0:
            raise ValueError("window must be >= 0")
        self.window = window
        self._clock = clock
        self._last_seen: OrderedDict[bytes, float] = OrderedDict()
        self._max_keys = max_keys

    def accept(self, data: bytes, *, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        key = debounce_key(data)
        last = self._last_seen.get(key)
        self._last_seen[key] = now  # every sighting refreshes: a card left in view stays one read
        self._last_seen.move_to_end(key)
        self._expire(now)
        return last is None or now - last > self.window

    def _expire(self, now: float) -> None:
        while self._last_seen:
            key, seen = next(iter(self._last_seen.items()))
            if now - seen <= self.window and len(self._last_seen) <= self._max_keys:
                break
            self._last_seen.popitem(last=False)

    def reset(self) -> None:
        self._last_seen.clear()
