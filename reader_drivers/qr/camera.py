"""Camera QR source: OpenCV VideoCapture in a grabber thread, newest frame only, reconnects.

``CameraSource(spec)`` where spec is a device index (``0`` or ``"0"``), a device path
(``/dev/video0``), a video file, a folder of images, or a stream URL (``rtsp://``,
``http://``). Resolution and frame rate are requested from devices (files ignore them).

Why a grabber thread: decoding takes longer than a frame interval on some frames (the
fallbacks), and VideoCapture buffers frames. The thread reads continuously and keeps only
the newest frame; the decode loop always decodes the newest one and never a stale one,
so the desk never lags behind the card. Frames it never decoded are counted in
``stats["dropped"]``.

An idle desk costs little: with the still gate on (the default for devices), once the
view has been unchanged and empty for ``idle_after`` seconds the grabber drops to
``idle_fps`` (it still *grabs* every frame, which for a V4L2 camera only hands the
buffer back to the driver, but converts and hands on only a few a second, and the gate
compares their thumbnails). The first frame that differs from the last one looked at
puts the loop back to full rate, and that frame is decoded at once.

When the camera disappears (read fails, device unplugged, stream dropped) the grabber
releases it and reopens it with exponential backoff (``backoff`` .. ``max_backoff``
seconds), forever, until closed. A video file or image folder that ends closes the
source instead (``SourceClosed``), unless ``loop=True``.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from edge.debounce import Debouncer
from reader_drivers.qr.decode import QrDecoder
from reader_drivers.qr.source import ScannedPayload, SourceBase, SourceClosed, utc_now

log = logging.getLogger(__name__)

Frame = tuple[int, np.ndarray, datetime]  # (sequence number, BGR image, capture time)
Outline = tuple[tuple[float, float], ...]  # a detected symbol's corner points, in frame coordinates
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class FrameProvider(Protocol):
    def next_frame(self, timeout: float | None) -> Frame | None:
        """The newest frame not returned before; None on timeout; SourceClosed when done."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class RateControlled(Protocol):
    """A frame provider that can slow down while the desk is idle."""

    def set_idle(self, idle: bool) -> None: ...


class FrameDecodingSource(SourceBase):
    """Turns any frame provider into a QrSource: decode each frame, debounce, queue payloads."""

    def __init__(
        self,
        frames: FrameProvider,
        source_id: str,
        *,
        decoder: QrDecoder | None = None,
        debouncer: Debouncer | None = None,
        gate: StillSceneGate | None = None,
    ) -> None:
        self.frames = frames
        self.source_id = source_id
        self.decoder = decoder or QrDecoder()
        # The same card in consecutive frames is one read.
        self.debouncer = debouncer if debouncer is not None else Debouncer(window=2.0)
        self.gate = gate
        self._pending: collections.deque[ScannedPayload] = collections.deque()
        self.stats: dict[str, int] = collections.Counter()
        # For the technician's aiming view: a reference to the newest frame (no copy per frame)
        # and the outlines of what its last decode found, swapped in as one tuple (thread-safe read).
        self._aim: tuple[np.ndarray, tuple[Outline, ...]] | None = None

    def read(self, timeout: float | None = None) -> ScannedPayload | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pending:
            if self.closed:
                raise SourceClosed(self.source_id)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            frame = self.frames.next_frame(remaining)
            if frame is None:
                return None
            _, image, stamp = frame
            self._aim = (image, self._aim[1] if self._aim is not None else ())
            if self.gate is not None and not self.gate.should_decode(image):
                self.stats["skipped_still"] += 1
                if isinstance(self.frames, RateControlled):
                    self.frames.set_idle(self.gate.idle)
                continue
            self.stats["decoded"] += 1
            symbols = self.decoder.decode(image)
            self._aim = (image, tuple(s.points for s in symbols if len(s.points) >= 3))
            if self.gate is not None:
                self.gate.record(found=bool(symbols), candidate=self.decoder.saw_candidate)
                if isinstance(self.frames, RateControlled):
                    self.frames.set_idle(self.gate.idle)
            for symbol in symbols:
                if self.debouncer.accept(symbol.data):
                    payload = ScannedPayload(symbol.data, stamp, self.source_id)
                    log.info("qr read source=%s len=%d sha256=%s", self.source_id, len(symbol.data), payload.digest)
                    self._pending.append(payload)
                else:
                    self.stats["repeats"] += 1
            if deadline is not None and time.monotonic() >= deadline and not self._pending:
                return None
        return self._pending.popleft()

    def aim_frame(self) -> tuple[np.ndarray, tuple[Outline, ...]] | None:
        """The newest frame (a copy, made only now) and the QR outlines of its last decode."""
        aim = self._aim
        if aim is None:
            return None
        return aim[0].copy(), aim[1]

    def close(self) -> None:
        if not self.closed:
            self.frames.close()
        super().close()



