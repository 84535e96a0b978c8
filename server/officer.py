"""The district health officer's dashboard: what it shows for a period and an area.

The view is decided by its URL alone (period, area, language), so a link can be shared
and a refresh never loses it. Levels drill down province → district → facility →
reader; each level shows live coverage against the 100% target, coverage over time
(the weekly share of facilities with a card read), usage over time with rejected
attempts beside check-ins, the trust and method mix, and the next level's table, which
can be exported (CSV or XLSX) exactly as shown.

Everything is counted by the queries of :mod:`server.store.areas`; this module turns
their answers into a view model and the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection, case, func, select

from contract.catalogue import METHOD_LABELS, TRUST_LEVEL_LABELS, Text
from server.exports import Column, Row, Table
from server.labels import METHOD_COLOURS, TRUST_COLOURS, facility_type, reader_state
from server.localformat import Lang, LocalFormat, parse_lang
from server.store.areas import (
    TARGET_RATIO,
    Area,
    DayUsage,
    FacilityRow,
    Figures,
    ReaderRow,
    WeekCoverage,
    area_names,
    coverage_series,
    facility_rows,
    figures_by,
    heard_within,
    mix,
    reader_rows,
    usage_series,
)
from server.store.base import FACILITY
from server.store.distinct import calendar_period

TEMPLATES = Path(__file__).with_name("templates")
PeriodKind = Literal["day", "week", "month", "quarter", "custom"]
PERIODS: tuple[PeriodKind, ...] = ("day", "week", "month", "quarter", "custom")
Level = Literal["all", "province", "district", "facility", "reader"]
MAX_DAYS = 366
EARLIEST = date(2020, 1, 1)
#: Weeks shown by the coverage-over-time chart at least (more when the period is longer).
COVERAGE_WEEKS = 12
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")



class ScopeError(ValueError):
    """A dashboard URL that asks for something the dashboard cannot show (answered with 422)."""


def _text(params: Mapping[str, str], key: str, limit: int = 100) -> str | None:
    value = (params.get(key) or "").strip()
    if not value:
        return None
    if len(value) > limit or any(ord(ch) < 32 for ch in value):
        raise ScopeError(f"{key}: at most {limit} printable characters")
    return value


def _day(params: Mapping[str, str], key: str) -> date | None:
    value = _text(params, key, 10)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ScopeError(f"{key}: a date as YYYY-MM-DD") from None
    if not EARLIEST <= day <= date(2100, 12, 31):
        raise ScopeError(f"{key}: between {EARLIEST.isoformat()} and 2100-12-31")
    return day


@dataclass(frozen=True)
class Scope:
    """What the page shows: parsed and bounded from the query string."""

    period: PeriodKind
    start: date
    end: date
    anchor: date
    province: str | None = None
    district: str | None = None
    facility: str | None = None
    reader: str | None = None
    lang: Lang = "vi"
    refresh: int = 60

    @classmethod
    def parse(cls, params: Mapping[str, str], today: date) -> Scope:
        kind = params.get("period") or "month"
        if kind not in PERIODS:
            raise ScopeError(f"period: one of {', '.join(PERIODS)}")
        anchor = _day(params, "date") or today
        if kind == "custom":
            start, end = _day(params, "from"), _day(params, "to")
            if start is None or end is None:
                raise ScopeError("a custom period needs 'from' and 'to'")
            if end < start:
                raise ScopeError("'to' is before 'from'")
            if (end - start).days + 1 > MAX_DAYS:
                raise ScopeError(f"at most {MAX_DAYS} days at once")
        else:
            start, end = period_bounds(kind, anchor)
        facility, reader = _text(params, "facility", 64), _text(params, "reader", 64)
        for name, code in (("facility", facility), ("reader", reader)):
            if code is not None and not _CODE.match(code):
                raise ScopeError(f"{name}: letters, digits, '-' and '_' only")
        try:
            refresh = int(params.get("refresh") or 60)
        except ValueError:
            raise ScopeError("refresh: seconds, a whole number") from None
        if refresh != 0 and not 5 <= refresh <= 3600:
            raise ScopeError("refresh: 0 (off) or 5 to 3600 seconds")
        province, district = _text(params, "province"), _text(params, "district")
        if district and not province:
            raise ScopeError("a district needs its province (district names repeat across provinces)")
        return cls(kind, start, end, anchor, province, district, facility,
                   reader if facility else None, parse_lang(params.get("lang")), refresh)

    @property
    def area(self) -> Area:
        return Area(self.province, self.district, self.facility)

    @property
    def level(self) -> Level:
        if self.reader:
            return "reader"
        if self.facility:
            return "facility"
        if self.district:
            return "district"
        return "province" if self.province else "all"

    def query(self, **changes: object) -> str:
        """This view's query string with some parameters changed (None removes one)."""
        values: dict[str, object] = {
            "period": self.period, "date": self.anchor.isoformat(), "province": self.province,
            "district": self.district, "facility": self.facility, "reader": self.reader,
            "lang": self.lang if self.lang != "vi" else None, "refresh": self.refresh if self.refresh != 60 else None,
        }
        if self.period == "custom":
            values.update({"from": self.start.isoformat(), "to": self.end.isoformat(), "date": None})
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v is not None})


