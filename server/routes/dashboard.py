"""Signing in to the dashboard and out of it; the pages themselves are in :mod:`server.routes.reports`.

The viewer signs in once with a token through the form; the browser keeps only an opaque,
expiring session id (HttpOnly, SameSite=Strict, Secure over TLS). The form's POSTs are
refused from another origin, and wrong tokens count toward the client's lockout (429).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from server.deps import COOKIE, Settings, client_key, get_limiter, get_sessions, role_of
from server.security import SESSION_SECONDS

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


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
    # the limiter and the sessions are in the database: off the event loop
    retry = await run_in_threadpool(limiter.retry_after, client_key(request))
    if retry is not None:
        page = _login_page(locked=True, status_code=status.HTTP_429_TOO_MANY_REQUESTS)
        page.headers["Retry-After"] = str(retry)
        return page
    # a plain urlencoded form, parsed here (no python-multipart dependency)
    body = (await request.body())[:4096].decode("utf-8", "replace")
    token = (parse_qs(body).get("token") or [""])[0]
    role = role_of(token, settings)
    if role is None:
        await run_in_threadpool(limiter.failed, client_key(request))
        return RedirectResponse("/dashboard/login?error=true", status_code=status.HTTP_303_SEE_OTHER)
    response = RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)
    sid = await run_in_threadpool(get_sessions(request).create, role.value)
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict",
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
