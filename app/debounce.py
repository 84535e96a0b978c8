"""The visit flow's debouncer, with a memory that outlives the process (issue 16).

The flow's :class:`edge.debounce.Debouncer` takes a memory (here the outbox database's
:class:`edge.outbox.DebounceStore`) and a ``seal`` for the keys it keeps: a keyed hash
(HMAC-SHA256 under the deployment's pseudonym key), so no ID number is written to disk.
A card scanned again right after a restart is then still the same visit.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
from collections.abc import Callable

from edge.debounce import Debouncer
from edge.outbox import DebounceStore


def sealer(secret: bytes) -> Callable[[bytes], bytes]:
    """The keyed hash of a debounce key (its ID number, or a payload hash)."""

    def seal(key: bytes) -> bytes:
        return hmac.new(secret, b"debounce:" + key, hashlib.sha256).digest()

    return seal


def persistent_debouncer_supported() -> bool:
    """Whether this Debouncer takes a memory (the desk's hook; absent before that merge)."""
    return "memory" in inspect.signature(Debouncer).parameters


def persistent_debouncer(window: float, store: DebounceStore, secret: bytes) -> Debouncer:
    """A debouncer over ``store``; a plain one where the Debouncer has no memory hook yet."""
    if not persistent_debouncer_supported():
        return Debouncer(window)
    make: Callable[..., Debouncer] = Debouncer  # the hook's keywords, whichever Debouncer is installed
    return make(window, memory=store, seal=sealer(secret))
