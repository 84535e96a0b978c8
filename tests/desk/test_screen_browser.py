"""The receptionist's screen in a real Chromium: every state at the three sizes it must fit.

800x480 (the official Raspberry Pi touch display), 1280x800 (a desk monitor) and 390x844
(a phone held by a receptionist). For each state the page is loaded from a real uvicorn
server over the real hub, then checked: nothing wider than the viewport, no text spilling
out of its box, the banner and the trust level never covered. Screenshots go to pytest's
tmp dir, and to docs/screenshots only under ``scripts/refresh-screenshots.sh``. Without
Chromium the browser parts are reported as not run (a failure under CI), as everywhere in
the suite. The same server is then sent hostile raw requests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import uvicorn

from edge.desk.access import ScreenAccess
from edge.desk.app import DeskActions, create_desk_app
from edge.desk.hub import DeskHub
from edge.desk.view import view_from_chip, view_from_qr, waiting_view, with_write_failure
from edge.domain.qr import parse_qr
from edge.trust.crosscheck import IdentityFields
from edge.trust.levels import TrustLevel
from simulators.services import free_port
from simulators.vcard.face import face_jpeg
from tests.browser import chromium_page, have_chromium, publish_screenshot
from tests.desk.chips import chip_check

# The longest name and address a card is likely to print: the layouts must hold them.
NAME = "Công Tằng Tôn Nữ Thị Hoàng Phương Thảo Nguyên"
ADDRESS = "Số 123/45/6 Đường Nguyễn Thị Minh Khai, Khu phố 7, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"
PAYLOAD = f"079186001234|361234567|{NAME}|11011986|Nữ|{ADDRESS}|04102024"
RECORD = parse_qr(PAYLOAD, today=date(2026, 11, 23))
ME = IdentityFields(RECORD.id_number, RECORD.full_name, RECORD.date_of_birth, RECORD.sex)
OTHER = IdentityFields(RECORD.id_number, "Trần Thị Giả Mạo Người Khác", date(1990, 1, 1), "F")
VIEWPORTS = [(800, 480), (1280, 800), (390, 844)]



class Desk:
    """A real desk web server over a real hub, with the receptionist's actions recorded."""

    def __init__(self) -> None:
        self.hub = DeskHub(history_enabled=True, clear_after_seconds=0)
        self.actions: list[tuple[object, ...]] = []
        self.port = free_port()
        app = create_desk_app(self.hub, his_token="his-token-0123456789abcdef", access=ScreenAccess(),
                              actions=DeskActions(can=lambda can, replace: self.actions.append(("can", can, replace)),
                                                  next_patient=lambda: self.actions.append(("next",)),
                                                  rescan=lambda: self.actions.append(("rescan",))))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> Desk:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the desk web server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="module")
def desk() -> Iterator[Desk]:
    with Desk() as d:
        yield d


def _states() -> dict[str, tuple]:
    now = datetime.now(UTC)
    photo = face_jpeg(7)
    return {
        "idle": (None, None),
        "waiting_card_countdown": (view_from_qr(RECORD, checkin_recorded=False, chip_expected=True,
                                                fallback_at=now + timedelta(seconds=20)), None),
        "waiting_qr": (waiting_view("waiting_qr", "next.scan_qr_or_type_can"), None),
        "qr_only_recorded": (view_from_qr(RECORD, checkin_recorded=True), None),
        "chip_verified_photo": (view_from_chip(chip_check(TrustLevel.CHIP_VERIFIED_CLONE_CHECKED, ME, face=photo),
                                               RECORD, checkin_recorded=True), photo),
        "mismatch_side_by_side": (view_from_chip(chip_check(TrustLevel.INVALID, OTHER, face=photo,
                                                            mismatch=("name_mismatch", "date_of_birth_mismatch")),
                                                 RECORD, checkin_recorded=True), photo),
        "clone_rejected": (view_from_chip(chip_check(TrustLevel.INVALID, ME, face=photo), RECORD,
                                          checkin_recorded=True), photo),
        "disk_full": (with_write_failure(view_from_qr(RECORD, checkin_recorded=True), "outbox.disk_full"), None),
    }