class StillSceneGate:
    """Skips decoding frames of an unchanged, empty desk: most of a camera's day.

    A 64x36 thumbnail (each pixel averages ~400 of a 720p frame, so sensor noise nearly
    vanishes) is compared with the previous frame's. When nothing moved and the previous
    decode found no QR, the frame is skipped — but never for longer than
    ``max_skip_seconds``, so a card held perfectly still is still read within that time.
    A card entering the view moves, and moving frames are always decoded.

    A QR-like region that did not decode yet (``record(candidate=True)``: a card held
    still but hard to read) keeps every frame decoded for ``persist_seconds`` after the
    last motion: the decoder's budgeted region pass resumes frame after frame.

    ``idle`` turns true once the view has been still and empty for
    ``idle_after_seconds``; the camera then slows down (see the module docstring) and
    the skip limit grows to ``idle_max_skip_seconds``: at that point a card can only
    arrive by moving, which any looked-at frame shows.
    """

    def __init__(self, threshold: float = 2.0, max_skip_seconds: float = 0.5,
                 clock: Callable[[], float] = time.monotonic, *, idle_after_seconds: float = 2.0,
                 idle_max_skip_seconds: float = 5.0, persist_seconds: float = 3.0) -> None:
        self.threshold = threshold
        self.max_skip_seconds = max_skip_seconds
        self.idle_after_seconds = idle_after_seconds
        self.idle_max_skip_seconds = idle_max_skip_seconds
        self.persist_seconds = persist_seconds
        self._clock = clock
        self._previous: np.ndarray | None = None
        self._last_decode = float("-inf")
        self._last_motion = clock()
        self._last_found = True
        self._candidate = False
        self.idle = False

    def should_decode(self, image: np.ndarray) -> bool:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(gray, (64, 36), interpolation=cv2.INTER_AREA).astype(np.int16)
        previous, self._previous = self._previous, thumb
        now = self._clock()
        still = previous is not None and float(np.abs(thumb - previous).mean()) < self.threshold
        if not still:
            self._last_motion = now
        busy = self._last_found or (self._candidate and now - self._last_motion < self.persist_seconds)
        self.idle = still and not busy and now - self._last_motion >= self.idle_after_seconds
        limit = self.idle_max_skip_seconds if self.idle else self.max_skip_seconds
        if still and not busy and now - self._last_decode < limit:
            return False
        self._last_decode = now
        return True

    def record(self, found: bool, candidate: bool = False) -> None:
        self._last_found = found
        self._candidate = candidate
        if found:
            self.idle = False

# --------------------------------------------------------------------------- providers


class IterFrames:
    """Frames from an iterable of images (simulators, image folders): no dropping, in order."""

    def __init__(self, images: Iterable[np.ndarray]) -> None:
        self._it: Iterator[np.ndarray] = iter(images)
        self._seq = 0

    def next_frame(self, timeout: float | None) -> Frame | None:
        try:
            image = next(self._it)
        except StopIteration:
            raise SourceClosed("end of frames") from None
        self._seq += 1
        return self._seq, image, utc_now()

    def close(self) -> None:
        self._it = iter(())


def image_folder_frames(folder: str | Path) -> IterFrames:
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    return IterFrames(img for img in (cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths) if img is not None)


