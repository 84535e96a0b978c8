"""The dashboard: server-rendered, in Vietnamese, readable on a laptop and a phone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from server.settings import ServerSettings
from server.store import EventStore

TEMPLATES = Path(__file__).with_name("templates")
COOKIE = "cccd_token"


def mount_dashboard(app: FastAPI, store: EventStore, settings: ServerSettings, offline_after: timedelta) -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/dashboard", status_code=303)
