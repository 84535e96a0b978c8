"""The desk's local web server: the receptionist's screen and the HIS hand-off API.

Bound to loopback by default (a kiosk browser on the Pi's display, or the HIS on the same
machine). The screen updates live over server-sent events and answers only the desk
(:mod:`edge.desk.access`: its own Host and Origin, a token beyond loopback, rate-limited
actions). The HIS API and its live feed need the local HIS token; a rejected read is told
to the HIS as rejected, without the patient's fields.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import resources

from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from contract.catalogue import CATALOGUE, FIELD_LABELS, METHOD_LABELS, SCREEN_LABELS, TRUST_LEVEL_LABELS, text
from edge.desk.access import COOKIE, RateLimiter, ScreenAccess, is_loopback_address, token_matches
from edge.desk.his import his_fields, his_rejection
from edge.desk.hub import DeskHub, HubEvent
from edge.desk.view import IN_PROGRESS

KEEPALIVE_SECONDS = 15.0
_NO_STORE = {"Cache-Control": "no-store"}


class CanInput(BaseModel):
    can: str = Field(pattern=r"^[0-9]{6}$", description="the last 6 digits of the ID number")
    replace: bool = Field(False, description="end the visit waiting for its card (QR-only) and read this CAN")


class TokenInput(BaseModel):
    token: str = Field(max_length=512)


@dataclass(frozen=True)
class DeskActions:
    """What the receptionist's buttons do; each runs on the desk thread (the agent queues it)."""

    can: Callable[[str, bool], None] | None = None  # (can, replace)
    next_patient: Callable[[], None] | None = None
    rescan: Callable[[], None] | None = None


def _refusal(status_code: int, code: str, headers: dict[str, str] | None = None) -> HTTPException:
    t = text(code)
    return HTTPException(status_code, {"code": code, "vi": t.vi, "en": t.en}, headers=headers)


def _page(access: ScreenAccess) -> str:
    """The screen's page with the catalogue's words in it (the page has no text of its own)."""
    words = {
        "screen": {k: {"vi": t.vi, "en": t.en} for k, t in SCREEN_LABELS.items()},
        "levels": {k: {"vi": t.vi, "en": t.en} for k, t in TRUST_LEVEL_LABELS.items()},
        "methods": {k: {"vi": t.vi, "en": t.en} for k, t in METHOD_LABELS.items()},
        "fields": {k: {"vi": t.vi, "en": t.en} for k, t in FIELD_LABELS.items()},
        "messages": {k: {"vi": CATALOGUE[k].vi, "en": CATALOGUE[k].en} for k in ("can.invalid", "can.rate_limited")},
    }
    page = resources.files("edge.desk").joinpath("static/screen.html").read_text(encoding="utf-8")
    # </ cannot end the script element: the JSON is safe inside <script>.
    return page.replace("/*CATALOGUE*/{}", json.dumps(words, ensure_ascii=False).replace("</", "<\\/"))