def period_bounds(kind: PeriodKind, anchor: date) -> tuple[date, date]:
    """The day, ISO week (Monday first), month or quarter that holds ``anchor``."""
    return calendar_period(kind, anchor)


def period_label(scope: Scope, fmt: LocalFormat) -> str:
    vi = fmt.lang == "vi"
    s, e = scope.start, scope.end
    if scope.period == "day":
        return fmt.day(s)
    if scope.period == "week":
        week = s.isocalendar().week
        return f"{'Tuần' if vi else 'Week'} {week}/{s.isocalendar().year} ({fmt.day(s)} – {fmt.day(e)})"
    if scope.period == "month":
        return f"Tháng {s.month}/{s.year}" if vi else s.strftime("%B %Y")
    if scope.period == "quarter":
        q = (s.month - 1) // 3 + 1
        return f"Quý {('I', 'II', 'III', 'IV')[q - 1]}/{s.year}" if vi else f"Q{q} {s.year}"
    return f"{fmt.day(s)} – {fmt.day(e)}"


# ---------------------------------------------------------------------- the view model
@dataclass(frozen=True)
class Crumb:
    label: str
    href: str | None  # None: the current level


@dataclass(frozen=True)
class Share:
    """One segment of a mix: its key, label, count, share and colour."""

    key: str
    label: str
    count: int
    share: float
    colour: str


@dataclass(frozen=True)
class AreaRow:
    """A row of the province or district table: period figures and live coverage."""

    key: str
    href: str
    figures: Figures
    live_facilities: int
    live_covered: int

    @property
    def live_share(self) -> float:
        return self.live_covered / self.live_facilities if self.live_facilities else 0.0


@dataclass
class DashboardView:
    scope: Scope
    fmt: LocalFormat
    generated_at: datetime
    period_label: str
    crumbs: list[Crumb]
    live_facilities: int
    live_covered: int
    totals: Figures
    coverage: list[WeekCoverage]
    usage: list[DayUsage]
    usage_bucket: Literal["day", "week"]
    trusts: list[Share]
    methods: list[Share]
    areas: list[AreaRow] = field(default_factory=list)
    facilities: list[FacilityRow] = field(default_factory=list)
    facilities_total: int = 0
    readers: list[ReaderRow] = field(default_factory=list)
    reader: ReaderRow | None = None
    coverage_days: int = 7
    provinces: list[str] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)

    @property
    def live_share(self) -> float:
        return self.live_covered / self.live_facilities if self.live_facilities else 0.0

    @property
    def target(self) -> float:
        return TARGET_RATIO


