"""The dashboard in a real headless Chromium (Debian's chromium driven by Playwright), served by
the real app: sign in, read coverage per district, and fit a phone screen. Saves a screenshot.
(The officer's dashboard in depth: tests/server/test_officer_browser.py.)"""

from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from srvhelpers import READ_TOKEN, make_settings, serving

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from server.app import create_app
from server.store import Activity
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
    shot = tmp_path / "dashboard.png"
    with serving(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
            page.goto(f"{base}/dashboard")
            assert page.url.endswith("/dashboard/login")
            page.fill("#token", "wrong-token-000000000")
            page.click("button[type=submit]")
            assert "Mã truy cập không đúng" in page.content()
            page.fill("#token", READ_TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("[data-testid=coverage-ratio]")
            assert "Tình hình sử dụng đầu đọc CCCD gắn chip" in page.inner_text("h1")  # as before
            start = (datetime.now(VN).date() - timedelta(days=29)).isoformat()
            end = datetime.now(VN).date().isoformat()
            page.goto(f"{base}/dashboard?period=custom&from={start}&to={end}&province=Thái Bình")
            assert page.locator("[data-testid=area-row]").count() == len(DISTRICTS)
            ratio = page.inner_text("[data-testid=coverage-ratio]")
            assert ratio == "72,9%", ratio  # 35 of 48 facilities have a reader heard this week (comma decimal)
            assert "còn thiếu 13" in page.inner_text(".kpi")  # 13 facilities without a working reader
            assert "Chip đã xác thực" in page.inner_text("[data-testid=trust-mix]")
            assert page.locator("[data-testid=usage-chart] rect.checkin").count() == 30
            # a clean or lost connection is "reported offline", not "lost suddenly"
            page.goto(f"{base}/dashboard?province=Thái Bình&district=Vũ Thư&facility=34008")
            assert "Đã báo ngừng hoạt động" in page.inner_text("[data-testid=reader-table]")
            page.goto(f"{base}/dashboard?period=custom&from={start}&to={end}&province=Thái Bình")
            page.screenshot(path=str(shot), full_page=True)
            # A phone: everything readable without sideways scrolling of the page.
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.context.add_cookies(page.context.cookies())
            phone.goto(f"{base}/dashboard")
            phone.wait_for_selector("[data-testid=coverage-ratio]")
            overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, overflow
            phone.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=False)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    # to docs/ only under scripts/refresh-screenshots.sh; a palette PNG keeps the committed copy small
    target = publish_screenshot(shot, "dashboard.png", palette_colors=64)
    print(f"\nscreenshot: {shot}" + (f" (copied to {target})" if target else ""))
