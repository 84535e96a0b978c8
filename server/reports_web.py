"""HTTP routes of the officer's dashboard, its exports and the province report.

``mount_reports`` adds them to an application; who may see them is the caller's
``viewer`` check (the session of the dashboard), so this module knows nothing of tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from server.area_queries import Area
from server.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, filename, to_csv, to_xlsx
from server.localformat import LocalFormat, parse_lang
from server.officer import Scope, ScopeError, build_view, render_dashboard, view_table
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
