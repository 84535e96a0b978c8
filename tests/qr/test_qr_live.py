"""Live video: a simulated clip of a card brought into view, held and taken away is read,
once, through the production camera path (grabber thread, still gate, live budget)."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from reader_drivers.qr.camera import LIVE_FRAME_BUDGET_MS, CameraSource, FrameDecodingSource, IterFrames
from reader_drivers.qr.decode import QrDecoder
from reader_drivers.qr.source import SourceClosed
from simulators.qr_clips import Clip, card_clip


@functools.cache
def clip() -> Clip:
    return card_clip(seed=31, index=0, lead_seconds=0.3, hold_seconds=1.2, condition="lit")


def test_clip_shows_an_empty_desk_then_the_card_moving_still_and_leaving():
    c = clip()
    assert 0 < c.first_card_frame < c.still_frame < c.leave_frame < len(c.frames)
    assert all(f.shape == (720, 1280, 3) for f in c.frames)
    entry, held = c.frames[c.first_card_frame + 1], c.frames[c.still_frame + 2]
    # the moving card is smeared: less fine detail than the held one
    sharpness = [cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var() for f in (entry, held)]
    assert sharpness[0] < sharpness[1]


def test_clip_is_read_once_frame_by_frame_with_the_live_budget():
    c = clip()
    source = FrameDecodingSource(IterFrames(c.frames), "clip", decoder=QrDecoder(budget_ms=LIVE_FRAME_BUDGET_MS))
    got = list(source)
    assert [p.data for p in got] == [c.payload.encode()]


class ClipCapture:
    """A camera stand-in that plays the clip and then shows the empty desk."""

    def __init__(self, frames: tuple[np.ndarray, ...]) -> None:
        self.frames = frames
        self.index = -1

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return 15.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def grab(self) -> bool:
        self.index = min(self.index + 1, len(self.frames) - 1)
        return True

    def retrieve(self):
        return True, self.frames[self.index]

    def read(self):
        self.grab()
        return self.retrieve()

    def release(self) -> None:
        pass


def test_clip_played_at_15_fps_through_the_camera_source_is_read_once():
    c = clip()
    capture = ClipCapture(c.frames)
    source = CameraSource(0, fps=15, capture_factory=lambda spec: capture, realtime=True, backoff=60)
    got = []
    try:
        while capture.index < len(c.frames) - 1:
            try:
                payload = source.read(timeout=0.2)
            except SourceClosed:
                break
            if payload is not None:
                got.append(payload.data)
    finally:
        source.close()
    assert got == [c.payload.encode()]
