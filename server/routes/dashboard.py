"""Signing in to the dashboard and out of it; the pages themselves are in :mod:`server.routes.reports`.

The viewer signs in once with a read token through the form; it is kept in an HttpOnly cookie.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from server.deps import COOKIE, Settings, role_of

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"

router = APIRouter(include_in_schema=False)
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


@router.get("/")
def root() -> Response:
    return RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/dashboard/login", response_class=HTMLResponse)
def login_form(error: bool = False) -> HTMLResponse:
    return HTMLResponse(_env.get_template("login.html").render(error=error), status_code=401 if error else 200)


@router.post("/dashboard/login")
async def login(request: Request, settings: Settings) -> Response:
    # a plain urlencoded form, parsed here (no python-multipart dependency)
    body = (await request.body())[:4096].decode("utf-8", "replace")
    token = (parse_qs(body).get("token") or [""])[0]
    if role_of(token, settings) is None:
        return RedirectResponse("/dashboard/login?error=true", status_code=status.HTTP_303_SEE_OTHER)
    response = RedirectResponse("/dashboard", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=12 * 3600)
    return response


@router.post("/dashboard/logout")
def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response
