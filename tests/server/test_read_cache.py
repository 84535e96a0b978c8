"""``[api] cache_seconds``: the fleet-wide answers kept a few seconds, authorisation never kept.

A kept answer goes only to a request whose token or session grants a role now; a wrong
token, no credentials, a signed-out session or a locked-out client get what the route
says without the cache. The expiry is driven by an injected clock (no sleeping)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from srvhelpers import ADMIN_TOKEN, READ_TOKEN, auth, make_settings, register_fleet, wait_until
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from server.app import create_app
from server.read_cache import ReadCache


def test_a_kept_answer_is_given_only_to_a_request_that_may_read_now(tmp_path):
    api = {"read_tokens": [READ_TOKEN], "admin_tokens": [ADMIN_TOKEN], "cache_seconds": 300, "max_failed_auth": 2}
    app = create_app(make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", api=api), ingest=False)
    register_fleet(app.state.store, 2)
    with TestClient(app) as client:
        first = client.get("/api/v1/readers", headers=auth())
        assert first.status_code == 200 and len(first.json()) == 2 and "age" not in first.headers
        app.state.store.add_reader(first.json()[0]["facility_code"], "desk-2")
        kept = client.get("/api/v1/readers", headers=auth(ADMIN_TOKEN))  # any role that may read
        assert kept.json() == first.json() and kept.headers["age"] == "0"
        assert kept.headers["x-content-type-options"] == "nosniff"  # the security headers are kept too
        assert len(client.get("/api/v1/readers?limit=50", headers=auth()).json()) == 3  # another query: fresh
        for headers in ({}, auth("wrong-token-0123456789"), {"Authorization": f"Basic {READ_TOKEN}"},
                        auth("another-wrong-token-0123")):
            assert client.get("/api/v1/readers", headers=headers).status_code == 401
        # the two wrong tokens above locked this client out: even the right token is refused now
        assert client.get("/api/v1/readers", headers=auth()).status_code == 429

    # another database: the lockout above is kept in the first one, for every process
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'b.sqlite'}", api=api), ingest=False)
    with TestClient(app) as browser:
        assert browser.get("/dashboard", follow_redirects=False).status_code == 303
        browser.post("/dashboard/login", data={"token": READ_TOKEN})
        page = browser.get("/dashboard")
        again = browser.get("/dashboard")
        assert page.status_code == 200 and again.text == page.text and "age" in again.headers
        browser.post("/dashboard/logout")
        assert browser.get("/dashboard", follow_redirects=False).status_code == 303  # not the kept page


def test_an_answer_is_kept_for_its_seconds_renewed_behind_for_as_long_again_and_only_when_a_200():
    calls = {"n": 0}
    now = [100.0]

    def readers(request: Request) -> PlainTextResponse:
        calls["n"] += 1
        return PlainTextResponse(f"answer {calls['n']}", status_code=int(request.query_params.get("status", 200)))

    app = ReadCache(Starlette(routes=[Route("/api/v1/readers", readers), Route("/api/v1/usage", readers)]),
                    seconds=5, authorised=lambda _r: True, clock=lambda: now[0])
    with TestClient(app) as client:
        assert client.get("/api/v1/readers").text == "answer 1"
        now[0] += 4.9
        assert client.get("/api/v1/readers").text == "answer 1"
        now[0] += 0.2  # 5.1 s old: still given at once, and renewed behind it, once
        stale = [client.get("/api/v1/readers").text for _ in range(3)]
        assert stale[0] == "answer 1"
        wait_until(lambda: client.get("/api/v1/readers").text == "answer 2", 10, "the renewed answer")
        assert calls["n"] == 2
        now[0] += 10.1  # past twice its seconds: asked again while the client waits
        assert client.get("/api/v1/readers").text == "answer 3"
        assert client.get("/api/v1/readers?status=503").text == "answer 4"
        assert client.get("/api/v1/readers?status=503").text == "answer 5"  # an error is never kept
        assert client.get("/api/v1/usage").text == "answer 6"
        assert client.get("/api/v1/usage").text == "answer 7"  # not a fleet-wide path
