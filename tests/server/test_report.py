"""The province's periodic report: its figures from a known fleet (SQLite and PostgreSQL),
its XLSX read back by openpyxl, and its printable page printed to an A4 PDF by Chromium
and rendered to PNG by pdftoppm."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from edge.events import CheckInEvent, Method, new_event_id
from edge.trust.levels import TrustLevel
from server.db import init_db, make_engine
from server.localformat import LocalFormat
from server.report import Period, PeriodError, build_report, render_report_html, report_xlsx
from server.store import EventStore
from server.store.areas import Area
from tests.browser import CHROMIUM, chromium_page, publish_screenshot

VN = timezone(timedelta(hours=7))
PROVINCE = "Thái Bình"
# code, name, type, district
FACILITIES = [
    ("34001", "Bệnh viện Đa khoa tỉnh Thái Bình", "hospital", "TP Thái Bình"),
    ("34002", "Trạm y tế phường Đề Thám", "health_station", "TP Thái Bình"),
    ("34003", "Trạm y tế xã Vũ Hội", "health_station", "Vũ Thư"),
    ("34004", "Phòng khám Đa khoa Hồng Phúc", "private_clinic", "Vũ Thư"),
    ("34005", "Trạm y tế xã Nam Hà", "health_station", "Tiền Hải"),
    ("34006", "=HYPERLINK(\"http://x\",\"Trạm y tế\")", "health_station", "Tiền Hải"),
    ("35001", "Bệnh viện Đa khoa tỉnh Hà Nam", "hospital", "Phủ Lý"),
]


def _citizen(n: int) -> str:
    return f"{n:064x}"


def _event(code: str, day: datetime, citizen: int, trust: TrustLevel = TrustLevel.CHIP_VERIFIED) -> CheckInEvent:
    method = Method.QR if trust in (TrustLevel.QR_ONLY, TrustLevel.INVALID) else Method.CHIP
    return CheckInEvent(event_id=new_event_id(), facility_code=code, reader_id="desk-1", occurred_at=day,
                        method=method, trust_level=trust, citizen_pseudonym=_citizen(citizen))


def populate(store: EventStore) -> None:
    lines = ["code,name,type,province,district,commune"]
    for code, name, kind, district in FACILITIES:
        province = "Hà Nam" if code.startswith("35") else PROVINCE
        lines.append(f'{code},"{name.replace(chr(34), chr(34) * 2)}",{kind},{province},{district},')
    store.import_facilities("\n".join(lines) + "\n")
    for code, *_ in FACILITIES[:5]:
        store.add_reader(code, "desk-1")
    oct_, nov, dec = (datetime(2026, m, 10, 9, 0, tzinfo=VN) for m in (10, 11, 12))
    # Rejected attempts reuse citizens who also checked in in the same month, district and
    # quarter, so that these figures do not depend on whether a rejected read's pseudonym
    # counts as a citizen (it must not: tests/server/test_counting.py).
    events = [
        # October: 34001 only (3 check-ins by 2 citizens)
        _event("34001", oct_, 1), _event("34001", oct_, 1), _event("34001", oct_ + timedelta(days=1), 2),
        # November: 34001, 34003; citizen 1 also goes to Vũ Thư; one rejected attempt at 34003
        _event("34001", nov, 1), _event("34003", nov, 1), _event("34003", nov, 3, TrustLevel.QR_ONLY),
        _event("34003", nov, 3, TrustLevel.INVALID),
        # December: a rejected attempt at 34004 (its reader is in use) and a check-in at 34001
        _event("34004", dec, 3, TrustLevel.INVALID), _event("34001", dec, 3),
        # another province: never in Thái Bình's figures
        _event("35001", nov, 9),
        # the night of 30 November local time is still November (23:30 +07:00 = 16:30 UTC)
        _event("34002", datetime(2026, 11, 30, 23, 30, tzinfo=VN), 6),
    ]
    store.add_reader("35001", "desk-1")
    store.store(events)


@pytest.fixture
def report_store(database_url: str) -> EventStore:
    engine = make_engine(database_url)
    init_db(engine)
    store = EventStore(engine)
    populate(store)
    return store


def test_period_parsing_covers_months_and_quarters_and_refuses_the_rest():
    q4 = Period.parse("2026-Q4")
    assert (q4.start.isoformat(), q4.end.isoformat()) == ("2026-10-01", "2026-12-31")
    assert q4.label("vi") == "Quý IV/2026" and q4.label("en") == "Q4 2026"
    feb = Period.parse("2024-02")
    assert feb.end.isoformat() == "2024-02-29" and feb.label("vi") == "Tháng 2/2024"
    assert [m.month for m in Period.parse("2023-Q1").months()] == [1, 2, 3]
    for bad in ("2026-13", "2026-Q5", "26-01", "9999-01", "2026-1", "", "2026-Q1; drop"):
        with pytest.raises(PeriodError):
            Period.parse(bad)


def test_quarter_report_counts_facilities_check_ins_rejections_and_citizens(report_store):
    with report_store.engine.connect() as conn:
        r = build_report(conn, Period.parse("2026-Q4"), Area(PROVINCE))
    t = r.total
    assert (t.facilities, t.with_reader, t.missing) == (6, 4, 2)  # 34001, 34002, 34003, 34004 read cards
    assert abs(t.share - 4 / 6) < 1e-9
    assert t.checkins == 8  # rejected attempts are not check-ins
    assert t.rejected == 2
    assert t.citizens == 4  # citizens 1, 2, 3, 6: citizens 1 and 3 counted once across two districts
    districts = {d.label: d for d in r.by_district}
    assert set(districts) == {"TP Thái Bình", "Vũ Thư", "Tiền Hải"}
    assert (districts["Vũ Thư"].with_reader, districts["Vũ Thư"].checkins, districts["Vũ Thư"].rejected) == (2, 2, 2)
    assert districts["Tiền Hải"].with_reader == 0 and districts["Tiền Hải"].facilities == 2
    assert {d: x.citizens for d, x in districts.items()} == {"TP Thái Bình": 4, "Vũ Thư": 2, "Tiền Hải": 0}
    types = {x.label: x for x in r.by_type}
    assert (types["Trạm y tế"].facilities, types["Trạm y tế"].with_reader) == (4, 2)
    assert types["Bệnh viện"].checkins == 5
    months = [(m.label, m.with_reader, m.checkins, m.rejected, m.citizens) for m in r.by_month]
    assert months == [("Tháng 10/2026", 1, 3, 0, 2), ("Tháng 11/2026", 3, 4, 1, 3), ("Tháng 12/2026", 2, 1, 1, 1)]
    assert [m.code for m in r.without_reader] == ["34005", "34006"] and r.without_reader_total == 2
    assert r.without_reader[0].readers == 1 and r.without_reader[1].readers == 0


def test_month_and_district_narrow_the_report(report_store):
    with report_store.engine.connect() as conn:
        r = build_report(conn, Period.parse("2026-11"), Area(PROVINCE, "Vũ Thư"), "en")
    assert (r.total.facilities, r.total.with_reader, r.total.checkins, r.total.rejected) == (2, 1, 2, 1)
    assert [m.code for m in r.without_reader] == ["34004"]
    assert r.total.label == "Total" and r.by_month[0].label == "November 2026"


def test_report_xlsx_opens_with_typed_figures_and_vietnamese_text(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    init_db(engine)
    store = EventStore(engine)
    populate(store)
    with engine.connect() as conn:
        report = build_report(conn, Period.parse("2026-Q4"), Area(PROVINCE))
    path = tmp_path / "bao-cao.xlsx"
    path.write_bytes(report_xlsx(report, LocalFormat("vi")))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["tong-hop", "theo-huyen", "theo-loai", "chua-co-dau-doc"]
    summary = book["tong-hop"]
    assert [c.value for c in summary[1]][:4] == ["Kỳ báo cáo", "Số cơ sở", "Có đầu đọc hoạt động", "Tỉ lệ"]
    total = list(summary[5])
    assert total[0].value == "Tổng cộng" and total[1].value == 6 and total[2].value == 4
    assert abs(total[3].value - 4 / 6) < 1e-9 and total[3].number_format == "0.0%"
    assert total[4].value == 1.0 and total[6].value == 8 and total[7].value == 2 and total[8].value == 4
    missing = book["chua-co-dau-doc"]
    assert missing["B2"].value == "Trạm y tế xã Nam Hà"
    assert missing["B3"].value == '=HYPERLINK("http://x","Trạm y tế")' and missing["B3"].data_type == "s"
    assert missing["E3"].value == 0


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)")
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed (apt poppler-utils)")
def test_printable_report_prints_to_a4_pdf_in_chromium_and_renders_to_png(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    init_db(engine)
    store = EventStore(engine)
    populate(store)
    with engine.connect() as conn:
        report = build_report(conn, Period.parse("2026-Q4"), Area(PROVINCE))
    html = render_report_html(report, LocalFormat("vi"), xlsx_url="/x.xlsx")
    out = Path(os.environ.get("CCCD_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    pdf = out / "report.pdf"
    with chromium_page(1280, 900) as page:
        page.set_content(html, wait_until="load")
        assert page.inner_text("[data-testid=kpi-share]") == "66,7%"
        assert page.inner_text("[data-testid=kpi-checkins]") == "8"
        assert page.locator("[data-testid=missing-row]").count() == 2
        page.emulate_media(media="print")
        assert not page.is_visible("[data-testid=report-xlsx]")
        page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+59[45]\.\d+ x 841\.\d+ pts \(A4\)", info), info
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Báo cáo sử dụng thiết bị đọc CCCD gắn chip" in text
    assert "Quý IV/2026" in text and "66,7%" in text and "Tiền Hải" in text and "Trạm y tế xã Nam Hà" in text
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(pdf), str(out / "report-page")],
                   check=True, capture_output=True)
    png = next(out.glob("report-page*.png"))
    from PIL import Image

    with Image.open(png) as im:
        assert abs(im.width / im.height - 210 / 297) < 0.01  # an A4 page
        assert len(im.convert("L").resize((64, 90)).getcolors(256) or []) > 8  # not a blank page
    publish_screenshot(png, "report-first-page.png", palette_colors=64)  # docs/ only when refreshing
    print(f"\nreport PDF: {pdf}\nfirst page: {png}")
