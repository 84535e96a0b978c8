"""The one small interface every QR source implements: camera, scanners, simulators.

A source yields :class:`ScannedPayload` objects. Two ways to consume one, both simple to
test: ``read(timeout)`` returns the next payload or None when nothing arrived in time;
iterating calls ``read`` until the source is closed or exhausted. ``close()`` releases
the device and is safe to call twice. Sources are context managers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


class SourceClosed(Exception):
    """Raised by ``read`` once a source is closed or exhausted (end of a file, a list)."""


@dataclass(frozen=True)
class ScannedPayload:
    """One decoded QR payload, as it came off the device."""

    data: bytes
    timestamp: datetime  # aware, UTC
    source_id: str
    # Source-specific findings, e.g. {"diacritics_lost": True} from a keyboard scanner.
    flags: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str | None:
        """Strict UTF-8 decode of the bytes, or None (never a charset guess)."""
        from reader_drivers.qr.decode import strict_utf8  # decode loads cv2: keep this interface light

        return strict_utf8(self.data)

    @property
    def digest(self) -> str:
        """A short hash of the payload: what logs show instead of the payload."""
        return hashlib.sha256(self.data).hexdigest()[:12]

    def __repr__(self) -> str:  # the payload holds a name and an ID number: keep it out of logs
        return (
            f"ScannedPayload(len={len(self.data)}, sha256={self.digest}, "
            f"source_id={self.source_id!r}, timestamp={self.timestamp.isoformat()})"
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


@runtime_checkable
class QrSource(Protocol):
    """What the check-in loop needs from any QR source."""

    source_id: str

    def read(self, timeout: float | None = None) -> ScannedPayload | None:
        """The next payload; None if none within ``timeout`` s; SourceClosed when done."""
        ...

    def close(self) -> None: ...


class SourceBase:
    """Shared plumbing: iteration, context manager, idempotent close."""

    source_id: str = "source"
    closed: bool = False

    def read(self, timeout: float | None = None) -> ScannedPayload | None:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True

    def __iter__(self) -> Iterator[ScannedPayload]:
        while True:
            try:
                item = self.read(timeout=0.5)
            except SourceClosed:
                return
            if item is not None:
                yield item

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
