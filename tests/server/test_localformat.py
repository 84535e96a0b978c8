"""Vietnamese numbers and local times: comma decimals, dot thousands, the zone written out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from server.localformat import LocalFormat, parse_lang

VI = LocalFormat("vi")
EN = LocalFormat("en")


def test_vietnamese_numbers_use_dot_thousands_and_comma_decimals():
    assert VI.integer(1_569_589) == "1.569.589"
    assert VI.integer(958_367) == "958.367"
    assert VI.decimal(96.63, 2) == "96,63"
    assert VI.decimal(-1234.5) == "-1.234,5"
    assert EN.integer(1_569_589) == "1,569,589"
    assert EN.decimal(96.63, 2) == "96.63"


def test_percentages_are_written_from_ratios_with_a_comma():
    assert VI.percent(0.643) == "64,3%"
    assert VI.percent(35 / 48) == "72,9%"
    assert VI.percent(1.0) == "100,0%"
    assert VI.percent(0.5, 0) == "50%"
    assert EN.percent(0.643) == "64.3%"


def test_times_are_shown_in_the_configured_zone_with_the_zone_written():
    at = datetime(2026, 12, 1, 9, 53, tzinfo=UTC)  # the "09:53" that was 16:53 local
    assert VI.time(at) == "01/12/2026 16:53 GMT+07:00"
    assert VI.time(at, zone=False) == "01/12/2026 16:53"
    naive_utc = datetime(2026, 12, 1, 9, 53)  # SQLite gives stored UTC back naive
    assert VI.time(naive_utc) == "01/12/2026 16:53 GMT+07:00"
    other = LocalFormat("vi", "Europe/Paris")
    assert other.time(at) == "01/12/2026 10:53 GMT+01:00"
    assert VI.time(datetime(2026, 12, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))) == "02/12/2026 11:00 GMT+07:00"


def test_missing_times_and_days_show_a_dash_and_days_are_day_first():
    assert VI.time(None) == "—"
    assert VI.day(None) == "—"
    assert VI.day(date(2023, 3, 31)) == "31/03/2023"


def test_the_language_is_vietnamese_unless_english_is_asked_for():
    assert parse_lang("en") == "en"
    assert parse_lang(None) == "vi"
    assert parse_lang("fr") == "vi"
