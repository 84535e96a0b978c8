"""Handheld QR scanner in keyboard (HID) mode, read through evdev.

The device is *grabbed* (EVIOCGRAB) so the scan's keystrokes go only to this driver and
never leak into whatever window has focus. Key presses are turned into characters with
a US keymap; Enter ends a scan.

Keyboard mode cannot type Vietnamese letters, so every CCCD payload read this way has
lost them: each payload is checked (:func:`~reader_drivers.qr.text_checks.diacritics_lost`)
and flagged ``diacritics_lost`` with a bilingual message telling the fix (switch the
scanner to USB serial mode); the message is logged and shown on the desk's screen.

Opened by path, an unplugged scanner is reopened (and grabbed again) with backoff when
it comes back; handed a device object, the source closes when the device goes away.

The event loop is split so tests can drive it without ``/dev/uinput``: the reading thread
feeds each ``InputEvent`` of ``device.read_loop()`` to :meth:`HidScanner.handle_event`,
and a test passes a device object whose ``read_loop`` yields recorded events.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from evdev import InputDevice, ecodes

from reader_drivers.qr.source import ScannedPayload, SourceBase, SourceClosed, utc_now
from reader_drivers.qr.text_checks import DiacriticsLost, diacritics_lost

log = logging.getLogger(__name__)

# US layout: key code -> (unshifted, shifted)
US_KEYMAP: dict[int, tuple[str, str]] = {}
for _letter in "abcdefghijklmnopqrstuvwxyz":
    US_KEYMAP[getattr(ecodes, f"KEY_{_letter.upper()}")] = (_letter, _letter.upper())
for _digit, _shifted in zip("1234567890", "!@#$%^&*()", strict=True):
    US_KEYMAP[getattr(ecodes, f"KEY_{_digit}")] = (_digit, _shifted)
for _name, _pair in {
    "MINUS": ("-", "_"),
    "EQUAL": ("=", "+"),
    "LEFTBRACE": ("[", "{"),
    "RIGHTBRACE": ("]", "}"),
    "BACKSLASH": ("\\", "|"),
    "SEMICOLON": (";", ":"),
    "APOSTROPHE": ("'", '"'),
    "GRAVE": ("`", "~"),
    "COMMA": (",", "<"),
    "DOT": (".", ">"),
    "SLASH": ("/", "?"),
    "SPACE": (" ", " "),
    "TAB": ("\t", "\t"),
    "KPSLASH": ("/", "/"),
    "KPASTERISK": ("*", "*"),
    "KPMINUS": ("-", "-"),
    "KPPLUS": ("+", "+"),
    "KPDOT": (".", "."),
}.items():
    US_KEYMAP[getattr(ecodes, f"KEY_{_name}")] = _pair
for _digit in "0123456789":
    US_KEYMAP[getattr(ecodes, f"KEY_KP{_digit}")] = (_digit, _digit)

_SHIFT = {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}
_ALT = {ecodes.KEY_LEFTALT, ecodes.KEY_RIGHTALT}
_ENTER = {ecodes.KEY_ENTER, ecodes.KEY_KPENTER}
_KEY_DOWN, _KEY_REPEAT = 1, 2


class KeyAssembler:
    """Key events -> scanned lines (pure: no device). ``feed`` returns a line on Enter."""

    def __init__(self) -> None:
        self._chars: list[str] = []
        self._shift = False
        self._alt = False
        self.alt_sequences = 0  # Windows-style Alt+numpad codes: not typeable on Linux

    def feed(self, code: int, value: int) -> str | None:
        if code in _SHIFT:
            self._shift = value != 0
            return None
        if code in _ALT:
            if value == 0 and self._alt:
                self.alt_sequences += 1
            self._alt = value != 0
            return None
        if value not in (_KEY_DOWN, _KEY_REPEAT):
            return None
        if code in _ENTER:
            line, self._chars = "".join(self._chars), []
            return line
        if self._alt:  # Alt+numpad digits stand for a character we cannot map: drop them
            return None
        pair = US_KEYMAP.get(code)
        if pair is not None:
            self._chars.append(pair[1] if self._shift else pair[0])
        return None


class HidScanner(SourceBase):
    """A QrSource on an evdev keyboard device (path like /dev/input/by-id/...-event-kbd)."""

    def __init__(
        self,
        device: str | Any,
        *,
        grab: bool = True,
        source_id: str | None = None,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        device_factory: Callable[[str], Any] = InputDevice,
    ) -> None:
        # Opened by path: an unplugged scanner is reopened (with backoff) when it returns.
        self.path = device if isinstance(device, str) else None
        self._factory = device_factory
        self._grab = grab
        self.backoff, self.max_backoff = backoff, max_backoff
        self.device = device_factory(device) if isinstance(device, str) else device
        self.source_id = source_id or f"hid:{getattr(self.device, 'path', self.path or 'device')}"
        self._assembler = KeyAssembler()
        self._queue: queue.Queue[ScannedPayload | None] = queue.Queue()
        self._stop = threading.Event()
        self.grabbed = False
        self.stats: dict[str, int] = collections.Counter()
        self._grab_device()
        self._thread = threading.Thread(target=self._run, name=self.source_id, daemon=True)
        self._thread.start()

    def _grab_device(self) -> None:
        if self._grab:
            self.device.grab()  # keystrokes go to us only, never into another window
            self.grabbed = True

    def handle_event(self, event: Any) -> ScannedPayload | None:
        """One input event; returns (and queues) a payload when a scan completes."""
        if event.type != ecodes.EV_KEY:
            return None
        line = self._assembler.feed(event.code, event.value)
        if not line:
            return None
        data = line.encode("utf-8")
        flags: dict[str, object] = {}
        finding = diacritics_lost(line)
        if finding or self._assembler.alt_sequences:
            finding = finding or DiacriticsLost()
            flags.update(diacritics_lost=True, message_vi=finding.message_vi, message_en=finding.message_en)
            log.warning("scanner %s: %s / %s", self.source_id, finding.message_vi, finding.message_en)
            self._assembler.alt_sequences = 0
        payload = ScannedPayload(data, utc_now(), self.source_id, flags)
        log.info("qr read source=%s len=%d sha256=%s", self.source_id, len(data), payload.digest)
        self._queue.put(payload)
        return payload

    def _run(self) -> None:
        delay = self.backoff
        try:
            while not self._stop.is_set():
                try:
                    for event in self.device.read_loop():
                        if self._stop.is_set():
                            return
                        self.handle_event(event)
                    return  # the device's event stream ended (closed)
                except OSError:  # device unplugged or closed under us
                    if self._stop.is_set():
                        return
                    self.stats["disconnects"] += 1
                    log.warning("scanner %s disconnected", self.source_id)
                    self._assembler = KeyAssembler()  # a half-typed scan is lost
                if self.path is None:
                    return  # handed a device object: nothing to reopen
                while not self._stop.wait(delay):
                    try:
                        self.device = self._factory(self.path)
                        self._grab_device()
                    except OSError:
                        self.stats["open_failures"] += 1
                        delay = min(self.max_backoff, delay * 2)
                        continue
                    self.stats["reopens"] += 1
                    delay = self.backoff
                    break
        finally:
            self._queue.put(None)  # wake a reader: no more events

    def read(self, timeout: float | None = None) -> ScannedPayload | None:
        if self.closed and self._queue.empty():
            raise SourceClosed(self.source_id)
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            self.closed = True
            raise SourceClosed(self.source_id)
        return item

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        try:
            if self.grabbed:
                self.device.ungrab()
        except OSError:
            pass
        try:
            self.device.close()
        except OSError:
            pass