def _live(conn: Connection, area: Area, cutoff: datetime, key=None) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(facilities, covered now) per key, or for the area (key None): covered = a reader heard since cutoff."""
    covered = func.sum(case((heard_within(cutoff), 1), else_=0))
    cols = [key] if key is not None else []
    query = select(*cols, func.count(), covered).select_from(FACILITY).where(*area.conditions())
    if key is not None:
        query = query.group_by(key)
    return {str(r[0]) if key is not None else "": (int(r[-2]), int(r[-1] or 0)) for r in conn.execute(query)}


def _weeks(start: date, end: date) -> list[tuple[date, date]]:
    last = end - timedelta(days=end.weekday())
    first = min(start - timedelta(days=start.weekday()), last - timedelta(weeks=COVERAGE_WEEKS - 1))
    out = []
    week = first
    while week <= last:
        out.append((week, week + timedelta(days=6)))
        week += timedelta(weeks=1)
    return out


def _filled_usage(rows: list[DayUsage], start: date, end: date) -> tuple[list[DayUsage], Literal["day", "week"]]:
    """Every day of the period (zeros included); per ISO week when the period is longer than 62 days."""
    by_day = {r.day: r for r in rows}
    days = [(start + timedelta(days=i)) for i in range((end - start).days + 1)]
    if len(days) <= 62:
        return [by_day.get(d, DayUsage(d, 0, 0)) for d in days], "day"
    weeks: dict[date, list[int]] = {}
    for d in days:
        week = d - timedelta(days=d.weekday())
        acc = weeks.setdefault(week, [0, 0])
        if d in by_day:
            acc[0] += by_day[d].checkins
            acc[1] += by_day[d].rejected
    return [DayUsage(w, c, r) for w, (c, r) in sorted(weeks.items())], "week"


def _shares(counts: dict[str, int], labels: Mapping[str, Text], colours: dict[str, str],
            lang: Lang) -> list[Share]:
    """The mix in the catalogue's order (trust levels from worst to best), with the desk's words."""
    total = sum(counts.values())
    order = list(labels)
    return [
        Share(k, labels[k].in_language(lang) if k in labels else k, n, n / total if total else 0.0,
              colours.get(k, "#888"))
        for k, n in sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
        if n
    ]


def build_view(conn: Connection, scope: Scope, *, timezone: str, coverage_days: int,
               offline_after: timedelta, base: str = "/dashboard") -> DashboardView:
    """Everything the page shows for this scope."""
    fmt = LocalFormat(scope.lang, timezone)
    now = datetime.now(UTC)
    # the charts stop today: the rest of the period has not happened yet
    shown_end = max(scope.start, min(scope.end, now.astimezone(fmt.tz).date()))
    live_cutoff = now - timedelta(days=coverage_days)
    area = scope.area
    nf, nc = _live(conn, area, live_cutoff).get("", (0, 0))
    totals = (figures_by(conn, area, None, scope.start, scope.end) or [Figures("")])[0]
    usage, bucket = _filled_usage(usage_series(conn, area, scope.start, shown_end), scope.start, shown_end)
    methods, trusts = mix(conn, area, scope.start, scope.end)
    view = DashboardView(
        scope=scope, fmt=fmt, generated_at=now, period_label=period_label(scope, fmt),
        crumbs=_crumbs(scope, base, _facility_name(conn, scope.facility)),
        live_facilities=nf, live_covered=nc, totals=totals,
        coverage=coverage_series(conn, area, _weeks(scope.start, shown_end)),
        usage=usage, usage_bucket=bucket,
        trusts=_shares(trusts, TRUST_LEVEL_LABELS, TRUST_COLOURS, scope.lang),
        methods=_shares(methods, METHOD_LABELS, METHOD_COLOURS, scope.lang),
        coverage_days=coverage_days,
        provinces=area_names(conn, None),
        districts=area_names(conn, scope.province) if scope.province else [],
    )
    level = scope.level
    if level in ("all", "province"):
        key = FACILITY.c.province if level == "all" else FACILITY.c.district
        live = _live(conn, area, live_cutoff, key)
        for fig in figures_by(conn, area, key, scope.start, scope.end):
            name = fig.label if fig.label != "—" else ""
            href = f"{base}?" + (scope.query(province=name) if level == "all" else scope.query(district=name))
            lf, lc = live.get(name, (fig.facilities, 0))
            view.areas.append(AreaRow(name, href, fig, lf, lc))
        view.areas.sort(key=lambda a: (a.live_share, a.key))  # furthest from the target first
    elif level == "district":
        view.facilities, view.facilities_total = facility_rows(conn, area, scope.start, scope.end, live_cutoff)
    else:
        view.readers = reader_rows(conn, scope.facility or "", now - offline_after)
        if level == "reader":
            view.reader = next((r for r in view.readers if r.reader_id == scope.reader), None)
            if view.reader is None:
                raise ScopeError("no such reader at this facility")
    return view


def _facility_name(conn: Connection, code: str | None) -> str | None:
    if code is None:
        return None
    name = conn.execute(select(FACILITY.c.name).where(FACILITY.c.code == code)).scalar_one_or_none()
    if name is None:
        raise ScopeError("no such facility")
    return str(name)


def _crumbs(scope: Scope, base: str, facility_name: str | None = None) -> list[Crumb]:
    vi = scope.lang == "vi"
    trail = [("Toàn quốc" if vi else "All provinces", {"province": None, "district": None, "facility": None,
                                                       "reader": None})]
    if scope.province:
        trail.append((scope.province, {"district": None, "facility": None, "reader": None}))
    if scope.district:
        trail.append((scope.district, {"facility": None, "reader": None}))
    if scope.facility:
        trail.append((facility_name or scope.facility, {"reader": None}))
    if scope.reader:
        trail.append((scope.reader, {}))
    return [Crumb(label, None if i == len(trail) - 1 else f"{base}?{scope.query(**changes)}")
            for i, (label, changes) in enumerate(trail)]


# ---------------------------------------------------------------------- output
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals.update(facility_type=facility_type, reader_state=reader_state)
    return env


TEMPLATE_ENV = _environment()


def render_dashboard(view: DashboardView, *, base: str = "/dashboard", static: str = "/dashboard/static",
                     logout: str | None = "/dashboard/logout") -> str:
    scope = view.scope
    return TEMPLATE_ENV.get_template("officer.html").render(
        v=view, s=scope, f=view.fmt, vi=scope.lang == "vi", base=base, static=static, logout=logout,
        periods=PERIODS, export_query=scope.query(),
        switch_lang=f"{base}?{scope.query(lang='en' if scope.lang == 'vi' else None)}",
        prev_href=f"{base}?{_shifted(scope, -1)}", next_href=f"{base}?{_shifted(scope, 1)}",
        report_href="/reports/province?" + _report_query(scope),
    )


def _report_query(scope: Scope) -> str:
    """The province report for this view's quarter (a quarter view) or month, and its area."""
    s = scope.start
    period = f"{s.year}-Q{(s.month - 1) // 3 + 1}" if scope.period == "quarter" else f"{s.year}-{s.month:02d}"
    values = {"period": period, "province": scope.province, "district": scope.district,
              "lang": scope.lang if scope.lang != "vi" else None}
    return urlencode({k: v for k, v in values.items() if v})


