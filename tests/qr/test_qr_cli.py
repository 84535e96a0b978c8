"""cccd-edge decode-qr: one JSON line per image."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import segno

from reader_drivers.qr.cli import decode_qr_main
from simulators.qr_cards import CardFrameGenerator


def run(paths, *extra) -> tuple[int, list[dict]]:
    out = io.StringIO()
    status = decode_qr_main([*map(str, paths), *extra], stdout=out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def test_decode_qr_prints_text_record_or_error(tmp_path):
    card = CardFrameGenerator(seed=31).frame(0, "perspective")
    card_path = tmp_path / "card.jpg"
    cv2.imwrite(str(card_path), card.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    url_path = tmp_path / "url.png"
    segno.make("https://example.org/", micro=False).save(str(url_path), scale=6)
    blank_path = tmp_path / "blank.png"
    cv2.imwrite(str(blank_path), np.full((200, 200), 255, np.uint8))
    junk_path = tmp_path / "junk.png"
    junk_path.write_bytes(b"not an image")

    status, lines = run([card_path, url_path, blank_path, junk_path], "--today", "2026-01-01")
    assert status == 1  # two images gave no text
    assert [line["file"] for line in lines] == [str(p) for p in (card_path, url_path, blank_path, junk_path)]
    first = lines[0]
    assert first["text"] == card.payload and first["error"] is None
    assert first["record"]["full_name"] == card.full_name  # Vietnamese intact
    assert set(lines[1]) == {"file", "text", "record", "error"}
    assert lines[1]["text"] == "https://example.org/" and lines[1]["record"] is None
    assert lines[1]["error"]["code"] == "qr.not_cccd"
    assert lines[2]["text"] is None and lines[2]["error"]["code"] == "qr.not_found"
    assert lines[3]["error"]["code"] == "image.unreadable"


def test_all_decoded_exit_zero_and_english_messages(tmp_path):
    path = tmp_path / "a.png"
    segno.make("hello", micro=False).save(str(path), scale=5)
    status, lines = run([path], "--lang", "en")
    assert status == 0
    assert lines[0]["error"]["message"] == lines[0]["error"]["message_en"]


def test_usage_error_is_status_2():
    assert decode_qr_main([], stdout=io.StringIO()) == 2
