"""The desk's screen and HIS API over the hub (in-process; the browser test drives a real Chromium)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from edge.desk.app import create_desk_app
from edge.desk.his import ethnicity_code, his_fields
from edge.desk.hub import DeskHub
from edge.desk.view import view_from_error, view_from_qr
from edge.domain.messages import QrError
from edge.domain.qr import parse_qr

P2021 = "089202012345|351234567|Lê Văn A|23052002|Nam|Tổ 1, Ấp B, Xã C, Huyện D, An Giang|31122021"
HIS_TOKEN = "his-token-0123456789abcdef"


@pytest.fixture
def hub():
    return DeskHub()


def desk_client(app) -> TestClient:
    """A client as the desk's own kiosk browser is: on loopback, asking for the screen's own host."""
    return TestClient(app, base_url="http://127.0.0.1:8081", client=("127.0.0.1", 50000))


@pytest.fixture
def client(hub):
    return desk_client(create_desk_app(hub, his_token=HIS_TOKEN))


def auth():
    return {"Authorization": f"Bearer {HIS_TOKEN}"}


def test_his_gets_the_current_patient_in_xml130_field_names(hub, client):
    hub.show(view_from_qr(parse_qr(P2021, today=date(2026, 11, 23)), checkin_recorded=True))
    body = client.get("/his/v1/patient/current", headers=auth()).json()
    assert body["so_cccd"] == "089202012345"
    assert body["ho_ten"] == "Lê Văn A"
    assert body["ngay_sinh"] == "200205230000"
    assert body["gioi_tinh"] == 1
    assert body["dia_chi"] == "Tổ 1, Ấp B, Xã C, Huyện D, An Giang"
    assert body["ma_quoctich"] == "000"
    assert body["muc_tin_cay"] == "qr_only"


def test_his_api_needs_its_token_and_says_when_nobody_is_at_the_desk(client):
    assert client.get("/his/v1/patient/current").status_code == 401
    assert client.get("/his/v1/patient/current", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/his/v1/patient/current", headers=auth()).status_code == 404


def test_his_api_is_off_without_a_configured_token(hub):
    c = desk_client(create_desk_app(hub, his_token=None))
    assert c.get("/his/v1/patient/current", headers=auth()).status_code == 503


def test_female_is_code_2_and_ethnicity_names_map_to_codes():
    r = parse_qr("034303012345||Nguyễn Thị B|21032003|Nữ|Thôn E, Xã F, Huyện G, Thái Bình|14082021",
                 today=date(2026, 11, 23))
    view = view_from_qr(r, checkin_recorded=True).model_copy(update={"ethnicity": "Kinh"})
    assert his_fields(view)["gioi_tinh"] == 2
    assert his_fields(view)["ma_dantoc"] == "01"
    assert ethnicity_code("Khmer") == ethnicity_code("Khơ-me") == "05"
    assert ethnicity_code("Unknown people") is None


def test_screen_state_shows_an_error_with_the_next_step(hub, client):
    try:
        parse_qr("034303012345||Nguyn Th B|21032003|N|Thn E|14082021")
    except QrError as err:
        hub.show(view_from_error(err))
    state = client.get("/screen/api/state").json()["current"]
    assert state["outcome"] == "failure"
    assert state["badges"][0]["code"] == "qr.diacritics_lost"
    assert state["next_step"]["code"] == "next.switch_scanner_to_serial"


def test_the_last_patient_is_cleared_from_the_screen_after_the_timeout():
    now = [datetime(2026, 11, 23, 3, 0, tzinfo=UTC)]
    hub = DeskHub(clear_after_seconds=60, clock=lambda: now[0])
    view = view_from_qr(parse_qr(P2021, today=date(2026, 11, 23)), checkin_recorded=True)
    hub.show(view.model_copy(update={"scanned_at": now[0]}))
    assert hub.current() is not None
    now[0] += timedelta(seconds=61)
    assert hub.current() is None


def test_history_is_off_by_default_and_kept_only_until_midnight_when_on():
    assert desk_client(create_desk_app(DeskHub(), his_token=None)).get("/screen/api/history").status_code == 404
    now = [datetime(2026, 11, 23, 10, 0, tzinfo=UTC)]  # 17:00 in Vietnam
    hub = DeskHub(history_enabled=True, clock=lambda: now[0])
    view = view_from_qr(parse_qr(P2021, today=date(2026, 11, 23)), checkin_recorded=True)
    hub.show(view.model_copy(update={"scanned_at": now[0]}))
    assert len(hub.history()) == 1
    now[0] += timedelta(hours=8)  # 01:00 the next day in Vietnam
    assert hub.history() == []


def test_photo_is_served_only_for_the_current_visit(hub, client):
    view = view_from_qr(parse_qr(P2021, today=date(2026, 11, 23)), checkin_recorded=True)
    hub.show(view.model_copy(update={"has_photo": True}), photo=b"\xff\xd8fakejpeg")
    assert client.get(f"/screen/photo/{view.visit_id}").content == b"\xff\xd8fakejpeg"
    assert client.get("/screen/photo/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404


def test_look_alike_letters_in_the_name_are_flagged_to_the_his_and_on_the_screen(hub, client):
    record = parse_qr(P2021.replace("Lê Văn A", "Lê Văn \u0410"), today=date(2026, 11, 23))  # Cyrillic А
    hub.show(view_from_qr(record, checkin_recorded=True))
    body = client.get("/his/v1/patient/current", headers=auth()).json()
    assert "name.mixed_script" in body["canh_bao"]
    state = client.get("/screen/api/state").json()["current"]
    assert state["state"] == "recorded_caution" and state["reason"]["code"] == "name.mixed_script"
