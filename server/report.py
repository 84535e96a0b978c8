"""The province's periodic report: a month or a quarter, for a province or one district.

It answers in the figures the province reports use ("100% các cơ sở khám bệnh, chữa
bệnh ... sử dụng thiết bị đọc căn cước công dân gắn chíp"; "817.250 người sử dụng thẻ
căn cước công dân khám chữa bệnh"): facilities with a working reader out of all, the
share against the 100% target, the facilities still without one (listed), check-ins
and distinct citizens, by district and by facility type, and per month of a quarter.
Rejected attempts are reported beside the check-ins, never inside them.

Counting (docs/counting.md): a facility *has a working reader in the period* when at
least one card read (a check-in or a rejected attempt) was stored from it in the
period — a heartbeat alone is not use. Every figure is aggregated by the database from
the daily rollups; nothing iterates over events or over the whole fleet in Python.

The same ``ProvinceReport`` renders as a printable A4 page (``report.html``) and as an
XLSX workbook.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection

from server.area_queries import FACILITY, TARGET_RATIO, Area, Figures, MissingFacility, figures_by, without_reader
from server.exports import Column, Table, to_xlsx
from server.labels import FACILITY_TYPES
from server.localformat import Lang, LocalFormat

TEMPLATES = Path(__file__).with_name("templates")
_ROMAN = ("I", "II", "III", "IV")
_MONTH_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
_PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|[Qq]([1-4]))$")


class PeriodError(ValueError):
    """A period that is not ``YYYY-MM`` or ``YYYY-Qn``."""


@dataclass(frozen=True)
class Period:
    """A calendar month or quarter (local days, both ends included)."""

    year: int
    month: int | None = None
    quarter: int | None = None

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip())
        if not match or not 2000 <= int(match[1]) <= 2100:
            raise PeriodError(f"period must be YYYY-MM or YYYY-Qn (2000-2100), not {text[:20]!r}")
        year = int(match[1])
        return cls(year, month=int(match[2])) if match[2] else cls(year, quarter=int(match[3]))

    @property
    def key(self) -> str:
        return f"{self.year}-{self.month:02d}" if self.month else f"{self.year}-Q{self.quarter}"

    @property
    def start(self) -> date:
        first_month = self.month or (3 * ((self.quarter or 1) - 1) + 1)
        return date(self.year, first_month, 1)

    @property
    def end(self) -> date:
        months = 1 if self.month else 3
        m = self.start.month - 1 + months
        return date(self.year + m // 12, m % 12 + 1, 1) - timedelta(days=1)

    def months(self) -> list[date]:
        """The first day of each month in the period."""
        out, day = [], self.start
        while day <= self.end:
            out.append(day)
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return out

    def label(self, lang: Lang) -> str:
        if self.month:
            return f"Tháng {self.month}/{self.year}" if lang == "vi" else f"{_MONTH_EN[self.month - 1]} {self.year}"
        q = self.quarter or 1
        return f"Quý {_ROMAN[q - 1]}/{self.year}" if lang == "vi" else f"Q{q} {self.year}"


@dataclass
class ProvinceReport:
    period: Period
    area: Area
    generated_at: datetime
    total: Figures
    by_district: list[Figures] = field(default_factory=list)
    by_type: list[Figures] = field(default_factory=list)
    by_month: list[Figures] = field(default_factory=list)
    without_reader: list[MissingFacility] = field(default_factory=list)
    without_reader_total: int = 0


# ---------------------------------------------------------------------- queries
def build_report(conn: Connection, period: Period, area: Area, lang: Lang = "vi") -> ProvinceReport:
    """Every figure of the report for the period and area, in a handful of grouped queries."""
    start, end = period.start, period.end
    types = {k: v[0] if lang == "vi" else v[1] for k, v in FACILITY_TYPES.items()}
    total = (figures_by(conn, area, None, start, end) or [Figures("")])[0]
    total.label = "Tổng cộng" if lang == "vi" else "Total"
    months = []
    for first in period.months():
        last = min(end, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
        row = (figures_by(conn, area, None, first, last) or [Figures("")])[0]
        row.label = Period(first.year, month=first.month).label(lang)
        months.append(row)
    missing, missing_total = without_reader(conn, area, start, end)
    return ProvinceReport(
        period=period,
        area=area,
        generated_at=datetime.now(UTC),
        total=total,
        by_district=figures_by(conn, area, FACILITY.c.district, start, end),
        by_type=figures_by(conn, area, FACILITY.c.type, start, end, types),
        by_month=months,
        without_reader=missing,
        without_reader_total=missing_total,
    )


# ---------------------------------------------------------------------- output
FIGURE_COLUMNS = (
    Column("facilities", "Số cơ sở", "Facilities", "int"),
    Column("with_reader", "Có đầu đọc hoạt động", "With a working reader", "int"),
    Column("share", "Tỉ lệ", "Share", "percent"),
    Column("target", "Mục tiêu", "Target", "percent"),
    Column("missing", "Còn thiếu", "Still without", "int"),
    Column("checkins", "Lượt đón tiếp", "Check-ins", "int"),
    Column("rejected", "Lượt đọc bị từ chối", "Rejected attempts", "int"),
    Column("citizens", "Số người dùng thẻ", "Distinct citizens", "int"),
)


def report_tables(report: ProvinceReport, lang: Lang) -> list[Table]:
    """The report as spreadsheet tables (one sheet each)."""
    types = {k: v[0] if lang == "vi" else v[1] for k, v in FACILITY_TYPES.items()}

    def figures(name: str, vi: str, en: str, first: Column, rows: Sequence[Figures]) -> Table:
        return Table(name, vi, en, (first, *FIGURE_COLUMNS), [r.as_row() for r in rows])

    missing_cols = (
        Column("code", "Mã cơ sở", "Facility code", width=12),
        Column("name", "Tên cơ sở", "Facility name"),
        Column("type", "Loại", "Type"),
        Column("district", "Huyện", "District"),
        Column("readers", "Đầu đọc đã đăng ký", "Registered readers", "int"),
        Column("last_heard", "Lần cuối có tín hiệu", "Last heard", "datetime"),
    )
    missing_rows = [
        {"code": f.code, "name": f.name, "type": types.get(f.type, f.type), "district": f.district,
         "readers": f.readers, "last_heard": f.last_heard}
        for f in report.without_reader
    ]
    return [
        figures("tong-hop", "Tổng hợp", "Summary", Column("label", "Kỳ báo cáo", "Period"),
                [*report.by_month, report.total]),
        figures("theo-huyen", "Theo huyện", "By district", Column("label", "Huyện", "District"),
                [*report.by_district, report.total]),
        figures("theo-loai", "Theo loại cơ sở", "By facility type", Column("label", "Loại cơ sở", "Facility type"),
                [*report.by_type, report.total]),
        Table("chua-co-dau-doc", "Cơ sở chưa có đầu đọc hoạt động", "Facilities without a working reader",
              missing_cols, missing_rows),
    ]


def report_xlsx(report: ProvinceReport, fmt: LocalFormat) -> bytes:
    return to_xlsx(report_tables(report, fmt.lang), fmt)


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def render_report_html(report: ProvinceReport, fmt: LocalFormat, *, xlsx_url: str | None = None) -> str:
    types = {k: v[0] if fmt.lang == "vi" else v[1] for k, v in FACILITY_TYPES.items()}
    return _environment().get_template("report.html").render(
        r=report, f=fmt, lang=fmt.lang, types=types, target=TARGET_RATIO, xlsx_url=xlsx_url,
        title=_title(report, fmt.lang),
    )


def _title(report: ProvinceReport, lang: Lang) -> str:
    if lang == "vi":
        return f"Báo cáo sử dụng thiết bị đọc CCCD gắn chip tại cơ sở y tế — {report.area.label(lang)}, " \
               f"{report.period.label(lang)}"
    return f"Chip-ID card reader use at health facilities — {report.area.label(lang)}, {report.period.label(lang)}"
