"""``cccd-edge decode-qr IMAGE...``: decode QR images, one JSON line per image.

Each line: ``{"file": ..., "text": ... | null, "record": {...} | null, "error": ... | null}``.
``text`` is the strict UTF-8 decode of the symbol's bytes; ``record`` is the parsed CCCD
(null when the text is not a CCCD payload, with the reason in ``error``). When an image
holds several symbols, the first one that parses as a CCCD is reported, else the first.
Exit status: 0 when every image gave a text, 1 otherwise, 2 on a usage error.
(The output holds the card's data: it goes to stdout only, never to a log.)
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any, TextIO

import cv2

from edge.domain.messages import DomainError, QrError
from edge.domain.qr import parse_qr
from reader_drivers.qr.decode import QrDecoder, strict_utf8


def _image_error(code: str, lang: str) -> dict[str, Any]:
    """Errors about the image rather than the payload; codes and texts live with the others."""
    return DomainError(code).to_dict(lang)


def decode_image_file(path: str, decoder: QrDecoder, *, today: date | None = None, lang: str = "vi") -> dict[str, Any]:
    """The JSON object for one image file."""
    out: dict[str, Any] = {"file": path, "text": None, "record": None, "error": None}
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        out["error"] = _image_error("image.unreadable", lang)
        return out
    payloads = decoder.decode_bytes(image)
    if not payloads:
        out["error"] = _image_error("qr.not_found", lang)
        return out
    first_error: QrError | None = None
    for data in payloads:
        try:
            record = parse_qr(data, today=today)
        except QrError as exc:
            first_error = first_error or exc
            continue
        out["text"] = strict_utf8(data)
        out["record"] = record.model_dump(mode="json")
        return out
    out["text"] = strict_utf8(payloads[0])
    assert first_error is not None
    out["error"] = first_error.to_dict(lang)
    return out


def decode_qr_main(argv: list[str], *, stdout: TextIO | None = None) -> int:
    """Entry point for ``cccd-edge decode-qr``."""
    parser = argparse.ArgumentParser(prog="cccd-edge decode-qr", description="Decode QR codes in image files.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of error messages")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="reference date (YYYY-MM-DD)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else 2
    out = stdout or sys.stdout
    cv2.setNumThreads(1)  # the Pi's other cores belong to the rest of the agent
    decoder = QrDecoder()
    status = 0
    for path in args.images:
        result = decode_image_file(path, decoder, today=args.today, lang=args.lang)
        if result["text"] is None:
            status = 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return status


if __name__ == "__main__":
    raise SystemExit(decode_qr_main(sys.argv[1:]))
