"""The officer's dashboard, its exports, the province report and the technician's fleet view.

Pages and downloads for a signed-in dashboard viewer; ``/api/v1/fleet`` (in
:mod:`server.routes.fleet`) is the same fleet for API clients. Every parameter is
parsed and bounded by :mod:`server.officer`, :mod:`server.report` or :mod:`server.fleet`
and answered with 422 when it cannot be served.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from server.deps import OfflineAfter, Settings, Store, session_role
from server.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, filename, to_csv, to_xlsx
from server.fleet import STATE_FILTERS, FleetFilterError, FleetPage, fleet_page, fleet_table, parse_filter
from server.labels import READER_STATES
from server.localformat import LocalFormat, parse_lang
from server.officer import TEMPLATE_ENV, DashboardView, Scope, ScopeError, build_view, render_dashboard, view_table
from server.report import Period, PeriodError, build_report, render_report_html, report_xlsx
from server.settings import ServerSettings
from server.store import EventStore
from server.store.areas import Area

STATIC = Path(__file__).resolve().parents[1] / "static" / "dashboard"
STATIC_FILES = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8"}
BASE = "/dashboard"
LOGIN = "/dashboard/login"
LOGOUT = "/dashboard/logout"

router = APIRouter(include_in_schema=False)


def _signed_in(request: Request, settings: ServerSettings) -> bool:
    """A dashboard session (an opaque, expiring id in the cookie; never the token)."""
    del settings  # the session store knows the role
    return session_role(request) is not None


def _refused(exc: ValueError) -> Response:
    return Response(str(exc), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="text/plain")


def _view(request: Request, store: EventStore, settings: ServerSettings, offline_after: OfflineAfter) -> DashboardView:
    scope = Scope.parse(dict(request.query_params), datetime.now(store.tz).date())
    with store.engine.connect() as conn:
        return build_view(conn, scope, timezone=settings.timezone, coverage_days=settings.registry.coverage_days,
                          offline_after=offline_after, base=BASE)


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})



@router.get(BASE + "/static/{name}")
def static_file(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "max-age=300"})


@router.get(BASE, response_class=HTMLResponse)
def dashboard(request: Request, store: Store, settings: Settings, offline_after: OfflineAfter) -> Response:
    if not _signed_in(request, settings):
        return RedirectResponse(LOGIN, status_code=status.HTTP_303_SEE_OTHER)
    try:
        view = _view(request, store, settings, offline_after)
    except ScopeError as exc:
        return _refused(exc)
    return HTMLResponse(render_dashboard(view, base=BASE, static=f"{BASE}/static", logout=LOGOUT),
                        headers={"Cache-Control": "no-store"})


@router.get(BASE + "/export.{suffix}")
def export(request: Request, suffix: str, store: Store, settings: Settings, offline_after: OfflineAfter) -> Response:
    if not _signed_in(request, settings):
        return Response(status_code=status.HTTP_401_UNAUTHORIZED)
    if suffix not in ("csv", "xlsx"):
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    try:
        view = _view(request, store, settings, offline_after)
    except ScopeError as exc:
        return _refused(exc)
    table = view_table(view)
    if suffix == "csv":
        return _download(to_csv(table, view.fmt), CSV_MEDIA_TYPE, filename(table.name, "csv"))
    return _download(to_xlsx([table], view.fmt), XLSX_MEDIA_TYPE, filename(table.name, "xlsx"))


@router.get("/reports/province")
def province_report(request: Request, store: Store, settings: Settings, period: str | None = None,
                    province: str | None = None, district: str | None = None, lang: str | None = None,
                    format: str = "html") -> Response:
    if not _signed_in(request, settings):
        if format == "html":
            return RedirectResponse(LOGIN, status_code=status.HTTP_303_SEE_OTHER)
        return Response(status_code=status.HTTP_401_UNAUTHORIZED)
    fmt = LocalFormat(parse_lang(lang), settings.timezone)
    now = datetime.now(store.tz)
    try:
        chosen = Period.parse(period) if period else Period(now.year, month=now.month)
    except PeriodError as exc:
        return _refused(exc)
    for name, value in (("province", province), ("district", district)):
        if value is not None and (len(value) > 100 or any(ord(ch) < 32 for ch in value)):
            return _refused(ValueError(f"{name}: at most 100 printable characters"))
    if format not in ("html", "xlsx"):
        return _refused(ValueError("format: html or xlsx"))
    with store.engine.connect() as conn:
        report = build_report(conn, chosen, Area(province or None, district or None), fmt.lang)
    if format == "xlsx":
        name = filename(f"bao-cao-{chosen.key}-{province or 'all'}", "xlsx")
        return _download(report_xlsx(report, fmt), XLSX_MEDIA_TYPE, name)
    xlsx = request.url.include_query_params(format="xlsx")
    return HTMLResponse(render_report_html(report, fmt, xlsx_url=f"{xlsx.path}?{xlsx.query}", static=f"{BASE}/static"),
                        headers={"Cache-Control": "no-store"})


def _fleet(request: Request, store: EventStore, offline_after: OfflineAfter) -> tuple[dict[str, str], FleetPage]:
    params = dict(request.query_params)
    flt = parse_filter(params)
    with store.engine.connect() as conn:
        return params, fleet_page(conn, flt, datetime.now(ZoneInfo("UTC")) - offline_after)


@router.get(BASE + "/fleet", response_class=HTMLResponse)
def fleet(request: Request, store: Store, settings: Settings, offline_after: OfflineAfter) -> Response:
    if not _signed_in(request, settings):
        return RedirectResponse(LOGIN, status_code=status.HTTP_303_SEE_OTHER)
    try:
        params, page = _fleet(request, store, offline_after)
    except FleetFilterError as exc:
        return _refused(exc)
    lang = parse_lang(params.get("lang"))
    fmt = LocalFormat(lang, settings.timezone)
    flt = page.filter

    def href(offset: int) -> str:
        return f"{BASE}/fleet?" + urlencode({**params, "offset": offset})

    vi = lang == "vi"
    names = {st: ("Tất cả" if vi else "All") if st == "any" else ("Không hoạt động" if vi else "Not online")
             if st == "offline" else READER_STATES[st][0 if vi else 1] for st in STATE_FILTERS}
    switched = {k: v for k, v in params.items() if k != "lang"} | ({"lang": "en"} if vi else {})
    html = TEMPLATE_ENV.get_template("fleet.html").render(
        p=page, f=fmt, lang=lang, vi=vi, base=BASE, static=f"{BASE}/static", states=STATE_FILTERS,
        state_names=names, query=urlencode(params), now=datetime.now(store.tz), refresh=60,
        switch_lang=f"{BASE}/fleet?" + urlencode(switched),
        prev_href=href(max(0, flt.offset - flt.limit)) if flt.offset > 0 else None,
        next_href=href(flt.offset + flt.limit) if flt.offset + len(page.rows) < page.total else None,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get(BASE + "/fleet/export.{suffix}")
def fleet_export(request: Request, suffix: str, store: Store, settings: Settings,
                 offline_after: OfflineAfter) -> Response:
    if not _signed_in(request, settings):
        return Response(status_code=status.HTTP_401_UNAUTHORIZED)
    if suffix not in ("csv", "xlsx"):
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    try:
        params, page = _fleet(request, store, offline_after)
    except FleetFilterError as exc:
        return _refused(exc)
    fmt = LocalFormat(parse_lang(params.get("lang")), settings.timezone)
    table = fleet_table(page, fmt.lang)
    if suffix == "csv":
        return _download(to_csv(table, fmt), CSV_MEDIA_TYPE, filename(table.name, "csv"))
    return _download(to_xlsx([table], fmt), XLSX_MEDIA_TYPE, filename(table.name, "xlsx"))
