"""The desk's local web server: the receptionist's screen and the HIS hand-off API.

Bound to loopback by default (a kiosk browser on the Pi's display, or the HIS on the same
machine). The screen updates live over server-sent events; the HIS API and its live
feed need the local HIS token.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from edge.desk.his import his_fields
from edge.desk.hub import DeskHub

_bearer = HTTPBearer(auto_error=False)
KEEPALIVE_SECONDS = 15.0


class CanInput(BaseModel):
    can: str = Field(pattern=r"^[0-9]{6}$", description="the last 6 digits of the ID number")


def create_desk_app(
    hub: DeskHub, *, his_token: str | None, on_can: Callable[[str], None] | None = None
) -> FastAPI:
    """The screen and HIS app over one hub. Without a HIS token the HIS API answers 503."""
    app = FastAPI(title="CCCD desk", version="1", docs_url="/his/docs", openapi_url="/his/openapi.json")
    page = resources.files("edge.desk").joinpath("static/screen.html").read_text(encoding="utf-8")

    def require_his(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if his_token is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the HIS API is not configured")
        if creds is None or not hmac.compare_digest(creds.credentials, his_token):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid HIS token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def screen() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/screen/api/state", include_in_schema=False)
    def state() -> Response:
        current = hub.current()
        body = {
            "current": json.loads(hub.view_json(current)) if current else None,
            "status": hub.status(),
            "history_enabled": hub.history_enabled,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.get("/screen/api/history", include_in_schema=False)
    def history() -> Response:
        if not hub.history_enabled:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "local history is turned off at this facility")
        return JSONResponse([json.loads(hub.view_json(v)) for v in hub.history()],
                            headers={"Cache-Control": "no-store"})

    @app.get("/screen/photo/{visit_id}", include_in_schema=False)
    def photo(visit_id: str) -> Response:
        found = hub.photo(visit_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no photo for this visit")
        data, mime = found
        return Response(data, media_type=mime, headers={"Cache-Control": "no-store"})

    @app.post("/screen/api/can", include_in_schema=False, status_code=status.HTTP_202_ACCEPTED)
    def typed_can(body: CanInput) -> dict[str, bool]:
        """A CAN typed at the desk for a chip-only read (the card must be on the reader)."""
        if on_can is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no chip reader at this desk")
        on_can(body.can)
        return {"accepted": True}

    @app.get("/screen/api/stream", include_in_schema=False)
    async def screen_stream(request: Request) -> StreamingResponse:
        return StreamingResponse(_sse(hub, request, his=False), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.get("/his/v1/patient/current", dependencies=[Depends(require_his)], tags=["HIS"],
             summary="The patient at the desk now, in XML130 field names")
    def his_current() -> dict[str, object]:
        current = hub.current()
        if current is None or current.id_number is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no patient at the desk")
        return his_fields(current)

    @app.get("/his/v1/stream", dependencies=[Depends(require_his)], tags=["HIS"],
             summary="Server-sent events: one 'patient' event per check-in, in XML130 field names")
    async def his_stream(request: Request) -> StreamingResponse:
        return StreamingResponse(_sse(hub, request, his=True), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    return app


async def _sse(hub: DeskHub, request: Request, *, his: bool) -> AsyncIterator[bytes]:
    listener = hub.listen()
    try:
        yield b": connected\n\n"
        while not await request.is_disconnected():
            try:
                kind, data = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if his:
                if kind != "visit":
                    continue
                current = hub.current()
                if current is None or current.id_number is None:
                    continue
                kind, data = "patient", json.dumps(his_fields(current), ensure_ascii=False)
            yield f"event: {kind}\ndata: {data}\n\n".encode()
    finally:
        hub.unlisten(listener)
