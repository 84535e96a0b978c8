"""Debian's Chromium driven by Playwright, for the screens' browser tests, and the one way a
test's screenshot reaches the docs.

A browser test saves its screenshots under its own ``tmp_path``. Only an explicit refresh
(``scripts/refresh-screenshots.sh``, which sets ``CCCD_REFRESH_SCREENSHOTS=1``) copies them
over the tracked ``docs/screenshots/*.png``: an ordinary run leaves the checkout untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.suite_rules import REFRESH_SCREENSHOTS_ENV, part_not_run

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if os.access(p, os.X_OK)), None)
# No background networking: this machine's network is closed and Chromium would keep trying.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
MISSING_CHROMIUM = "Debian's chromium is not installed (apt install chromium, or run scripts/setup.sh)"


def have_chromium() -> bool:
    """Whether a test may run its browser part. Without Chromium: under CI the test fails;
    elsewhere it goes on without the browser part, and the run's summary says so."""
    if CHROMIUM is not None:
        return True
    part_not_run(f"browser part: {MISSING_CHROMIUM}")
    return False


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def refreshing_screenshots() -> bool:
    return os.environ.get(REFRESH_SCREENSHOTS_ENV) == "1"


def publish_screenshot(shot: Path, name: str, *, palette_colors: int | None = None) -> Path | None:
    """Copy a test's screenshot to docs/screenshots/<name>, only when refreshing the docs.

    ``palette_colors`` stores it as a palette PNG of that many colours (a small committed file).
    Returns the docs path written, or None on an ordinary run."""
    if not refreshing_screenshots():
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / name
    if palette_colors is None:
        shutil.copyfile(shot, target)
    else:
        from PIL import Image

        Image.open(shot).convert("RGB").quantize(colors=palette_colors).save(target, optimize=True)
    return target