# Every visible element inside the viewport's width, no text spilling out of its box, and
# the banner and the trust level not covered by anything (the old fixed footer covered it).
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth, bad = [];
  if (document.documentElement.scrollWidth > vw) bad.push(`page ${document.documentElement.scrollWidth}px > ${vw}px`);
  const name = el => el.id ? '#' + el.id : el.tagName.toLowerCase() + (el.className ? '.' + el.className : '');
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    if (r.right > vw + 0.5 || r.left < -0.5) bad.push(`${name(el)} spans ${r.left.toFixed(0)}..${r.right.toFixed(0)}`);
    const style = getComputedStyle(el);
    const spills = style.overflowX === 'visible' && el.scrollWidth > el.clientWidth + 1;
    if (el.tagName !== 'INPUT' && el.clientWidth > 0 && spills)
      bad.push(`${name(el)} content ${el.scrollWidth}px in ${el.clientWidth}px`);
  }
  for (const id of ['banner', 'trust', 'name']) {
    const el = document.getElementById(id);
    if (!el || el.getBoundingClientRect().width === 0) continue;
    el.scrollIntoView({block: 'center'});
    const r = el.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + Math.min(r.width / 2, 20), r.top + r.height / 2);
    if (top && top !== el && !el.contains(top)) bad.push(`#${id} covered by ${name(top)}`);
  }
  window.scrollTo(0, 0);
  return bad;
}"""


def _show(desk: Desk, view, photo) -> None:
    if view is None:
        desk.hub.clear()
    else:
        desk.hub.show(view, photo=photo)


def _shot(page, tmp_path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    publish_screenshot(tmp_path / name, name, palette_colors=64)


@pytest.mark.parametrize(("width", "height"), VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_every_state_fits_the_screen_without_overflow(desk, width, height, tmp_path):
    if not have_chromium():
        return
    failures: dict[str, list[str]] = {}
    with chromium_page(width, height) as page:
        for state, (view, photo) in _states().items():
            _show(desk, view, photo)
            page.goto(desk.url)
            expected = view.state if view is not None else "idle"
            page.wait_for_selector(f"#banner.state-{expected}")
            if photo:
                page.wait_for_function("document.getElementById('photo').naturalWidth > 0")
            bad = page.evaluate(OVERFLOW_JS)
            if bad:
                failures[state] = bad
            _shot(page, tmp_path, f"desk-{state}-{width}x{height}.png")
        # The CAN typed on the on-screen keypad.
        desk.hub.clear()
        page.goto(desk.url)
        page.wait_for_selector("#can-panel:not(.hidden)")
        for digit in "012345":
            page.click(f"#keypad button:text-is('{digit}')")
        assert page.input_value("#can-input") == "012345"
        bad = page.evaluate(OVERFLOW_JS)
        if bad:
            failures["can_keypad"] = bad
        _shot(page, tmp_path, f"desk-can_keypad-{width}x{height}.png")
    assert not failures, failures


def test_the_overflow_check_catches_an_element_wider_than_the_screen(desk):
    if not have_chromium():
        return
    desk.hub.show(view_from_qr(RECORD, checkin_recorded=True))
    with chromium_page(390, 844) as page:
        page.goto(desk.url)
        page.wait_for_selector("#banner.state-recorded")
        assert page.evaluate(OVERFLOW_JS) == []
        page.evaluate("document.getElementById('id').style.whiteSpace = 'nowrap';"
                      "document.getElementById('id').textContent = '0'.repeat(80)")
        assert any("#id" in b for b in page.evaluate(OVERFLOW_JS))


def test_the_screen_tells_each_state_in_words_and_colour(desk):
    if not have_chromium():
        return
    states = _states()
    with chromium_page(1280, 800) as page:
        _show(desk, *states["waiting_card_countdown"])
        page.goto(desk.url)
        page.wait_for_selector("#countdown:not(.hidden)")
        first = page.text_content("#countdown")
        assert "giây" in first and "Đặt thẻ lên đầu đọc" in page.text_content("#banner")
        page.wait_for_function(f"document.getElementById('countdown').textContent !== {first!r}", timeout=5000)
        colour = page.evaluate("getComputedStyle(document.getElementById('banner')).backgroundColor")
        assert colour == "rgb(61, 70, 84)"  # neutral, not green: nothing is recorded yet

        _show(desk, *states["disk_full"])
        page.goto(desk.url)
        page.wait_for_selector("#banner.state-not_recorded")
        assert "Chưa ghi nhận — ổ đĩa đầy, gọi kỹ thuật viên" in page.text_content("#banner")

        _show(desk, *states["mismatch_side_by_side"])
        page.goto(desk.url)
        page.wait_for_selector("#compare:not(.hidden)")
        differing = page.eval_on_selector_all("#compare tr.differs", "rows => rows.map(r => r.dataset.field)")
        assert differing == ["full_name", "date_of_birth"]

        _show(desk, *states["qr_only_recorded"])
        page.goto(desk.url)
        page.wait_for_selector("#banner.state-recorded")
        green = page.evaluate("getComputedStyle(document.getElementById('banner')).backgroundColor")
        assert green == "rgb(10, 125, 50)"
        assert page.eval_on_selector_all("#history-list li", "items => items.length") >= 1  # today's visits

        desk.actions.clear()
        page.click("#next-patient")
        page.click("#rescan")
        page.wait_for_function("true")
        deadline = time.monotonic() + 5
        while len(desk.actions) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert desk.actions == [("next",), ("rescan",)]


def _raw(port: int, request: bytes) -> int:
    """Send one raw HTTP request (bytes as a hostile client sends them); the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        answer = s.recv(4096)
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(("request_bytes", "expected"), [
    (b"GET /screen/api/history HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 400),
    (b"GET /screen/api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
     b"Connection: close\r\n\r\n", 403),
    (b"GET /his/v1/patient/current HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xc3\xa9\r\n"
     b"Connection: close\r\n\r\n", 401),
    (b"GET /his/v1/patient/current HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xff\xfe\r\n"
     b"Connection: close\r\n\r\n", 401),
    (b"GET /screen/api/state HTTP/1.1\r\nHost: \xc3\xa9vil\r\nConnection: close\r\n\r\n", 400),
    (b"GET /screen/api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: desk_screen=\xff; x\r\n"
     b"Connection: close\r\n\r\n", 200),  # the desk itself, a junk cookie ignored
])
def test_hostile_raw_requests_through_the_real_server_get_4xx_never_500(desk, request_bytes, expected):
    assert _raw(desk.port, request_bytes) == expected


def test_the_footer_says_when_the_disk_is_full_and_when_the_clock_is_not_synchronised(desk, tmp_path):
    if not have_chromium():
        return
    desk.hub.show(with_write_failure(view_from_qr(RECORD, checkin_recorded=True), "outbox.disk_full"))
    desk.hub.set_status(write_alarm={"code": "outbox.disk_full", "vi": "Chưa ghi nhận — ổ đĩa đầy, gọi kỹ thuật viên.",
                                     "en": "Not recorded — the disk is full, call the technician."},
                        clock={"synchronized": False, "source": "kernel", "max_error_ms": None})
    try:
        with chromium_page(800, 480) as page:
            page.goto(desk.url)
            page.wait_for_selector("#alarm:not(:empty)")
            alarm = page.text_content("#alarm")
            assert "ổ đĩa đầy" in alarm and "Đồng hồ máy đọc chưa đồng bộ" in alarm
            assert page.evaluate(OVERFLOW_JS) == []
            _shot(page, tmp_path, "desk-disk_full_clock-800x480.png")
    finally:
        desk.hub.set_status(write_alarm=None, clock=None)


@pytest.mark.parametrize(("width", "height"), VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_an_unsynchronised_clock_is_said_in_the_footer_and_a_card_issued_after_its_date_is_recorded(
        desk, width, height, tmp_path):
    """The "clock not synchronised" state alone (no disk alarm): a Pi that booted on an old date
    records a card issued after it, with the warning, and the footer says the clock is not
    synchronised."""
    if not have_chromium():
        return
    record = parse_qr(PAYLOAD, today=date(2023, 6, 1), clock_trusted=False)  # issued 04/10/2024
    assert "issue.future_unsynced" in record.warning_codes()
    desk.hub.show(view_from_qr(record, checkin_recorded=True))
    desk.hub.set_status(clock={"synchronized": False, "source": "kernel", "max_error_ms": 16000.0})
    try:
        with chromium_page(width, height) as page:
            page.goto(desk.url)
            page.wait_for_selector("#alarm:not(:empty)")
            alarm = page.text_content("#alarm")
            assert "Đồng hồ máy đọc chưa đồng bộ" in alarm and "ổ đĩa đầy" not in alarm
            assert "đồng hồ đầu đọc chưa đồng bộ" in page.inner_text("body")  # the card's warning
            assert page.evaluate(OVERFLOW_JS) == []
            _shot(page, tmp_path, f"desk-clock_unsynchronised-{width}x{height}.png")
    finally:
        desk.hub.set_status(clock=None)
