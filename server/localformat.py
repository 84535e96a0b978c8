"""Numbers, percentages, dates and times as a Vietnamese (or English) reader writes them.

Vietnamese writes ``1.569.589`` and ``64,3%``; times are shown in the deployment's
zone (``Asia/Ho_Chi_Minh`` unless configured otherwise) with the zone written next to
them, because a bare ``09:53`` is read as local time whatever it was stored as.
Babel (CLDR data) does the formatting; this module only fixes the patterns the
dashboard, the report and the exports share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_timezone_gmt
from babel.numbers import format_decimal, format_percent

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

_TIME = {"vi": "dd/MM/yyyy HH:mm", "en": "dd/MM/yyyy HH:mm"}


def parse_lang(value: str | None) -> Lang:
    """The language asked for (``en``), else Vietnamese."""
    return "en" if value == "en" else "vi"


@dataclass(frozen=True)
class LocalFormat:
    """Formatting for one language and one time zone."""

    lang: Lang = "vi"
    timezone: str = DEFAULT_TIMEZONE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def integer(self, value: int | None) -> str:
        """``1569589`` -> ``1.569.589`` (vi) / ``1,569,589`` (en); a figure not counted -> ``—``."""
        if value is None:
            return "—"
        return format_decimal(value, "#,##0", locale=self.lang)

    def decimal(self, value: float, digits: int = 1) -> str:
        """``64.3`` -> ``64,3`` (vi) / ``64.3`` (en)."""
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, pattern, locale=self.lang)

    def percent(self, ratio: float, digits: int = 1) -> str:
        """A ratio as a percentage: ``0.643`` -> ``64,3%`` (vi) / ``64.3%`` (en)."""
        pattern = ("#,##0." + "0" * digits if digits else "#,##0") + "%"
        return format_percent(ratio, pattern, locale=self.lang)

    def local(self, value: datetime) -> datetime:
        """An aware (or naive UTC, as SQLite returns it) datetime in the deployment's zone."""
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return aware.astimezone(self.tz)

    def zone(self, value: datetime | None = None) -> str:
        """The zone as written next to a time: ``GMT+07:00``."""
        at = self.local(value or datetime.now(UTC))
        return str(get_timezone_gmt(at, width="long", locale=self.lang))

    def time(self, value: datetime | None, *, zone: bool = True) -> str:
        """``01/12/2026 16:53 GMT+07:00``; an em dash for no time."""
        if value is None:
            return "—"
        at = self.local(value)
        text = str(format_datetime(at, _TIME[self.lang], locale=self.lang))
        return f"{text} {self.zone(at)}" if zone else text

    def day(self, value: date | None) -> str:
        """``01/12/2026``; an em dash for no date."""
        if value is None:
            return "—"
        return value.strftime("%d/%m/%Y")
