"""A desk only the desk can read: the hostile-request table, each refused with nothing changed.

Every request is made against the real app (in process) with the patient on the screen and
a QR visit waiting for its card; after each refusal the test checks that the patient and
the visit are exactly as before and that no action ran.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from edge.desk.access import RateLimiter, ScreenAccess, host_name, listen_refusal, token_matches
from edge.desk.app import DeskActions, create_desk_app
from edge.desk.hub import DeskHub
from edge.desk.view import view_from_chip, view_from_qr
from edge.domain.qr import parse_qr
from edge.trust.crosscheck import IdentityFields
from edge.trust.levels import TrustLevel
from tests.desk.chips import chip_check

P2021 = "089202012345|351234567|Lê Văn A|23052002|Nam|Tổ 1, Ấp B, Xã C, Huyện D, An Giang|31122021"
HIS_TOKEN = "his-token-0123456789abcdef"
SCREEN_TOKEN = "screen-token-9876543210fedcba"
DESK = ("127.0.0.1", 50000)
LAN = ("192.168.1.50", 50000)
BASE = "http://127.0.0.1:8081"


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    def actions(self) -> DeskActions:
        return DeskActions(can=lambda can, replace: self.log.append(("can", can, replace)),
                           next_patient=lambda: self.log.append(("next",)),
                           rescan=lambda: self.log.append(("rescan",)))


@pytest.fixture
def desk():
    hub = DeskHub()
    record = parse_qr(P2021, today=date(2026, 11, 23))
    hub.show(view_from_qr(record, checkin_recorded=False, chip_expected=True))  # a visit waiting for its card
    calls = Calls()
    clock = [0.0]
    app = create_desk_app(hub, his_token=HIS_TOKEN, actions=calls.actions(),
                          access=ScreenAccess.for_names(["desk-pc.clinic.lan"], token=SCREEN_TOKEN),
                          action_limiter=RateLimiter(burst=5, per_second=0.5, clock=lambda: clock[0]))
    return hub, calls, app, clock


def client(app, who=DESK, base=BASE) -> TestClient:
    return TestClient(app, base_url=base, client=who)


def unchanged(hub: DeskHub, calls: Calls, before_id: str) -> None:
    current = hub.current()
    assert current is not None and current.visit_id == before_id and current.state == "waiting_card"
    assert calls.log == []


HOSTILE = [
    # (case, client, method, path, headers, body, expected status)
    ("foreign Host (DNS rebinding)", DESK, "GET", "/screen/api/state", {"Host": "evil.example"}, None, 400),
    ("foreign Host on the history", DESK, "GET", "/screen/api/history", {"Host": "evil.example:8081"}, None, 400),
    ("foreign Host on the stream", DESK, "GET", "/screen/api/stream", {"Host": "evil.example"}, None, 400),
    ("foreign Host on the page", DESK, "GET", "/", {"Host": "evil.example"}, None, 400),
    ("malformed Host", DESK, "GET", "/screen/api/state", {"Host": "127.0.0.1:80:80"}, None, 400),
    ("Host with userinfo", DESK, "GET", "/screen/api/state", {"Host": "evil@127.0.0.1"}, None, 400),
    ("foreign Origin", DESK, "GET", "/screen/api/state", {"Origin": "http://evil.example"}, None, 403),
    ("Origin on another port", DESK, "GET", "/screen/api/state", {"Origin": "http://127.0.0.1:9999"}, None, 403),
    ("null Origin (sandboxed frame)", DESK, "GET", "/screen/api/state", {"Origin": "null"}, None, 403),
    ("cross-site fetch", DESK, "GET", "/screen/api/state", {"Sec-Fetch-Site": "cross-site"}, None, 403),
    ("foreign Origin posting a CAN", DESK, "POST", "/screen/api/can", {"Origin": "http://evil.example"},
     {"can": "012345", "replace": True}, 403),
    ("no token from the LAN", LAN, "GET", "/screen/api/state", {}, None, 401),
    ("no token from the LAN, history", LAN, "GET", "/screen/api/history", {}, None, 401),
    ("no token from the LAN, photo", LAN, "GET", "/screen/photo/01ARZ3NDEKTSV4RRFFQ69G5FAV", {}, None, 401),
    ("wrong token from the LAN", LAN, "GET", "/screen/api/state", {"Authorization": "Bearer nope"}, None, 401),
    ("non-ASCII token from the LAN", LAN, "GET", "/screen/api/state", {"Authorization": "Bearer é".encode()},
     None, 401),
    ("wrong cookie from the LAN", LAN, "GET", "/screen/api/state", {"Cookie": "desk_screen=nope"}, None, 401),
    ("no token from the LAN, CAN", LAN, "POST", "/screen/api/can", {}, {"can": "012345"}, 401),
    ("CAN during a visit", DESK, "POST", "/screen/api/can", {}, {"can": "012345"}, 409),
    ("malformed CAN", DESK, "POST", "/screen/api/can", {}, {"can": "12ab56"}, 422),
    ("CAN that is not JSON", DESK, "POST", "/screen/api/can", {"Content-Type": "application/json"}, b"\xff{", 400),
    ("HIS: Bearer é", DESK, "GET", "/his/v1/patient/current", {"Authorization": "Bearer é".encode()}, None, 401),
    ("HIS: Bearer with nothing", DESK, "GET", "/his/v1/patient/current", {"Authorization": "Bearer"}, None, 401),
    ("HIS: Basic scheme", DESK, "GET", "/his/v1/patient/current", {"Authorization": "Basic Zm9vOmJhcg=="}, None, 401),
    ("HIS: Latin-1 bytes", DESK, "GET", "/his/v1/stream", {"Authorization": b"Bearer \xe9\xff"},
     None, 401),
    ("login with a wrong token", LAN, "POST", "/screen/api/login", {}, {"token": "nope"}, 401),
    ("login with a non-ASCII token", LAN, "POST", "/screen/api/login", {}, {"token": "é" * 40}, 401),
]


@pytest.mark.parametrize(("who", "method", "path", "headers", "body", "expected"),
                         [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_request_is_refused_and_changes_nothing(desk, who, method, path, headers, body, expected):
    hub, calls, app, _ = desk
    before = hub.current().visit_id
    c = client(app, who)
    if isinstance(body, bytes):
        r = c.request(method, path, headers=headers, content=body)
    else:
        r = c.request(method, path, headers=headers, json=body)
    assert r.status_code == expected, r.text
    assert "Lê Văn A" not in r.text and "089202012345" not in r.text
    unchanged(hub, calls, before)


def test_a_can_flood_is_rate_limited_and_only_the_first_few_reach_the_desk(desk):
    hub, calls, app, clock = desk
    hub.clear()  # no visit waiting: every CAN would be read
    c = client(app)
    answers = [c.post("/screen/api/can", json={"can": "012345"}).status_code for _ in range(300)]
    assert answers[:5] == [202] * 5 and set(answers[5:]) == {429}
    assert len(calls.log) == 5
    r = c.post("/screen/api/can", json={"can": "012345"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["detail"]["code"] == "can.rate_limited"
    clock[0] += 2.0  # one more every two seconds
    assert c.post("/screen/api/can", json={"can": "012345"}).status_code == 202


def test_the_desk_itself_gets_in_and_the_lan_gets_in_with_the_token(desk):
    _hub, calls, app, _ = desk
    assert client(app).get("/screen/api/state").json()["current"]["full_name"] == "Lê Văn A"
    assert client(app, base="http://localhost:8081").get("/screen/api/state").status_code == 200
    lan = client(app, LAN, base="http://desk-pc.clinic.lan:8081")
    assert lan.get("/screen/api/state", headers={"Authorization": f"Bearer {SCREEN_TOKEN}"}).status_code == 200
    assert lan.get("/").status_code == 200  # the page has no personal data: it asks for the token
    assert lan.post("/screen/api/login", json={"token": SCREEN_TOKEN}).status_code == 204
    assert lan.get("/screen/api/state").status_code == 200  # the HttpOnly cookie
    same_origin = {"Origin": "http://desk-pc.clinic.lan:8081", "Sec-Fetch-Site": "same-origin"}
    assert lan.post("/screen/api/next", headers=same_origin).status_code == 202
    assert calls.log == [("next",)]


def test_a_can_during_a_visit_is_taken_only_with_the_explicit_replace(desk):
    _hub, calls, app, _ = desk
    c = client(app)
    r = c.post("/screen/api/can", json={"can": "012345"})
    assert r.status_code == 409 and r.json()["detail"]["code"] == "can.visit_in_progress"
    assert r.json()["detail"]["vi"] and r.json()["detail"]["en"]
    assert c.post("/screen/api/can", json={"can": "012345", "replace": True}).status_code == 202
    assert calls.log == [("can", "012345", True)]


def test_without_a_screen_token_the_lan_is_refused_outright():
    app = create_desk_app(DeskHub(), his_token=None)
    assert client(app, LAN).get("/screen/api/state").status_code == 403
    assert client(app, LAN).post("/screen/api/login", json={"token": "x"}).status_code == 401


def test_a_rejected_read_is_not_handed_to_the_his_which_is_told_it_was_rejected():
    hub = DeskHub()
    record = parse_qr(P2021, today=date(2026, 11, 23))
    clone = chip_check(TrustLevel.INVALID, IdentityFields(record.id_number, record.full_name,
                                                          record.date_of_birth, record.sex))
    hub.show(view_from_chip(clone, record, checkin_recorded=True))
    c = client(create_desk_app(hub, his_token=HIS_TOKEN))
    r = c.get("/his/v1/patient/current", headers={"Authorization": f"Bearer {HIS_TOKEN}"})
    assert r.status_code == 409
    body = r.json()["detail"]
    assert body["trang_thai"] == "tu_choi" and body["ly_do"] == "chip_authentication.ca_failed"
    assert "so_cccd" not in body and "ho_ten" not in body
    assert "Lê Văn A" not in r.text and "089202012345" not in r.text


def test_the_his_stream_says_rejected_without_fields_and_patient_for_an_accepted_read():
    from edge.desk.app import _his_event
    from edge.desk.hub import HubEvent

    record = parse_qr(P2021, today=date(2026, 11, 23))
    clone = view_from_chip(chip_check(TrustLevel.INVALID, None), record, checkin_recorded=True)
    kind, data = _his_event(HubEvent("visit", "{}", clone))
    assert kind == "rejected" and "089202012345" not in data and json.loads(data)["trang_thai"] == "tu_choi"
    waiting = view_from_qr(record, checkin_recorded=False, chip_expected=True)
    assert _his_event(HubEvent("visit", "{}", waiting)) is None  # not a patient yet
    done = view_from_qr(record, checkin_recorded=True)
    kind, data = _his_event(HubEvent("visit", "{}", done))
    assert kind == "patient" and json.loads(data)["so_cccd"] == "089202012345"


@pytest.mark.parametrize(("header", "name"), [
    ("127.0.0.1:8081", "127.0.0.1"), ("LOCALHOST", "localhost"), ("[::1]:8081", "::1"),
    ("evil.example", "evil.example"), ("", None), ("a b", None), ("x:y", None), ("u@h", None),
    ("h/path", None), ("é.example", None), ("h" * 300, None),
])
def test_host_headers_are_parsed_without_raising(header, name):
    assert host_name(header) == name


def test_tokens_compare_as_bytes_whatever_they_hold():
    assert token_matches("é", "é") and not token_matches("é", "e") and not token_matches(None, "x")
    assert not token_matches("\udcff", "x")  # a lone surrogate does not raise


@pytest.mark.parametrize(("host", "allow", "token", "tls", "refused"), [
    ("127.0.0.1", False, False, False, False), ("::1", False, False, False, False),
    ("localhost", False, False, False, False), ("0.0.0.0", False, False, False, True),
    ("0.0.0.0", True, False, True, True), ("0.0.0.0", True, True, False, True), ("0.0.0.0", True, True, True, False),
    ("192.168.1.10", False, True, True, True), ("::", True, True, True, False),
])
def test_a_listen_address_beyond_loopback_needs_an_explicit_allow_a_token_and_tls(host, allow, token, tls, refused):
    refusal = listen_refusal(host, allow_lan=allow, token_configured=token, tls_configured=tls)
    assert (refusal is not None) is refused


def test_the_settings_refuse_a_screen_on_every_interface_without_a_word():
    from pydantic import ValidationError

    from edge.config import ScreenSettings

    with pytest.raises(ValidationError, match="beyond loopback"):
        ScreenSettings(host="0.0.0.0")
    ScreenSettings(host="0.0.0.0", allow_lan=True, token_file="/etc/cccd-edge/screen.token",
                   tls_cert_file="/etc/cccd-edge/screen.crt", tls_key_file="/etc/cccd-edge/screen.key")