class CaptureGrabber:
    """A VideoCapture read continuously in a thread, keeping only the newest frame."""

    def __init__(
        self,
        spec: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        loop: bool = False,
        realtime: bool | None = None,
        capture_factory: Callable[[int | str], Any] | None = None,
        idle_fps: float = 3.0,
    ) -> None:
        self.spec = spec
        self.width, self.height, self.fps = width, height, fps
        self.backoff, self.max_backoff = backoff, max_backoff
        self.is_file = isinstance(spec, str) and os.path.isfile(spec)
        self.loop = loop
        # Files are paced at their own frame rate by default, like a camera would deliver.
        self.realtime = self.is_file if realtime is None else realtime
        self._factory = capture_factory or _open_capture
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._returned_seq = 0
        self._seq = 0
        self._ended = False
        self._stop = threading.Event()
        self.idle_fps = idle_fps
        self._idle = False
        self.stats: dict[str, int] = collections.Counter()
        self._thread = threading.Thread(target=self._run, name=f"camera-{spec}", daemon=True)
        self._thread.start()

    # -- consumer side

    def next_frame(self, timeout: float | None) -> Frame | None:
        with self._cond:
            self._cond.wait_for(
                lambda: (self._latest is not None and self._latest[0] > self._returned_seq)
                or self._ended
                or self._stop.is_set(),
                timeout,
            )
            if self._latest is not None and self._latest[0] > self._returned_seq:
                frame = self._latest
                self.stats["dropped"] += frame[0] - self._returned_seq - 1  # never decoded
                self._returned_seq = frame[0]
                return frame
            if self._ended or self._stop.is_set():
                raise SourceClosed(str(self.spec))
            return None

    def set_idle(self, idle: bool) -> None:
        """Idle: hand on at most ``idle_fps`` frames a second (the others are grabbed and
        dropped unconverted); not idle: every frame."""
        self._idle = idle

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    # -- grabber thread

    def _run(self) -> None:
        delay = self.backoff
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                self.stats["open_failures"] += 1
                log.warning("camera %s unavailable; retrying in %.1f s", self.spec, delay)
                if self._stop.wait(delay):
                    break
                delay = min(self.max_backoff, delay * 2)
                continue
            self.stats["opens"] += 1
            delay = self.backoff
            ended = self._pump(cap)
            cap.release()
            if ended and self.is_file and not self.loop:
                with self._cond:
                    self._ended = True
                    self._cond.notify_all()
                return
            if not self._stop.is_set() and not (ended and self.is_file):
                self.stats["disconnects"] += 1
                log.warning("camera %s lost; reconnecting", self.spec)
                if self._stop.wait(delay):
                    break
                delay = min(self.max_backoff, delay * 2)

    def _open(self) -> Any | None:
        try:
            cap = self._factory(self.spec)
        except Exception:  # a factory may raise when the device node is gone
            log.debug("open failed", exc_info=True)
            return None
        if cap is None or not cap.isOpened():
            return None
        if not self.is_file:
            if self.width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps:
                cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where supported: no stale frames in the driver
        return cap

    def _pump(self, cap: Any) -> bool:
        """Read until failure or stop. True when the failure is an end of file."""
        interval = 0.0
        if self.realtime:
            fps = cap.get(cv2.CAP_PROP_FPS) or self.fps or 25.0
            interval = 1.0 / max(1.0, float(fps))
        next_due = time.monotonic()
        last_handed = float("-inf")
        can_grab = hasattr(cap, "grab") and hasattr(cap, "retrieve")
        rewound = False
        while not self._stop.is_set():
            now = time.monotonic()
            image: np.ndarray | None = None
            if self._idle and can_grab and now - last_handed < 1.0 / self.idle_fps:
                # idle: take the frame off the driver's queue (it stays fresh) but skip
                # its conversion, the thumbnail and the wake-up of the decode loop
                ok = bool(cap.grab())
                if ok:
                    self.stats["idle_skipped"] += 1
            else:
                ok, image = cap.read()
                ok = ok and image is not None
            if not ok:
                # a looping file rewinds in place (reopening it costs more); a second
                # failure in a row is a real end (or an unreadable file)
                if self.is_file and self.loop and not rewound and cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
                    rewound = True
                    continue
                return self.is_file
            rewound = False
            self.stats["grabbed"] += 1
            if image is not None:
                last_handed = now
                with self._cond:
                    self._seq += 1
                    self._latest = (self._seq, image, utc_now())
                    self._cond.notify_all()
            if interval:
                next_due += interval
                pause = next_due - time.monotonic()
                if pause > 0 and self._stop.wait(pause):
                    break
        return False


def _open_capture(spec: int | str) -> cv2.VideoCapture:
    return cv2.VideoCapture(spec)


def parse_camera_spec(spec: int | str) -> int | str:
    """``"0"`` -> 0 (device index); anything else (path, file, folder, URL) unchanged."""
    if isinstance(spec, int):
        return spec
    if re.fullmatch(r"\d+", spec.strip()):
        return int(spec)
    return spec


LIVE_FRAME_BUDGET_MS = 12.0


class CameraSource(FrameDecodingSource):
    """A QrSource reading a camera, video file, image folder or stream URL (see module doc)."""

    def __init__(
        self,
        spec: int | str,
        *,
        width: int | None = 1280,
        height: int | None = 720,
        fps: float | None = 30,
        source_id: str | None = None,
        decoder: QrDecoder | None = None,
        debouncer: Debouncer | None = None,
        still_gate: bool = True,
        idle_fps: float = 3.0,
        **grabber_options: Any,
    ) -> None:
        spec = parse_camera_spec(spec)
        frames: FrameProvider
        gate: StillSceneGate | None = None
        if isinstance(spec, str) and os.path.isdir(spec):
            frames = image_folder_frames(spec)
        else:
            frames = CaptureGrabber(spec, width=width, height=height, fps=fps, idle_fps=idle_fps, **grabber_options)
            gate = StillSceneGate() if still_gate else None
            # live frames: bound each frame's fallbacks so the loop keeps up with the camera
            decoder = decoder or QrDecoder(budget_ms=LIVE_FRAME_BUDGET_MS)
        super().__init__(frames, source_id or f"camera:{spec}", decoder=decoder, debouncer=debouncer, gate=gate)

    @property
    def grabber_stats(self) -> dict[str, int]:
        return getattr(self.frames, "stats", {})
