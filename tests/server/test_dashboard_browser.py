"""The dashboard in a real headless Chromium (Debian's chromium driven by Playwright), served by
the real app: sign in, read coverage per district, and fit a phone screen. Saves a screenshot.
(The officer's dashboard in depth: tests/server/test_officer_browser.py.)"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from province_data import DISTRICTS, VN, populate
from srvhelpers import READ_TOKEN, make_settings, serving

from server.app import create_app
from server.labels import READER_STATES
from tests.browser import CHROMIUM, publish_screenshot


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)")
def test_dashboard_in_headless_chromium_shows_coverage_and_fits_a_phone(tmp_path):
    from playwright.sync_api import sync_playwright

    app = create_app(make_settings(f"sqlite:///{tmp_path / 'server.sqlite'}"), ingest=False)
    populate(app.state.store, random.Random(5))  # the officer suite's province
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
            # the will (plain "offline") is a lost connection; a clean stop would say so (contract.status)
            page.goto(f"{base}/dashboard?province=Thái Bình&district=Vũ Thư&facility=34008")
            assert READER_STATES["last_will"][0] in page.inner_text("[data-testid=reader-table]")
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
