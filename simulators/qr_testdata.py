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
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# Charsets found in the sample set; a benchmark judging aid only, never used on CCCD text.
_SAMPLE_CHARSETS = ("utf-8", "cp932", "gb18030", "iso-8859-1")


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