def create_desk_app(
    hub: DeskHub,
    *,
    his_token: str | None,
    on_can: Callable[[str], None] | None = None,
    actions: DeskActions | None = None,
    access: ScreenAccess | None = None,
    action_limiter: RateLimiter | None = None,
    aim_jpeg: Callable[[], bytes | None] | None = None,
) -> FastAPI:
    """The screen and HIS app over one hub. Without a HIS token the HIS API answers 503.

    ``on_can`` is the older one-callback form of ``actions.can`` (no replace).
    ``aim_jpeg`` (technician mode only) gives the camera's newest frame with the QR outlined;
    without it the aiming view is 404.
    """
    access = access or ScreenAccess()
    if actions is None:
        actions = DeskActions(can=(lambda can, _replace: on_can(can)) if on_can else None)
    limiter = action_limiter or RateLimiter()
    login_limiter = RateLimiter(burst=5, per_second=0.2)
    app = FastAPI(title="CCCD desk", version="1", docs_url="/his/docs", openapi_url="/his/openapi.json")
    page = _page(access)
    aim_html = resources.files("edge.desk").joinpath("static/aim.html").read_text(encoding="utf-8")

    def require_his(request: Request) -> None:
        if his_token is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the HIS API is not configured")
        if not token_matches(_bearer(request), his_token):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid HIS token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    def own_page(request: Request) -> None:
        """The request is the screen's own: its Host, and (from a browser) its Origin."""
        host = request.headers.get("host")
        if not access.host_allowed(host):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "unknown Host: this is a desk screen")
        origin = request.headers.get("origin")
        if origin is not None and not access.origin_allowed(origin, host):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "another site's page may not read the desk")
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "another site's page may not read the desk")

    def desk_only(request: Request) -> None:
        """…and from the desk: loopback, or a LAN client with the screen token (after :func:`own_page`)."""
        client = request.client.host if request.client else None
        if is_loopback_address(client):
            return
        if access.token is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the screen answers loopback only")
        if not (token_matches(_bearer(request), access.token) or token_matches(request.cookies.get(COOKIE),
                                                                                access.token)):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the screen token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    def limited() -> None:
        if not limiter.allow():
            raise _refusal(status.HTTP_429_TOO_MANY_REQUESTS, "can.rate_limited",
                           {"Retry-After": str(limiter.retry_after())})

    screen_guard = [Depends(own_page), Depends(desk_only)]
    action_guard = [*screen_guard, Depends(limited)]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(own_page)])
    def screen() -> HTMLResponse:
        return HTMLResponse(page, headers={**_NO_STORE, "X-Frame-Options": "DENY",
                                           "Content-Security-Policy": "frame-ancestors 'none'"})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/screen/api/login", include_in_schema=False, dependencies=[Depends(own_page)],
              status_code=status.HTTP_204_NO_CONTENT)
    def login(body: TokenInput, response: Response) -> None:
        """A LAN desk PC's token, typed once into the screen: kept in an HttpOnly cookie."""
        if not login_limiter.allow():
            raise _refusal(status.HTTP_429_TOO_MANY_REQUESTS, "can.rate_limited",
                           {"Retry-After": str(login_limiter.retry_after())})
        if access.token is None or not token_matches(body.token, access.token):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong screen token")
        response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", secure=access.secure,
                            max_age=12 * 3600)

    @app.get("/screen/api/state", include_in_schema=False, dependencies=screen_guard)
    def state() -> Response:
        current = hub.current()
        body = {
            "current": json.loads(hub.view_json(current)) if current else None,
            "status": hub.status(),
            "history_enabled": hub.history_enabled,
            "actions": {"can": actions.can is not None, "next": actions.next_patient is not None,
                        "rescan": actions.rescan is not None},
        }
        return JSONResponse(body, headers=_NO_STORE)

    @app.get("/screen/api/history", include_in_schema=False, dependencies=screen_guard)
    def history() -> Response:
        if not hub.history_enabled:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "local history is turned off at this facility")
        return JSONResponse([json.loads(hub.view_json(v)) for v in reversed(hub.history())], headers=_NO_STORE)

    @app.get("/screen/photo/{visit_id}", include_in_schema=False, dependencies=screen_guard)
    def photo(visit_id: str) -> Response:
        found = hub.photo(visit_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no photo for this visit")
        data, mime = found
        return Response(data, media_type=mime, headers=_NO_STORE)

    @app.get("/screen/aim", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(own_page)])
    def aim_page() -> HTMLResponse:
        if aim_jpeg is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "technician mode is off")
        return HTMLResponse(aim_html, headers={**_NO_STORE, "X-Frame-Options": "DENY",
                                               "Content-Security-Policy": "frame-ancestors 'none'"})

    @app.get("/screen/api/aim.jpg", include_in_schema=False, dependencies=screen_guard)
    def aim_frame() -> Response:
        """The camera frame shows the patient's card: personal data, guarded and never cached."""
        if aim_jpeg is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "technician mode is off")
        jpeg = aim_jpeg()
        if jpeg is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no camera frame yet")
        return Response(jpeg, media_type="image/jpeg", headers=_NO_STORE)

    @app.post("/screen/api/can", include_in_schema=False, status_code=status.HTTP_202_ACCEPTED,
              dependencies=action_guard)
    def typed_can(body: CanInput) -> dict[str, bool]:
        """A CAN typed at the desk for a chip-only read; never replaces a waiting visit unasked."""
        if actions.can is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no chip reader at this desk")
        current = hub.current()
        if current is not None and current.state in IN_PROGRESS and not body.replace:
            raise _refusal(status.HTTP_409_CONFLICT, "can.visit_in_progress")
        actions.can(body.can, body.replace)
        return {"accepted": True}

    def button(path: str, action: Callable[[], None] | None) -> None:
        """A receptionist's button: the action queued for the desk thread, or 503 at a desk without it."""

        def pressed() -> dict[str, bool]:
            if action is None:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "not available at this desk")
            action()
            return {"accepted": True}

        app.post(path, include_in_schema=False, status_code=status.HTTP_202_ACCEPTED,
                 dependencies=action_guard)(pressed)

    button("/screen/api/next", actions.next_patient)
    button("/screen/api/rescan", actions.rescan)

    @app.get("/screen/api/stream", include_in_schema=False, dependencies=screen_guard)
    async def screen_stream(request: Request) -> StreamingResponse:
        return StreamingResponse(_sse(hub, request, his=False), media_type="text/event-stream", headers=_NO_STORE)

    @app.get("/his/v1/patient/current", dependencies=[Depends(require_his)], tags=["HIS"],
             summary="The patient at the desk now, in XML130 field names (409 when the read was rejected)")
    def his_current() -> dict[str, object]:
        current = hub.current()
        if current is None or current.state not in ("recorded", "recorded_caution", "not_recorded"):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no patient at the desk")
        if current.handed_to_his:
            return his_fields(current)
        raise HTTPException(status.HTTP_409_CONFLICT, his_rejection(current))

    @app.get("/his/v1/stream", dependencies=[Depends(require_his)], tags=["HIS"],
             summary="Server-sent events: 'patient' per accepted read (XML130 names), 'rejected' without fields")
    async def his_stream(request: Request) -> StreamingResponse:
        return StreamingResponse(_sse(hub, request, his=True), media_type="text/event-stream", headers=_NO_STORE)

    return app


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _his_event(event: HubEvent) -> tuple[str, str] | None:
    """What the HIS feed says about a hub event: the patient, a rejection, or nothing."""
    view = event.view
    if event.kind != "visit" or view is None:
        return None
    if view.handed_to_his:
        return "patient", json.dumps(his_fields(view), ensure_ascii=False)
    if view.state == "not_recorded":
        return "rejected", json.dumps(his_rejection(view), ensure_ascii=False)
    return None  # waiting for the card or the chip: not a patient yet


async def _sse(hub: DeskHub, request: Request, *, his: bool) -> AsyncIterator[bytes]:
    listener = hub.listen()
    try:
        yield b": connected\n\n"
        while not await request.is_disconnected():
            try:
                event = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if his:
                told = _his_event(event)
                if told is None:
                    continue
                kind, data = told
            else:
                kind, data = event.kind, event.data
            yield f"event: {kind}\ndata: {data}\n\n".encode()
    finally:
        hub.unlisten(listener)
