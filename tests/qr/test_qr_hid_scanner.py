"""Keyboard-mode (HID) scanner.

/dev/uinput does not exist on the CI machine this was written on, so no virtual input
device can be created: the tests feed recorded ``evdev.InputEvent`` objects through the
driver's own reading thread (``device.read_loop()`` -> ``handle_event``), with a device
object standing in for ``evdev.InputDevice`` (grab/ungrab/close/read_loop). When
/dev/uinput exists and is writable, an extra test goes through a real evdev device.
"""

from __future__ import annotations

import os
import queue
import time

import pytest
from evdev import InputEvent, ecodes

from reader_drivers.qr.hid_scanner import US_KEYMAP, HidScanner, KeyAssembler
from reader_drivers.qr.source import SourceClosed

_CHAR_TO_KEY: dict[str, tuple[int, bool]] = {}
for _code, (_plain, _shifted) in US_KEYMAP.items():
    if not ecodes.KEY[_code].startswith("KEY_KP"):
        _CHAR_TO_KEY.setdefault(_plain, (_code, False))
        _CHAR_TO_KEY.setdefault(_shifted, (_code, True))


def type_line(text: str) -> list[InputEvent]:
    """The events a keyboard-wedge scanner emits for ``text`` (characters it cannot type vanish)."""
    t = time.time()
    sec, usec = int(t), int((t % 1) * 1e6)
    events = []

    def key(code: int, value: int) -> None:
        events.append(InputEvent(sec, usec, ecodes.EV_KEY, code, value))
        events.append(InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))

    for ch in text:
        if ch not in _CHAR_TO_KEY:
            continue  # a US keymap has no key for "ữ": the scanner drops it
        code, shift = _CHAR_TO_KEY[ch]
        if shift:
            key(ecodes.KEY_LEFTSHIFT, 1)
        key(code, 1)
        key(code, 0)
        if shift:
            key(ecodes.KEY_LEFTSHIFT, 0)
    key(ecodes.KEY_ENTER, 1)
    key(ecodes.KEY_ENTER, 0)
    return events


class RecordedDevice:
    """Stands in for evdev.InputDevice: replays events queued by the test."""

    path = "/dev/input/event-recorded"

    def __init__(self) -> None:
        self.events: queue.Queue[InputEvent | None] = queue.Queue()
        self.grabbed = False

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.events.put(None)

    def unplug(self) -> None:
        self.events.put(OSError(19, "No such device"))  # type: ignore[arg-type]

    def read_loop(self):
        while True:
            item = self.events.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def play(self, events: list[InputEvent]) -> None:
        for e in events:
            self.events.put(e)


ASCII_PAYLOAD = "001099012345|123456789|ABC|01011999|Nam|SO 1, PHUONG 2|01012022"
VIETNAMESE = "034303012345||Nguyễn Thị B|21032003|Nữ|Thôn E, Xã F, Huyện G, Thái Bình|14082021"


def test_keymap_typing_roundtrip_of_every_printable_ascii_character():
    assembler = KeyAssembler()
    text = "".join(chr(c) for c in range(32, 127))
    line = None
    for e in type_line(text):
        if e.type == ecodes.EV_KEY:
            line = assembler.feed(e.code, e.value) or line
    assert line == text


def test_device_is_grabbed_and_scans_are_read():
    device = RecordedDevice()
    scanner = HidScanner(device)
    assert device.grabbed  # keystrokes do not leak to other windows
    device.play(type_line("HELLO-123|abc"))
    payload = scanner.read(timeout=5)
    assert payload.data == b"HELLO-123|abc" and payload.text == "HELLO-123|abc"
    assert not payload.flags
    scanner.close()
    assert not device.grabbed


def test_dropped_vietnamese_letters_are_flagged_with_the_fix(caplog):
    device = RecordedDevice()
    scanner = HidScanner(device)
    device.play(type_line(VIETNAMESE))  # what a keyboard-mode scanner really types
    with caplog.at_level("WARNING"):
        payload = scanner.read(timeout=5)
    scanner.close()
    assert payload.text == "034303012345||Nguyn Th B|21032003|N|Thn E, X F, Huyn G, Thi Bnh|14082021"
    assert payload.flags["diacritics_lost"] is True
    assert "serial" in payload.flags["message_en"] and "serial" in payload.flags["message_vi"]
    assert "USB serial" in caplog.text  # the log says it too
    assert "Nguyn" not in caplog.text  # but never the payload


def test_ascii_cccd_payload_is_also_flagged():
    # a card's QR always has Vietnamese letters; all-ASCII name and address means they were lost
    device = RecordedDevice()
    scanner = HidScanner(device)
    device.play(type_line(ASCII_PAYLOAD))
    assert scanner.read(timeout=5).flags["diacritics_lost"] is True
    scanner.close()


def test_unplugged_device_closes_the_source():
    device = RecordedDevice()
    scanner = HidScanner(device)
    device.play(type_line("ONE"))
    device.unplug()
    assert scanner.read(timeout=5).data == b"ONE"
    with pytest.raises(SourceClosed):
        scanner.read(timeout=5)


@pytest.mark.skipif(not os.access("/dev/uinput", os.W_OK), reason="/dev/uinput not available here")
def test_through_a_real_uinput_device():  # pragma: no cover - depends on the machine
    from evdev import InputDevice, UInput

    ui = UInput({ecodes.EV_KEY: [*US_KEYMAP, ecodes.KEY_LEFTSHIFT, ecodes.KEY_ENTER]}, name="fake-scanner")
    try:
        time.sleep(0.3)
        scanner = HidScanner(InputDevice(ui.device.path))
        for e in type_line("UINPUT|OK"):
            ui.write_event(e)
        ui.syn()
        assert scanner.read(timeout=5).data == b"UINPUT|OK"
        scanner.close()
    finally:
        ui.close()


def test_scanner_opened_by_path_is_reopened_after_unplug():
    first, second = RecordedDevice(), RecordedDevice()
    devices: list = [first, OSError(2, "No such file or directory"), second]

    def factory(path):
        item = devices.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    scanner = HidScanner("/dev/input/by-id/usb-scanner-event-kbd", device_factory=factory, backoff=0.01)
    first.play(type_line("BEFORE"))
    first.unplug()
    assert scanner.read(timeout=5).data == b"BEFORE"
    second.play(type_line("AFTER"))
    assert scanner.read(timeout=5).data == b"AFTER"
    assert second.grabbed  # grabbed again after the reopen
    assert scanner.stats["disconnects"] == 1 and scanner.stats["open_failures"] == 1
    scanner.close()
