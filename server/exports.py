"""Exports that open right in a spreadsheet: CSV and XLSX from one description of a table.

CSV: UTF-8 with a byte-order mark (without it Excel reads "Thái Bình" as
"ThÃ¡i BÃ¬nh"), headers in Vietnamese (English on request), ratios written as
percentages in the language's notation ("64,3%"), and any text cell that a spreadsheet
would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or carriage return)
prefixed with an apostrophe, as OWASP advises. Vietnamese CSVs use ``;`` between
fields: where the decimal separator is a comma, that is the list separator spreadsheets
expect (vi-VN, like most of Europe), and "64,3%" then needs no quoting.
Dates are ISO (``2026-12-01``), the one form every spreadsheet reads as a date in any
locale; times are local, and the header names the zone.

XLSX: XlsxWriter (write-only, streams rows in constant memory, explicit cell types,
no dependencies) rather than openpyxl (which builds the whole workbook in memory and
is needed here only to read exports back in the tests). Cells are typed — numbers as
numbers, ratios as numbers with a percent format, dates and times as dates — with a
bold, frozen header row, an autofilter and column widths. Text is written as string
cells, which a spreadsheet never evaluates, so it keeps its exact value there.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from server.localformat import Lang, LocalFormat

Kind = Literal["text", "int", "percent", "date", "datetime"]
#: What a spreadsheet treats as the start of a formula (OWASP "CSV injection").
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MAX_WIDTH = 60

Cell = str | int | float | date | datetime | None
Row = Mapping[str, Cell]


@dataclass(frozen=True)
class Column:
    """One column: the row key it reads, its headers and the type of its cells."""

    key: str
    vi: str
    en: str
    kind: Kind = "text"
    width: int | None = None  # characters; None: from the content

    def header(self, fmt: LocalFormat) -> str:
        title = self.vi if fmt.lang == "vi" else self.en
        return f"{title} ({fmt.zone()})" if self.kind == "datetime" else title


@dataclass(frozen=True)
class Table:
    """Rows under named, typed columns; ``name`` is the file stem and the sheet's name."""

    name: str
    title_vi: str
    title_en: str
    columns: tuple[Column, ...]
    rows: Sequence[Row]

    def title(self, lang: Lang) -> str:
        return self.title_vi if lang == "vi" else self.title_en


def neutralise(text: str) -> str:
    """A text cell that no spreadsheet runs as a formula: ``=1+1`` -> ``'=1+1``."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def _csv_cell(value: Cell, column: Column, fmt: LocalFormat) -> str:
    if value is None:
        return ""
    if column.kind == "int" and isinstance(value, int | float):
        return str(int(value))  # no thousands separator: spreadsheets read it as a number
    if column.kind == "percent" and isinstance(value, int | float):
        return fmt.percent(float(value))
    if column.kind == "datetime" and isinstance(value, datetime):
        return fmt.local(value).strftime("%Y-%m-%d %H:%M")
    if column.kind == "date" and isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def to_csv(table: Table, fmt: LocalFormat) -> bytes:
    """The table as CSV bytes: BOM, a header row in the language, one line per row."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";" if fmt.lang == "vi" else ",", lineterminator="\r\n")
    writer.writerow([neutralise(c.header(fmt)) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(row.get(c.key), c, fmt) for c in table.columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _width(column: Column, header: str, rows: Sequence[Row], fmt: LocalFormat) -> int:
    if column.width is not None:
        return column.width
    widest = len(header)
    for row in rows[:500]:  # a sample is enough to size a column
        widest = max(widest, len(_csv_cell(row.get(column.key), column, fmt)))
    return min(_MAX_WIDTH, widest + 2)


def to_xlsx(tables: Iterable[Table], fmt: LocalFormat) -> bytes:
    """One sheet per table, typed cells, a frozen bold header row, filters and widths."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    header = book.add_format({"bold": True, "bg_color": "#E8EEF7", "text_wrap": True, "valign": "top"})
    formats = {
        "int": book.add_format({"num_format": "#,##0"}),
        "percent": book.add_format({"num_format": "0.0%"}),
        "date": book.add_format({"num_format": "dd/mm/yyyy"}),
        "datetime": book.add_format({"num_format": "dd/mm/yyyy hh:mm"}),
    }
    for table in tables:
        sheet = book.add_worksheet(table.name[:31])
        headers = [c.header(fmt) for c in table.columns]
        for col, (column, title) in enumerate(zip(table.columns, headers, strict=True)):
            sheet.set_column(col, col, _width(column, title, table.rows, fmt))
            sheet.write_string(0, col, title, header)
        for line, row in enumerate(table.rows, start=1):
            for col, column in enumerate(table.columns):
                _write_cell(sheet, line, col, row.get(column.key), column, fmt, formats)
        sheet.freeze_panes(1, 0)
        if table.columns:
            sheet.autofilter(0, 0, max(1, len(table.rows)), len(table.columns) - 1)
    book.close()
    return out.getvalue()


def _write_cell(
    sheet: Worksheet, line: int, col: int, value: Cell, column: Column, fmt: LocalFormat, formats: dict[str, object]
) -> None:
    if value is None:
        return
    kind = column.kind
    if kind in ("int", "percent") and isinstance(value, int | float):
        sheet.write_number(line, col, value, formats[kind])
    elif kind == "datetime" and isinstance(value, datetime):
        # spreadsheets have no zones: the local wall time, with the zone in the header
        sheet.write_datetime(line, col, fmt.local(value).replace(tzinfo=None), formats[kind])
    elif kind == "date" and isinstance(value, date):
        sheet.write_datetime(line, col, datetime(value.year, value.month, value.day), formats[kind])
    else:
        sheet.write_string(line, col, str(value))


def filename(table_name: str, suffix: Literal["csv", "xlsx"]) -> str:
    """A download name made only of safe characters."""
    stem = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in table_name)
    return f"{stem or 'export'}.{suffix}"
