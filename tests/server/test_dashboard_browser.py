"""The dashboard in a real headless Chromium (Debian's chromium driven by Playwright):
sign in, read coverage per district, and fit a phone screen. Saves a screenshot."""

from __future__ import annotations

import os
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import uvicorn
from srvhelpers import READ_TOKEN, make_settings

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from server.app import create_app
from server.store import Activity
from simulators.services import free_port
from tests.browser import publish_screenshot

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if os.access(p, os.X_OK)), None)
VN = timezone(timedelta(hours=7))
DISTRICTS = ["TP Thái Bình", "Đông Hưng", "Hưng Hà", "Kiến Xương", "Quỳnh Phụ", "Thái Thụy", "Tiền Hải", "Vũ Thư"]
KINDS = [("hospital", "Bệnh viện đa khoa"), ("health_station", "Trạm y tế xã"), ("private_clinic", "Phòng khám")]


def _populate(store, rng: random.Random) -> None:
    lines = ["code,name,type,province,district,commune"]
    codes = []
    for i in range(48):
        district = DISTRICTS[i % len(DISTRICTS)]
        kind, label = KINDS[0] if i < 8 else KINDS[1] if i < 40 else KINDS[2]
        code = f"34{i + 1:03d}"
        codes.append(code)
        lines.append(f"{code},{label} {district} {i + 1},{kind},Thái Bình,{district},Xã {i + 1}")
    store.import_facilities("\n".join(lines) + "\n")
    now = datetime.now(VN)
    active = [c for i, c in enumerate(codes[:44]) if i % 8 != 7 and i % 11 != 5]  # 35 facilities
    for code in codes[:44]:
        store.add_reader(code, "desk-1")
    methods = [(Method.QR, TrustLevel.QR_ONLY)] * 5 + [(Method.CHIP, TrustLevel.CHIP_VERIFIED)] * 3 + [
        (Method.QR_AND_CHIP, TrustLevel.CHIP_VERIFIED_CLONE_CHECKED)] * 2 + [
        (Method.CHIP, TrustLevel.CHIP_DATA_UNANCHORED)]
    events = []
    for day in range(30):
        for code in active:
            for _ in range(rng.randint(0, 6) + (3 if day > 20 else 0)):
                method, trust = rng.choice(methods)
                when = now - timedelta(days=day, minutes=rng.randint(0, 600))
                events.append(CheckInEvent(event_id=new_event_id(), facility_code=code, reader_id="desk-1",
                                           occurred_at=when, method=method, trust_level=trust,
                                           citizen_pseudonym=f"{rng.randrange(3000):064x}"))
    store.store(events)
    store.store([], [Activity(codes[7], "desk-1", "status", now, "offline")])


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)")
def test_dashboard_in_headless_chromium_shows_coverage_and_fits_a_phone(tmp_path):
    from playwright.sync_api import sync_playwright

    app = create_app(make_settings(f"sqlite:///{tmp_path / 'server.sqlite'}"), ingest=False)
    _populate(app.state.store, random.Random(5))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    shot = tmp_path / "dashboard.png"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
                page.goto(f"http://127.0.0.1:{port}/dashboard")
                assert page.url.endswith("/dashboard/login")
                page.fill("#token", "wrong-token-000000000")
                page.click("button[type=submit]")
                assert "Mã truy cập không đúng" in page.content()
                page.fill("#token", READ_TOKEN)
                page.click("button[type=submit]")
                page.wait_for_selector("[data-testid=coverage-ratio]")
                assert "Tình hình sử dụng đầu đọc CCCD gắn chip" in page.inner_text("h1")
                assert page.locator("[data-testid=district-row]").count() == len(DISTRICTS)
                ratio = page.inner_text("[data-testid=coverage-ratio]")
                assert ratio == "72.9%", ratio  # 35 of 48 facilities have a reader heard this week
                assert page.locator("[data-testid=uncovered-row]").count() == 13
                assert "Mất kết nối đột ngột" in page.inner_text("#mat-ket-noi")
                assert "Chip đã xác thực" in page.inner_text("#tin-cay")
                assert page.locator("#theo-ngay svg rect").count() == 30
                page.screenshot(path=str(shot), full_page=True)
                # A phone: everything readable without sideways scrolling of the page.
                phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
                phone.context.add_cookies(page.context.cookies())
                phone.goto(f"http://127.0.0.1:{port}/dashboard")
                phone.wait_for_selector("[data-testid=coverage-ratio]")
                overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, overflow
                phone.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=False)
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    assert shot.stat().st_size > 10_000
    # to docs/ only under scripts/refresh-screenshots.sh; a palette PNG keeps the committed copy small
    target = publish_screenshot(shot, "dashboard.png", palette_colors=64)
    print(f"\nscreenshot: {shot}" + (f" (copied to {target})" if target else ""))
