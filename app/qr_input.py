"""QR inputs: one worker per QR source, each putting a :class:`QrScanned` on the desk's queue."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from app.components import Worker
from app.events import AgentEvent, QrScanned
from reader_drivers.qr.source import QrSource, SourceClosed

log = logging.getLogger(__name__)


class QrInput(Worker):
    """Reads one source until it is closed; a driver fault is reported and reading goes on."""

    def __init__(self, source: QrSource, emit: Callable[[AgentEvent], None],
                 on_error: Callable[[str], None]) -> None:
        super().__init__(f"qr-{source.source_id}")
        self.source = source
        self._emit = emit
        self._on_error = on_error

    def run(self) -> None:
        while not self.stopping.is_set():
            self.beat()
            try:
                item = self.source.read(timeout=0.5)
            except SourceClosed:
                return
            except Exception as exc:  # a driver fault must not stop the desk
                self._on_error(f"QR source {self.source.source_id}: {exc.__class__.__name__}")
                self.stopping.wait(1.0)
                continue
            if item is not None:
                self._emit(QrScanned(item.data, item.timestamp, dict(item.flags), item.source_id))

    def on_stop(self) -> None:
        try:
            self.source.close()
        except Exception:  # a device already gone
            log.debug("closing a source failed", exc_info=True)


def aim_view(sources: Sequence[QrSource]) -> Callable[[], bytes | None] | None:
    """The technician's aiming view of the first camera source (None without a camera)."""
    # Imported here: a desk without technician mode never loads the camera driver for it.
    from reader_drivers.qr.aim import aim_jpeg
    from reader_drivers.qr.camera import FrameDecodingSource

    camera = next((s for s in sources if isinstance(s, FrameDecodingSource)), None)
    if camera is None:
        return None
    return lambda: aim_jpeg(camera)
