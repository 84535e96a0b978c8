"""The technician's aiming view on the desk web: off by default, and guarded like the patient's data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.desk_web import DeskWeb
from edge.config import ScreenSettings
from edge.desk.access import ScreenAccess
from edge.desk.app import DeskActions, create_desk_app
from edge.desk.hub import DeskHub

SCREEN_TOKEN = "screen-token-9876543210fedcba"
DESK = ("127.0.0.1", 50000)
LAN = ("192.168.1.50", 50000)
JPEG = b"\xff\xd8\xff\xe0 a frame \xff\xd9"


def client(app, who=DESK) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1:8081", client=who)


@pytest.fixture
def aiming():
    return create_desk_app(DeskHub(), his_token=None, aim_jpeg=lambda: JPEG,
                           access=ScreenAccess.for_names(["desk-pc.clinic.lan"], token=SCREEN_TOKEN))


def test_without_technician_mode_there_is_no_aiming_view():
    c = client(create_desk_app(DeskHub(), his_token=None))
    assert c.get("/screen/api/aim.jpg").status_code == 404
    assert c.get("/screen/aim").status_code == 404


def test_technician_mode_serves_the_frame_as_an_uncached_jpeg_and_a_page_that_polls_it(aiming):
    c = client(aiming)
    r = c.get("/screen/api/aim.jpg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "no-store"
    assert r.content == JPEG
    page = c.get("/screen/aim")
    assert page.status_code == 200 and "/screen/api/aim.jpg" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_no_camera_frame_yet_is_404_not_an_error():
    c = client(create_desk_app(DeskHub(), his_token=None, aim_jpeg=lambda: None))
    assert c.get("/screen/api/aim.jpg").status_code == 404


@pytest.mark.parametrize(("who", "headers", "expected"), [
    (DESK, {"Host": "evil.example"}, 400),  # DNS rebinding: refused like /screen/api/state
    (DESK, {"Origin": "http://evil.example"}, 403),
    (DESK, {"Sec-Fetch-Site": "cross-site"}, 403),
    (LAN, {}, 401),
    (LAN, {"Authorization": "Bearer wrong"}, 401),
])
def test_the_frame_shows_the_patients_card_so_it_is_refused_like_the_state(aiming, who, headers, expected):
    c = client(aiming, who)
    assert c.get("/screen/api/aim.jpg", headers=headers).status_code == expected
    assert c.get("/screen/api/state", headers=headers).status_code == expected


def test_a_lan_desk_pc_with_the_screen_token_sees_the_frame(aiming):
    r = client(aiming, LAN).get("/screen/api/aim.jpg", headers={"Authorization": f"Bearer {SCREEN_TOKEN}"})
    assert r.status_code == 200 and r.content == JPEG


@pytest.mark.parametrize(("technician_mode", "expected"), [(False, 404), (True, 200)])
def test_the_desk_web_wires_the_view_only_in_technician_mode(technician_mode, expected):
    assert ScreenSettings().technician_mode is False  # off by default
    web = DeskWeb(DeskHub(), ScreenSettings(technician_mode=technician_mode), his_token=None,
                  actions=DeskActions(), aim_jpeg=lambda: JPEG)
    assert client(web._config.app).get("/screen/api/aim.jpg").status_code == expected
