"""The real QR test images (zxing-cpp's samples) read in place, with their expected payloads.

The data lives outside the repository: ``<repo>/../shared/testdata`` by default, or the
folder named by the environment variable ``CCCD_TESTDATA``. Nothing is copied.

Each image has a sibling ``.bin`` (expected bytes) or ``.txt`` (expected text, UTF-8).
Structured-append pieces (``01-02.png``) have no sibling: their expected text is the
group's ``01.txt`` and one piece is correct when its payload is a non-empty part of it.
Some symbols are not UTF-8 (Shift-JIS, GB2312, with or without ECI): :func:`matches`
accepts a payload whose bytes equal the expected bytes or, only in that case, whose
bytes read in one of those charsets give the expected text. The same rule is applied to
every decoder in the benchmark.

Sources and the held-out split: each ``qrcode-N`` folder of zxing-cpp's samples was
contributed as one set (one camera, one kind of scene): phone photos of printouts
(``qrcode-1``), web and designer codes (``qrcode-2``), thresholded photos (``qrcode-3``),
codes printed on fabric (``qrcode-4``), webcam shots under uneven light (``qrcode-5``),
rotated synthetic codes (``qrcode-6``), structured append (``qrcode-7``). The files of
``qrcode-2`` named after a zxing-cpp issue (``#1086.png``) came from the people who
reported those bugs, so they are a source of their own (``qrcode-2#issues``).
:data:`HELD_OUT_SOURCES` are never used to tune the pipeline: every rate is reported for
them apart from the rest.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# Charsets found in the sample set; a benchmark judging aid only, never used on CCCD text.
_SAMPLE_CHARSETS = ("utf-8", "cp932", "gb18030", "iso-8859-1")


# Held out by source (see module docstring): three cameras and the issue reporters' photos.
HELD_OUT_SOURCES = frozenset({"qrcode-1", "qrcode-4", "qrcode-5", "qrcode-2#issues"})

# Images holding a second, valid symbol that the expected file does not name: the
# "double QR" of qrcode-2/16 (an inner code inside an outer one; the .txt is the inner
# one's). A decoder returning the outer one has not read a wrong text. Keyed by the
# start of the outer symbol's text.
_OTHER_SYMBOLS = {"qrcode-2/16.webp": "[外側QRコード]"}


def testdata_root() -> Path:
    """``$CCCD_TESTDATA`` or ``<repo>/../shared/testdata``."""
    env = os.environ.get("CCCD_TESTDATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


@dataclass(frozen=True)
class QrSample:
    set_name: str
    path: Path
    expected: bytes
    # "exact": a payload must equal expected; "part": a structured-append piece.
    kind: str = "exact"

    @property
    def name(self) -> str:
        return f"{self.set_name}/{self.path.name}"

    @property
    def source(self) -> str:
        """Who made the image (see module docstring): the folder, or ``qrcode-2#issues``."""
        if self.path.name.startswith("#"):
            return f"{self.set_name}#issues"
        return self.set_name

    @property
    def held_out(self) -> bool:
        return self.source in HELD_OUT_SOURCES


def real_samples(root: Path | None = None) -> list[QrSample]:
    """Every image under ``qr/zxing-cpp/*/`` that has an expected payload."""
    base = (root or testdata_root()) / "qr" / "zxing-cpp"
    samples: list[QrSample] = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            expected, kind = _expected_for(path)
            if expected is not None:
                samples.append(QrSample(folder.name, path, expected, kind))
    return samples


def _expected_for(path: Path) -> tuple[bytes | None, str]:
    for suffix in (".bin", ".txt"):
        sibling = path.with_suffix(suffix)
        if sibling.exists():
            return sibling.read_bytes(), "exact"
    group = re.match(r"^(.+)-\d+$", path.stem)  # structured append: 01-03.png -> 01.txt
    if group:
        for suffix in (".bin", ".txt"):
            sibling = path.with_name(group.group(1) + suffix)
            if sibling.exists():
                return sibling.read_bytes(), "part"
    return None, "exact"


def matches(sample: QrSample, payloads: list[bytes]) -> bool:
    """True when one of the decoded payloads is the sample's expected content."""
    return any(_match_one(sample, p) for p in payloads)


def is_wrong(sample: QrSample, payload: bytes) -> bool:
    """A payload that is neither the expected content nor another symbol known to be there."""
    if _match_one(sample, payload):
        return False
    other = _OTHER_SYMBOLS.get(sample.name)
    return other is None or not _text_in_any_charset(payload).startswith(other)


def _text_in_any_charset(payload: bytes) -> str:
    for charset in _SAMPLE_CHARSETS:
        try:
            return payload.decode(charset)
        except UnicodeDecodeError:
            continue
    return ""


def _match_one(sample: QrSample, payload: bytes) -> bool:
    if sample.kind == "part":
        return bool(payload) and payload in sample.expected
    if payload == sample.expected:
        return True
    try:
        expected_text = sample.expected.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for charset in _SAMPLE_CHARSETS[1:]:
        try:
            if payload.decode(charset) == expected_text:
                return True
        except UnicodeDecodeError:
            continue
    return False
