"""Simulated QR sources for CI, through the same interface as the real drivers.

- :func:`image_files_source`: a list of image files, decoded one after another.
- :func:`video_file_source`: a video file through the camera driver itself
  (``CameraSource``), so the grabber thread, frame dropping and end-of-file handling
  are the production code paths.
- :class:`SyntheticCardStream`: a generated stream of synthetic CCCD cards
  (:mod:`simulators.qr_cards`): each card is in view for a few frames, then the desk is
  empty for a few, like a queue at the reception desk.
- :func:`write_card_video`: writes such a stream to a video file (for the camera tests).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from edge.debounce import Debouncer
from reader_drivers.qr.camera import CameraSource, FrameDecodingSource, IterFrames
from reader_drivers.qr.decode import QrDecoder
from simulators.qr_cards import CardFrameGenerator


def image_files_source(
    paths: Sequence[str | Path], *, decoder: QrDecoder | None = None, debouncer: Debouncer | None = None
) -> FrameDecodingSource:
    """Each image once, in order; closes at the end. No debounce by default (distinct files)."""

    def frames() -> Iterator[np.ndarray]:
        for path in paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                yield image

    return FrameDecodingSource(
        IterFrames(frames()), "images", decoder=decoder, debouncer=debouncer or Debouncer(window=0.0)
    )


def video_file_source(path: str | Path, **options: object) -> CameraSource:
    """A video file read through the camera driver (paced at the file's frame rate)."""
    return CameraSource(str(path), source_id=f"video:{Path(path).name}", **options)  # type: ignore[arg-type]


class SyntheticCardStream(FrameDecodingSource):
    """Synthetic cards in view for ``frames_per_card`` frames each, with empty gaps between."""

    def __init__(
        self,
        seed: int = 1,
        count: int = 5,
        *,
        frames_per_card: int = 3,
        gap_frames: int = 1,
        degradation: str | None = "clean",
        frame_size: tuple[int, int] = (1280, 720),
        start: int = 0,
        decoder: QrDecoder | None = None,
        debouncer: Debouncer | None = None,
    ) -> None:
        self.generator = CardFrameGenerator(seed, frame_size)
        self.expected_payloads = [
            self.generator.frame(i, degradation).payload or "" for i in range(start, start + count)
        ]
        self._spec = (start, count, frames_per_card, gap_frames, degradation)
        super().__init__(IterFrames(self._frames()), f"synthetic:{seed}", decoder=decoder, debouncer=debouncer)

    def _frames(self) -> Iterator[np.ndarray]:
        start, count, per_card, gap, degradation = self._spec
        for i in range(start, start + count):
            card = self.generator.frame(i, degradation).image
            for k in range(per_card):
                # small frame-to-frame changes (sensor noise) so frames are not identical copies
                yield card if k == 0 else _jitter(card, k)
            for g in range(gap):
                yield self.generator.empty_frame(i * 31 + g).image


def _jitter(image: np.ndarray, k: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    noise = rng.integers(-3, 4, size=image.shape, dtype=np.int16)
    result: np.ndarray = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return result


def write_card_video(
    path: str | Path,
    *,
    seed: int = 1,
    count: int = 3,
    frames_per_card: int = 8,
    gap_frames: int = 4,
    fps: float = 25.0,
    frame_size: tuple[int, int] = (1280, 720),
    degradation: str | None = "clean",
) -> list[str]:
    """Write a video of synthetic cards; returns the payloads in order.

    MJPG in an .avi: built into OpenCV everywhere, and at high quality the QR survives
    compression (the stream tests the driver, not the decoder's limits).
    """
    generator = CardFrameGenerator(seed, frame_size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, frame_size)
    if not writer.isOpened():
        raise RuntimeError("cannot open a video writer (MJPG/avi)")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    payloads = []
    empty = generator.empty_frame(0).image
    try:
        for _ in range(gap_frames):
            writer.write(empty)
        for i in range(count):
            frame = generator.frame(i, degradation)
            assert frame.payload is not None
            payloads.append(frame.payload)
            for _ in range(frames_per_card):
                writer.write(frame.image)
            for _ in range(gap_frames):
                writer.write(empty)
    finally:
        writer.release()
    return payloads