def _shifted(scope: Scope, step: int) -> str:
    """The query of the period before (-1) or after (+1) this one."""
    if scope.period == "custom":
        span = (scope.end - scope.start).days + 1
        start = scope.start + timedelta(days=step * span)
        return scope.query(**{"from": start.isoformat(), "to": (start + timedelta(days=span - 1)).isoformat()})
    anchor = scope.start - timedelta(days=1) if step < 0 else scope.end + timedelta(days=1)
    return scope.query(date=anchor.isoformat())


def view_table(view: DashboardView) -> Table:
    """The page's main table as an export (the same rows and figures as shown)."""
    lang = view.scope.lang
    level = view.scope.level
    stem = f"cccd-{level}-{view.scope.start.isoformat()}-{view.scope.end.isoformat()}"
    figures = (
        Column("facilities", "Số cơ sở", "Facilities", "int"),
        Column("live_covered", "Có đầu đọc hoạt động (hiện tại)", "With a working reader (now)", "int"),
        Column("live_share", "Tỉ lệ (hiện tại)", "Share (now)", "percent"),
        Column("with_reader", "Có lượt đọc thẻ trong kỳ", "With card reads in the period", "int"),
        Column("checkins", "Lượt đón tiếp", "Check-ins", "int"),
        Column("rejected", "Lượt bị từ chối", "Rejected attempts", "int"),
        Column("citizens", "Số người dùng thẻ", "Distinct citizens", "int"),
    )
    if level in ("all", "province"):
        first = Column("area", "Tỉnh" if level == "all" else "Huyện", "Province" if level == "all" else "District")
        rows: list[Row] = [{"area": a.key or "—", "facilities": a.figures.facilities, "live_covered": a.live_covered,
                 "live_share": a.live_share, "with_reader": a.figures.with_reader, "checkins": a.figures.checkins,
                 "rejected": a.figures.rejected, "citizens": a.figures.citizens} for a in view.areas]
        return Table(stem, "Theo khu vực", "By area", (first, *figures), rows)
    if level == "district":
        cols = (
            Column("code", "Mã cơ sở", "Facility code", width=12), Column("name", "Tên cơ sở", "Facility name"),
            Column("type", "Loại", "Type"), Column("readers", "Đầu đọc", "Readers", "int"),
            Column("covered", "Có đầu đọc hoạt động", "Working reader", width=12),
            Column("checkins", "Lượt đón tiếp", "Check-ins", "int"),
            Column("rejected", "Lượt bị từ chối", "Rejected attempts", "int"),
            Column("citizens", "Số người dùng thẻ", "Distinct citizens", "int"),
            Column("last_heard", "Lần cuối có tín hiệu", "Last heard", "datetime"),
        )
        yes, no = ("Có", "Không") if lang == "vi" else ("Yes", "No")
        rows_f: list[Row] = [{"code": r.code, "name": r.name, "type": facility_type(r.type, lang), "readers": r.readers,
                   "covered": yes if r.covered else no, "checkins": r.checkins, "rejected": r.rejected,
                   "citizens": r.citizens, "last_heard": r.last_heard} for r in view.facilities]
        return Table(stem, "Cơ sở y tế", "Facilities", cols, rows_f)
    reader_cols = (
        Column("reader", "Đầu đọc", "Reader"), Column("state", "Tình trạng", "State"),
        Column("last_seen", "Lần cuối có tín hiệu", "Last heard", "datetime"),
        Column("last_heartbeat", "Tín hiệu định kỳ cuối", "Last heartbeat", "datetime"),
        Column("last_checkin", "Lượt đọc thẻ cuối", "Last card read", "datetime"),
    )
    rows_r: list[Row] = [{"reader": r.reader_id, "state": reader_state(r.state, lang), "last_seen": r.last_seen,
               "last_heartbeat": r.last_heartbeat, "last_checkin": r.last_checkin} for r in view.readers]
    return Table(stem, "Đầu đọc", "Readers", reader_cols, rows_r)

