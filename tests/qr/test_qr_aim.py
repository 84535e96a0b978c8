"""The technician's aiming view: the newest camera frame as JPEG with the detected QR outlined."""

from __future__ import annotations

import cv2
import numpy as np

from reader_drivers.qr.aim import OUTLINE_BGR, aim_jpeg
from reader_drivers.qr.camera import FrameDecodingSource, IterFrames
from reader_drivers.qr.decode import DecodedSymbol
from reader_drivers.qr.source import SourceClosed
from simulators.qr_cards import CardFrameGenerator


class _BlindDecoder:
    """A decoder that reports nothing (like a gate-skipped frame): the view must find the QR itself."""

    saw_candidate = False

    def decode(self, image: np.ndarray) -> list[DecodedSymbol]:
        return []


def look_once(source: FrameDecodingSource) -> None:
    """Let the source decode its one frame (it closes after it)."""
    try:
        source.read(timeout=1.0)
    except SourceClosed:
        pass


def outline_pixels(jpeg: bytes) -> int:
    """Pixels of (nearly) the outline colour in the decoded JPEG (a desk scene has none)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    target = np.array(OUTLINE_BGR, dtype=np.int16)
    return int((np.abs(image.astype(np.int16) - target).max(axis=2) < 60).sum())


def test_the_aiming_view_outlines_the_qr_the_camera_just_read():
    card = CardFrameGenerator(seed=3).frame(1, "clean")
    source = FrameDecodingSource(IterFrames([card.image]), "camera:test")
    assert source.aim_frame() is None and aim_jpeg(source) is None  # nothing before the first frame
    assert source.read(timeout=1.0) is not None
    jpeg = aim_jpeg(source)
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"  # a JPEG
    assert outline_pixels(jpeg) > 200


def test_the_aiming_view_finds_the_outline_itself_when_the_last_decode_gave_none():
    card = CardFrameGenerator(seed=3).frame(2, "clean")
    source = FrameDecodingSource(IterFrames([card.image]), "camera:test", decoder=_BlindDecoder())  # type: ignore[arg-type]
    look_once(source)
    jpeg = aim_jpeg(source)
    assert jpeg is not None
    assert outline_pixels(jpeg) > 200


def test_an_empty_desk_has_no_outline_and_the_cameras_frame_is_drawn_on_a_copy():
    frame = CardFrameGenerator(seed=3).empty_frame(0).image
    source = FrameDecodingSource(IterFrames([frame]), "camera:test")
    look_once(source)
    jpeg = aim_jpeg(source)
    assert jpeg is not None and outline_pixels(jpeg) == 0
    card = CardFrameGenerator(seed=3).frame(1, "clean").image
    original = card.copy()
    read = FrameDecodingSource(IterFrames([card]), "camera:test")
    look_once(read)
    assert aim_jpeg(read) is not None
    assert np.array_equal(card, original)


def test_the_agent_aims_the_first_camera_and_a_desk_without_one_has_no_view():
    from app.qr_input import aim_view

    card = CardFrameGenerator(seed=3).frame(1, "clean").image
    camera = FrameDecodingSource(IterFrames([card]), "camera:test")
    assert aim_view([]) is None
    view = aim_view([camera])
    assert view is not None and view() is None  # no frame yet
    look_once(camera)
    assert (view() or b"")[:2] == b"\xff\xd8"
