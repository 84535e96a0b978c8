"""The officer's dashboard in a real Chromium: pickers, drill-down with breadcrumb and
shareable URLs, coverage over time against the target, rejected attempts beside
check-ins, meaningful colours, local time with the zone, Vietnamese numbers, self-refresh
that keeps the view, exports, and legibility at 390, 1280 and 1920 px. Screenshots go to
$CCCD_SCREENSHOT_DIR (or the test's tmp dir), never into docs/."""

from __future__ import annotations

import csv
import io
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import openpyxl
import pytest
from province_data import DISTRICTS, checkin, populate
from srvhelpers import READ_TOKEN, make_settings, serving

from contract.events import Method
from contract.levels import TrustLevel
from server.app import create_app
from server.labels import READER_STATES
from server.store import EventStore
from tests.browser import CHROMIUM, CHROMIUM_ARGS, publish_screenshot

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("officer")
    app = create_app(make_settings(f"sqlite:///{tmp / 'server.sqlite'}"), ingest=False)  # the real app
    store: EventStore = app.state.store
    codes, checkins, rejected = populate(store, random.Random(5))
    shots = Path(os.environ.get("CCCD_SCREENSHOT_DIR") or tmp)
    shots.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with serving(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
            login = context.new_page()  # one sign-in for the module: its session cookie serves every page
            login.goto(f"{url}/dashboard")
            login.fill("#token", READ_TOKEN)
            login.click("button[type=submit]")
            login.wait_for_selector("[data-testid=coverage-ratio]")
            login.close()
            yield {"url": f"{url}", "store": store, "codes": codes, "checkins": checkins,
                   "rejected": rejected, "context": context, "shots": shots}
        finally:
            browser.close()
    for shot in sorted(shots.glob("*.png")):  # into docs/ only under scripts/refresh-screenshots.sh
        publish_screenshot(shot, f"officer-{shot.name}", palette_colors=64)


def _page(served, width: int, height: int = 1000):  # type: ignore[no-untyped-def]
    page = served["context"].new_page()
    page.set_viewport_size({"width": width, "height": height})
    return page


def _vn(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def test_province_level_counts_rejected_beside_check_ins_with_meaningful_colours(served):
    page = _page(served, 1920)
    page.goto(f"{served['url']}/dashboard?period=quarter&province=Thái Bình")
    assert page.inner_text("[data-testid=coverage-ratio]") == "72,9%"  # 35/48, a comma decimal
    assert page.inner_text("[data-testid=checkins]") == _vn(served["checkins"])  # invalid reads not inside
    assert page.inner_text("[data-testid=rejected]") == _vn(served["rejected"])
    assert page.locator("[data-testid=area-row]").count() == len(DISTRICTS)
    assert page.inner_text("[data-testid=period-label]") == "Quý IV/2026"
    assert page.inner_text("[data-testid=generated-at]").endswith("GMT+07:00")
    colours = {li.get_attribute("data-key"): li.get_attribute("data-colour")
               for li in page.locator("[data-testid=trust-mix] li").all()}
    assert colours["invalid"] == "#b3261e"  # rejected in red
    assert colours["chip_verified"] != colours["qr_only"] and len(set(colours.values())) == len(colours) == 5
    assert "Chip đã xác thực" in page.inner_text("[data-testid=trust-mix]")  # the desk's words
    assert "invalid" not in {li.get_attribute("data-key") for li in page.locator("[data-testid=method-mix] li").all()}
    rejected_fill = page.eval_on_selector("#usage-over-time rect.rejected", "e => getComputedStyle(e).fill")
    assert rejected_fill == "rgb(179, 38, 30)"
    # the districts furthest from the target first
    cells = page.locator("[data-testid=area-row] .pct").all_inner_texts()
    shares = [float(t.replace("%", "").replace(",", ".")) for t in cells]
    assert shares == sorted(shares)
    page.screenshot(path=str(served["shots"] / "dashboard-province-1920.png"), full_page=True)
    page.close()


def test_coverage_over_time_is_a_weekly_share_with_the_target_line(served):
    page = _page(served, 1280)
    page.goto(f"{served['url']}/dashboard?period=month&province=Thái Bình")
    bars = page.locator("[data-testid=coverage-chart] rect")
    assert bars.count() >= 12
    shares = [float(b.get_attribute("data-share")) for b in bars.all()]
    assert all(0 <= s <= 1 for s in shares) and max(shares) == pytest.approx(35 / 48, abs=1e-3)
    assert shares[0] == 0  # weeks before the first read: nothing
    assert page.locator("[data-testid=target-line]").count() == 1
    assert page.inner_text("#coverage-over-time .ylab.top") == "100%"
    page.locator("#coverage-over-time").screenshot(path=str(served["shots"] / "coverage-over-time-1280.png"))
    page.screenshot(path=str(served["shots"] / "dashboard-province-1280.png"), full_page=True)
    page.close()


def test_drill_down_province_district_facility_reader_with_breadcrumb_and_shareable_urls(served):
    page = _page(served, 1280)
    page.goto(f"{served['url']}/dashboard?period=quarter")
    assert page.locator("[data-testid=area-row]").count() == 2  # Hà Nam and Thái Bình
    page.click("[data-testid=area-row] a:text('Thái Bình')")
    assert parse_qs(urlparse(page.url).query)["province"] == ["Thái Bình"]
    page.click("[data-testid=area-row] a:text('Vũ Thư')")
    query = parse_qs(urlparse(page.url).query)
    assert query["district"] == ["Vũ Thư"] and query["period"] == ["quarter"]
    assert page.inner_text("[data-testid=breadcrumb]").split(" › ") == ["Toàn quốc", "Thái Bình", "Vũ Thư"]
    rows = page.locator("[data-testid=facility-row]")
    assert rows.count() == 6
    page.screenshot(path=str(served["shots"] / "dashboard-district-1280.png"), full_page=True)
    rows.first.locator("a").click()
    assert parse_qs(urlparse(page.url).query)["facility"] == ["34008"]
    assert page.inner_text("[data-testid=breadcrumb]").split(" › ")[-1] == "Bệnh viện đa khoa Vũ Thư 8"  # its name
    assert page.locator("[data-testid=reader-row]").count() == 1
    states = page.locator("[data-testid=reader-row] .badge").get_attribute("data-state")
    assert states == "last_will"  # 34008's reader's last status is the will: a lost connection
    assert READER_STATES["last_will"][0] in page.inner_text("[data-testid=reader-table]")
    page.screenshot(path=str(served["shots"] / "dashboard-facility-1280.png"), full_page=True)
    page.click("[data-testid=reader-row] a")
    page.wait_for_selector("[data-testid=reader-detail]")  # the click navigates: wait for the new page
    assert page.locator("[data-testid=reader-detail]").count() == 1
    shared = page.url
    crumbs = page.inner_text("[data-testid=breadcrumb]")
    page.click("[data-testid=breadcrumb] a:text('Thái Bình')")
    assert "district" not in parse_qs(urlparse(page.url).query)
    other = _page(served, 1280)  # a shared link opens the same view
    other.goto(shared)
    assert other.inner_text("[data-testid=breadcrumb]") == crumbs
    assert other.locator("[data-testid=reader-detail]").count() == 1
    other.close()
    page.close()


def test_pickers_choose_period_and_area_and_custom_ranges(served):
    page = _page(served, 1280)
    page.goto(f"{served['url']}/dashboard")
    assert page.inner_text("[data-testid=period-label]") == "Tháng 12/2026"
    assert not page.is_visible("[data-testid=from]")  # only for a custom range
    page.select_option("[data-testid=period]", "week")
    page.select_option("[data-testid=province]", "Thái Bình")
    page.click("[data-testid=apply]")
    q = parse_qs(urlparse(page.url).query)
    assert q["period"] == ["week"] and q["province"] == ["Thái Bình"] and "from" not in q
    assert page.inner_text("[data-testid=period-label]").startswith("Tuần ")
    page.select_option("[data-testid=district]", "Tiền Hải")
    page.select_option("[data-testid=period]", "custom")
    assert page.is_visible("[data-testid=from]")
    page.fill("[data-testid=from]", "2026-11-10")
    page.fill("[data-testid=to]", "2026-11-20")
    page.click("[data-testid=apply]")
    q = parse_qs(urlparse(page.url).query)
    assert q["from"] == ["2026-11-10"] and q["to"] == ["2026-11-20"] and q["district"] == ["Tiền Hải"]
    assert page.inner_text("[data-testid=period-label]") == "10/11/2026 – 20/11/2026"
    assert page.locator("[data-testid=usage-chart] rect.checkin").count() == 11
    page.click("[data-testid=prev]")
    assert parse_qs(urlparse(page.url).query)["from"] == ["2026-10-30"]
    response = page.goto(f"{served['url']}/dashboard?period=custom&from=2020-01-01&to=2026-01-01")
    assert response.status == 422  # a range the dashboard will not compute
    page.close()


def test_the_page_refreshes_itself_without_losing_the_view(served):
    page = _page(served, 1280)
    url = f"{served['url']}/dashboard?period=day&province=Thái Bình&refresh=5"
    page.goto(url)
    before = int(page.inner_text("[data-testid=checkins]").replace(".", ""))
    page.evaluate("window.__kept = 'same document'")
    page.evaluate("window.scrollTo(0, 400)")
    rng = random.Random(9)
    served["store"].store([checkin(served["codes"][1], datetime.now(UTC), rng, TrustLevel.CHIP_VERIFIED, Method.CHIP)
                           for _ in range(3)])
    # polled from here: the page's CSP (no eval) refuses wait_for_function's string predicate
    deadline = time.monotonic() + 20
    while int(page.inner_text("[data-testid=checkins]").replace(".", "")) != before + 3:
        assert time.monotonic() < deadline, "the page did not refresh its numbers"
        page.wait_for_timeout(200)
    assert page.evaluate("window.__kept") == "same document"  # no reload
    assert page.url == page.evaluate("location.href") and "refresh=5" in page.url
    assert page.evaluate("window.scrollY") > 0
    page.close()


def test_english_switch_and_exports_open_in_spreadsheet_readers(served):
    page = _page(served, 1280)
    page.goto(f"{served['url']}/dashboard?period=quarter&province=Thái Bình")
    page.click("[data-testid=lang-switch]")
    assert "lang=en" in page.url
    assert page.inner_text("[data-testid=coverage-ratio]") == "72.9%"
    assert "Rejected" in page.inner_text("#usage-over-time")
    page.goto(f"{served['url']}/dashboard?period=quarter&province=Thái Bình")
    shown = int(page.inner_text("[data-testid=checkins]").replace(".", ""))
    href = page.get_attribute("[data-testid=export-csv]", "href")
    body = page.request.get(served["url"] + href).body()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Huyện", "Số cơ sở", "Có đầu đọc hoạt động (hiện tại)"]
    assert {r[0] for r in rows[1:]} == set(DISTRICTS)
    assert all(r[3].endswith("%") and "," in r[3] for r in rows[1:] if r[3] != "0,0%")
    xlsx = page.request.get(served["url"] + page.get_attribute("[data-testid=export-xlsx]", "href")).body()
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    sheet = book.active
    assert sheet["A1"].value == "Huyện" and sheet["D2"].number_format == "0.0%"
    assert sum(sheet.cell(row=i, column=6).value for i in range(2, 10)) == shown
    page.close()


LEVELS = {"province": "province=Thái Bình", "district": "province=Thái Bình&district=Kiến Xương",
          "facility": "province=Thái Bình&district=Kiến Xương&facility=34004"}


@pytest.mark.parametrize("width", [390, 1920])
@pytest.mark.parametrize("level", list(LEVELS))
def test_legible_on_a_phone_and_a_wide_screen(served, width, level):
    page = _page(served, width, 844 if width == 390 else 1080)
    page.goto(f"{served['url']}/dashboard?period=quarter&{LEVELS[level]}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    sizes = page.eval_on_selector_all(".xlabs span, .ylab, .kpi span, td, th",
                                      "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert min(sizes) >= 11.5, min(sizes)  # axis labels are HTML text, not shrunken SVG text
    chart = page.locator("[data-testid=usage-chart]").bounding_box()
    assert chart["width"] >= min(width * 0.7, 500) and chart["height"] >= 140  # two charts side by side when wide
    page.screenshot(path=str(served["shots"] / f"dashboard-{level}-{width}.png"), full_page=True)
    page.close()


def test_the_report_opens_from_the_dashboard_with_its_print_button(served):
    page = _page(served, 1280)
    page.goto(f"{served['url']}/dashboard?period=quarter&province=Thái Bình")
    page.click("[data-testid=report-link]")
    assert "/reports/province?period=" in page.url
    assert "Quý IV/2026" in page.inner_text("[data-testid=report-title]")
    page.wait_for_selector("[data-print]", state="visible")  # the page's own script ran (the CSP allows it)
    assert page.get_attribute("[data-testid=report-xlsx]", "href").endswith("format=xlsx")
    page.close()
