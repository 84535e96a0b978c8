"""The dashboard: server-rendered, in Vietnamese, readable on a laptop and a phone.

No JavaScript and no external resources (inline CSS, SVG bars). The viewer signs in
once with a token through the form; the browser keeps only an opaque, expiring session
id (HttpOnly, SameSite=Strict, Secure over TLS). The form's POSTs are refused from
another origin, and wrong tokens count toward the client's lockout (429).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from server.deps import (
    COOKIE,
    AreaName,
    OfflineAfter,
    Settings,
    Store,
    client_key,
    get_limiter,
    get_sessions,
    role_of,
    session_role,
)
from server.security import SESSION_SECONDS
from server.store import EventStore

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"

METHOD_LABELS = {"qr": "Mã QR", "chip": "Chip", "qr+chip": "QR + chip"}
TRUST_LABELS = {
    "invalid": "Không hợp lệ",
    "qr_only": "Chỉ mã QR (chưa xác thực)",
    "chip_data_unanchored": "Dữ liệu chip (chưa xác thực nguồn)",
    "chip_verified": "Chip đã xác thực",
    "chip_verified_clone_checked": "Chip xác thực, chống sao chép",
}
TYPE_LABELS = {"hospital": "Bệnh viện", "health_station": "Trạm y tế", "private_clinic": "Phòng khám tư nhân"}
OFFLINE_LABELS = {
    "last_will": "Mất kết nối đột ngột",
    "missed_heartbeats": "Không còn tín hiệu định kỳ",
    "never_seen": "Chưa từng kết nối",
}

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def _today(store: EventStore) -> date:
    return datetime.now(store.tz).date()


@router.get("/")
def root() -> Response:
    return RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)


def _same_origin(request: Request) -> bool:
    """A form POST from this site: no Origin header (an old browser, a script) or one naming this host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _login_page(error: bool = False, locked: bool = False, status_code: int = 200) -> HTMLResponse:
    html = _env.get_template("login.html").render(error=error, locked=locked)
    return HTMLResponse(html, status_code=status_code)


@router.get("/dashboard/login", response_class=HTMLResponse)
def login_form(error: bool = False) -> HTMLResponse:
    return _login_page(error=error, status_code=401 if error else 200)


@router.post("/dashboard/login")
async def login(request: Request, settings: Settings) -> Response:
    if not _same_origin(request):
        return HTMLResponse("cross-origin sign-in refused", status_code=status.HTTP_403_FORBIDDEN)
    limiter = get_limiter(request)
    retry = limiter.retry_after(client_key(request))
    if retry is not None:
        page = _login_page(locked=True, status_code=status.HTTP_429_TOO_MANY_REQUESTS)
        page.headers["Retry-After"] = str(retry)
        return page
    # a plain urlencoded form, parsed here (no python-multipart dependency)
    body = (await request.body())[:4096].decode("utf-8", "replace")
    token = (parse_qs(body).get("token") or [""])[0]
    role = role_of(token, settings)
    if role is None:
        limiter.failed(client_key(request))
        return RedirectResponse("/dashboard/login?error=true", status_code=status.HTTP_303_SEE_OTHER)
    response = RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(COOKIE, get_sessions(request).create(role), httponly=True, samesite="strict",
                        max_age=SESSION_SECONDS, secure=request.url.scheme == "https", path="/")
    return response


@router.post("/dashboard/logout")
def logout(request: Request) -> Response:
    if not _same_origin(request):
        return HTMLResponse("cross-origin sign-out refused", status_code=status.HTTP_403_FORBIDDEN)
    get_sessions(request).drop(request.cookies.get(COOKIE))
    response = RedirectResponse("/dashboard/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request, store: Store, settings: Settings, offline_after: OfflineAfter,
    province: AreaName = None, days: int = 30,
) -> Response:
    if session_role(request) is None:
        return RedirectResponse("/dashboard/login", status_code=status.HTTP_303_SEE_OTHER)
    days = max(7, min(days, 92))
    today = _today(store)
    start = today - timedelta(days=days - 1)
    window = settings.registry.coverage_days
    coverage = store.coverage("district", window, province)
    # the districts furthest from the target first
    coverage.areas.sort(key=lambda a: (a.ratio, a.province, a.district or ""))
    totals = store.coverage("province", window, province)
    usage = store.usage(None, start, today, province=province, distinct=False)
    per_day = {p.period: p.checkins for p in usage.periods}
    series = [((start + timedelta(days=i)).isoformat(), per_day.get((start + timedelta(days=i)).isoformat(), 0))
              for i in range(days)]
    peak = max([n for _d, n in series] + [1])
    total = usage.total_checkins or 1
    methods = [(METHOD_LABELS.get(k, k), n, n / total) for k, n in sorted(usage.by_method.items(), key=lambda x: -x[1])]
    trusts = [(TRUST_LABELS.get(k, k), n, n / total) for k, n in sorted(usage.by_trust.items(), key=lambda x: -x[1])]
    uncovered = store.uncovered_facilities(window)
    if province:
        uncovered = [f for f in uncovered if f.province == province]
    offline = store.readers(offline_after, offline=True)  # filtered in the database, not the whole fleet
    html = _env.get_template("dashboard.html").render(
        coverage=coverage, totals=totals, series=series, peak=peak, days=days, today=today,
        total_checkins=usage.total_checkins, methods=methods, trusts=trusts,
        uncovered=uncovered, offline=offline, window=window, province=province,
        type_labels=TYPE_LABELS, offline_labels=OFFLINE_LABELS,
    )
    return HTMLResponse(html)
