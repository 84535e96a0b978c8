"""Simulated sources behave as QrSources; the synthetic stream yields each card once."""

from __future__ import annotations

import cv2
import pytest

from reader_drivers.qr.source import QrSource, SourceClosed
from simulators.qr_cards import CardFrameGenerator
from simulators.qr_sources import SyntheticCardStream, image_files_source


def test_synthetic_stream_yields_each_card_once_in_order():
    stream = SyntheticCardStream(seed=21, count=3, frames_per_card=3, gap_frames=1)
    assert isinstance(stream, QrSource)
    got = list(stream)  # iteration ends when the stream is exhausted
    assert [p.text for p in got] == stream.expected_payloads
    assert len({p.data for p in got}) == 3
    assert all(p.source_id == "synthetic:21" for p in got)
    with pytest.raises(SourceClosed):
        stream.read(timeout=0.1)


def test_same_card_twice_in_a_row_within_the_window_is_one_checkin():
    # count=1 with 6 frames in view and no gap: one payload
    stream = SyntheticCardStream(seed=22, count=1, frames_per_card=6, gap_frames=0)
    assert len(list(stream)) == 1


def test_image_files_source(tmp_path, zxing_samples_dir):
    gen = CardFrameGenerator(seed=23)
    card = gen.frame(0, "clean")
    card_path = tmp_path / "card.png"
    cv2.imwrite(str(card_path), card.image)
    real = zxing_samples_dir / "qrcode-1" / "1.webp"
    with image_files_source([card_path, real, tmp_path / "missing.png"]) as source:
        got = list(source)
    assert got[0].text == card.payload
    assert got[1].data == (zxing_samples_dir / "qrcode-1" / "1.txt").read_bytes()
    assert len(got) == 2
