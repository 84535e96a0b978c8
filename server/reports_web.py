"""HTTP routes of the officer's dashboard, its exports and the province report.

``mount_reports`` adds them to an application; who may see them is the caller's
``viewer`` check (the session of the dashboard), so this module knows nothing of tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from server.area_queries import Area
from server.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, filename, to_csv, to_xlsx
from server.fleet import STATE_FILTERS, FleetFilterError, fleet_page, fleet_table, parse_filter
from server.labels import READER_STATES
from server.localformat import LocalFormat, parse_lang
from server.officer import TEMPLATE_ENV, Scope, ScopeError, build_view, render_dashboard, view_table
from server.report import Period, PeriodError, build_report, render_report_html, report_xlsx

STATIC = Path(__file__).with_name("static") / "dashboard"
Viewer = Callable[[Request], bool]


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


def mount_reports(app: FastAPI, engine: Engine, *, timezone: str, coverage_days: int, offline_after: timedelta,
                  viewer: Viewer, login_url: str = "/dashboard/login", logout_url: str | None = "/dashboard/logout",
                  base: str = "/dashboard") -> None:
    """The dashboard page at ``base``, its exports, its static files and ``/reports/province``."""
    app.mount(f"{base}/static", StaticFiles(directory=STATIC), name="dashboard-static")

    def today() -> datetime:
        return datetime.now(ZoneInfo(timezone))

    def scope_of(request: Request) -> Scope:
        return Scope.parse(dict(request.query_params), today().date())

    def refused(exc: ValueError) -> Response:
        return Response(str(exc), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="text/plain")

    @app.get(base, include_in_schema=False, response_class=HTMLResponse)
    def dashboard(request: Request) -> Response:
        if not viewer(request):
            return RedirectResponse(login_url, status_code=status.HTTP_303_SEE_OTHER)
        try:
            scope = scope_of(request)
            with engine.connect() as conn:
                view = build_view(conn, scope, timezone=timezone, coverage_days=coverage_days,
                                  offline_after=offline_after, base=base)
        except ScopeError as exc:
            return refused(exc)
        return HTMLResponse(render_dashboard(view, base=base, static=f"{base}/static", logout=logout_url),
                            headers={"Cache-Control": "no-store"})

    @app.get(base + "/export.{suffix}", include_in_schema=False)
    def export(request: Request, suffix: str) -> Response:
        if not viewer(request):
            return Response(status_code=status.HTTP_401_UNAUTHORIZED)
        if suffix not in ("csv", "xlsx"):
            return Response(status_code=status.HTTP_404_NOT_FOUND)
        try:
            scope = scope_of(request)
            with engine.connect() as conn:
                view = build_view(conn, scope, timezone=timezone, coverage_days=coverage_days,
                                  offline_after=offline_after, base=base)
        except ScopeError as exc:
            return refused(exc)
        table = view_table(view)
        if suffix == "csv":
            return _download(to_csv(table, view.fmt), CSV_MEDIA_TYPE, filename(table.name, "csv"))
        return _download(to_xlsx([table], view.fmt), XLSX_MEDIA_TYPE, filename(table.name, "xlsx"))

    @app.get("/reports/province", include_in_schema=False)
    def province_report(request: Request, period: str | None = None, province: str | None = None,
                        district: str | None = None, lang: str | None = None, format: str = "html") -> Response:
        if not viewer(request):
            if format == "html":
                return RedirectResponse(login_url, status_code=status.HTTP_303_SEE_OTHER)
            return Response(status_code=status.HTTP_401_UNAUTHORIZED)
        fmt = LocalFormat(parse_lang(lang), timezone)
        now = today()
        try:
            chosen = Period.parse(period) if period else Period(now.year, month=now.month)
        except PeriodError as exc:
            return refused(exc)
        for name, value in (("province", province), ("district", district)):
            if value is not None and (len(value) > 100 or any(ord(ch) < 32 for ch in value)):
                return refused(ValueError(f"{name}: at most 100 printable characters"))
        if format not in ("html", "xlsx"):
            return refused(ValueError("format: html or xlsx"))
        area = Area(province or None, district or None)
        with engine.connect() as conn:
            report = build_report(conn, chosen, area, fmt.lang)
        if format == "xlsx":
            name = filename(f"bao-cao-{chosen.key}-{province or 'all'}", "xlsx")
            return _download(report_xlsx(report, fmt), XLSX_MEDIA_TYPE, name)
        xlsx_url = str(request.url.include_query_params(format="xlsx").path) + "?" + \
            str(request.url.include_query_params(format="xlsx").query)
        return HTMLResponse(render_report_html(report, fmt, xlsx_url=xlsx_url), headers={"Cache-Control": "no-store"})

    def fleet_of(request: Request):  # type: ignore[no-untyped-def]
        params = dict(request.query_params)
        flt = parse_filter(params)
        with engine.connect() as conn:
            page = fleet_page(conn, flt, datetime.now(ZoneInfo(timezone)) - offline_after)
        return params, page

    @app.get(base + "/fleet", include_in_schema=False, response_class=HTMLResponse)
    def fleet(request: Request) -> Response:
        if not viewer(request):
            return RedirectResponse(login_url, status_code=status.HTTP_303_SEE_OTHER)
        try:
            params, page = fleet_of(request)
        except FleetFilterError as exc:
            return refused(exc)
        lang = parse_lang(params.get("lang"))
        fmt = LocalFormat(lang, timezone)
        flt = page.filter

        def href(offset: int) -> str:
            return f"{base}/fleet?" + urlencode({**params, "offset": offset})

        names = {st: ("Tất cả" if lang == "vi" else "All") if st == "any" else
                 ("Không hoạt động" if lang == "vi" else "Not online") if st == "offline" else
                 READER_STATES[st][0 if lang == "vi" else 1] for st in STATE_FILTERS}
        switched = {k: v for k, v in params.items() if k != "lang"} | ({"lang": "en"} if lang == "vi" else {})
        html = TEMPLATE_ENV.get_template("fleet.html").render(
            p=page, f=fmt, lang=lang, vi=lang == "vi", base=base, static=f"{base}/static", states=STATE_FILTERS,
            state_names=names, query=urlencode(params), now=datetime.now(ZoneInfo(timezone)),
            refresh=60, switch_lang=f"{base}/fleet?" + urlencode(switched),
            prev_href=href(max(0, flt.offset - flt.limit)) if flt.offset > 0 else None,
            next_href=href(flt.offset + flt.limit) if flt.offset + len(page.rows) < page.total else None,
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get(base + "/fleet/export.{suffix}", include_in_schema=False)
    def fleet_export(request: Request, suffix: str) -> Response:
        if not viewer(request):
            return Response(status_code=status.HTTP_401_UNAUTHORIZED)
        if suffix not in ("csv", "xlsx"):
            return Response(status_code=status.HTTP_404_NOT_FOUND)
        try:
            params, page = fleet_of(request)
        except FleetFilterError as exc:
            return refused(exc)
        fmt = LocalFormat(parse_lang(params.get("lang")), timezone)
        table = fleet_table(page, fmt.lang)
        if suffix == "csv":
            return _download(to_csv(table, fmt), CSV_MEDIA_TYPE, filename(table.name, "csv"))
        return _download(to_xlsx([table], fmt), XLSX_MEDIA_TYPE, filename(table.name, "xlsx"))
