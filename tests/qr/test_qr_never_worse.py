"""The census: on every image available the pipeline returns at least what its first stage
(zxing-cpp with the same options) returns, and never a wrong text.

"Every image": the shared photographs (all 141, held-out sources included: this is a
property, not a tuned rate) and generated frames of every degradation class of both
generators. A count above zero names the images, so a regression says where it is.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import pytest

from reader_drivers.qr.camera import LIVE_FRAME_BUDGET_MS
from reader_drivers.qr.decode import DecodedSymbol, QrDecoder, decode_first_stage
from simulators.qr_camera_model import CAMERA_CLASSES, CameraFrameGenerator
from simulators.qr_cards import DEGRADATIONS, CardFrameGenerator
from simulators.qr_testdata import is_wrong, real_samples


def census(images, decoder: QrDecoder):
    """(names where the pipeline returned less than the first stage, names with a wrong text)."""
    less, wrong = [], []
    for name, image, is_wrong_payload in images:
        ours = {s.data for s in decoder.decode(image)}
        reference = {s.data for s in decode_first_stage(image)}
        if not reference <= ours:
            less.append(name)
        if any(is_wrong_payload(p) for p in ours):
            wrong.append(name)
    return less, wrong


def real_images():
    for sample in real_samples():
        image = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
        if image is not None:
            yield sample.name, image, lambda p, s=sample: is_wrong(s, p)


@functools.cache
def generated_images(per_class: int = 2) -> tuple:
    """Rendered once per session (the camera model takes ~0.3 s a frame)."""
    return tuple(_generate(per_class))


def _generate(per_class: int):
    cards = CardFrameGenerator(seed=4242)
    camera = CameraFrameGenerator(seed=4242)
    for index in range(per_class):
        for kind in DEGRADATIONS:
            frame = cards.frame(index, kind)
            expected = frame.payload.encode()
            yield f"cards/{kind}/{index}", frame.image, lambda p, e=expected: p != e
        for kind in CAMERA_CLASSES:
            cframe = camera.frame(index, kind)
            expected = cframe.payload.encode()
            yield f"camera/{kind}/{index}", cframe.image, lambda p, e=expected: p != e
    yield "cards/empty", cards.empty_frame(0).image, lambda p: True  # any payload here is wrong


@pytest.mark.parametrize("budget_ms", [None, LIVE_FRAME_BUDGET_MS], ids=["unbounded", "live-budget"])
def test_pipeline_never_below_its_first_stage_and_never_wrong_on_real_photographs(zxing_samples_dir, budget_ms):
    less, wrong = census(real_images(), QrDecoder(budget_ms=budget_ms))
    print(f"real photographs: less than zxing-cpp on {len(less)}, wrong texts on {len(wrong)}")
    assert less == [] and wrong == []


@pytest.mark.parametrize("budget_ms", [None, LIVE_FRAME_BUDGET_MS], ids=["unbounded", "live-budget"])
def test_pipeline_never_below_its_first_stage_and_never_wrong_on_generated_frames(budget_ms):
    less, wrong = census(generated_images(), QrDecoder(budget_ms=budget_ms))
    print(f"generated frames: less than zxing-cpp on {len(less)}, wrong texts on {len(wrong)}")
    assert less == [] and wrong == []


def test_census_catches_a_pipeline_that_drops_first_stage_results():
    """The census must fail when it should: a decoder that loses zxing's reads is counted."""

    class Lossy(QrDecoder):
        def decode(self, image: np.ndarray) -> list[DecodedSymbol]:
            return []

    class Liar(QrDecoder):
        def decode(self, image: np.ndarray) -> list[DecodedSymbol]:
            return [DecodedSymbol(b"not the card", "test")]

    frames = list(generated_images(per_class=1))[:3]
    less, _ = census(frames, Lossy())
    _, wrong = census(frames, Liar())
    assert less and len(wrong) == len(frames)


def test_odd_inputs_never_raise():
    decoder = QrDecoder()
    rng = np.random.default_rng(0)
    shapes = [((1, 1), np.uint8), ((3, 2000), np.uint8), ((2000, 3), np.uint8), ((40, 40, 4), np.uint8),
              ((40, 40, 2), np.uint8), ((64, 64), np.uint16), ((64, 64), np.float32), ((64, 64, 1), np.uint8)]
    for shape, dtype in shapes:
        image = (rng.random(shape) * (65535 if dtype == np.uint16 else 255)).astype(dtype)
        assert decoder.decode(image) == []
