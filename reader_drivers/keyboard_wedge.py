"""Keyboard-wedge output for HIS software that cannot call an API: the agent types the ID
number into whatever field has the focus, through a virtual keyboard (Linux uinput).

Only digits and a final Enter or Tab are ever typed — the ID number needs nothing else,
and no keymap can then garble it. The key sequence is built by a pure function; the
device is a thin evdev adapter (it needs write access to /dev/uinput).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Suffix = Literal["enter", "tab", "none"]

# Linux input key codes (linux/input-event-codes.h): KEY_1..KEY_9 are 2..10, KEY_0 is 11.
_DIGIT_KEYS = {str(d): 1 + d for d in range(1, 10)} | {"0": 11}
KEY_ENTER, KEY_TAB = 28, 15
_SUFFIX_KEYS = {"enter": [KEY_ENTER], "tab": [KEY_TAB], "none": []}


class WedgeError(ValueError):
    """The text cannot be typed by the wedge (only digits are)."""


def key_sequence(text: str, suffix: Suffix = "enter") -> list[int]:
    """The key codes to press, in order, for ``text`` and the suffix."""
    if not text or not all(c in _DIGIT_KEYS for c in text):
        raise WedgeError("the keyboard wedge types digits only")
    return [_DIGIT_KEYS[c] for c in text] + _SUFFIX_KEYS[suffix]


class KeyWriter(Protocol):
    def write(self, etype: int, code: int, value: int) -> object: ...
    def syn(self) -> object: ...


class KeyboardWedge:
    """Types digits through a virtual keyboard device."""

    def __init__(self, device: KeyWriter | None = None, *, key_delay: float = 0.005,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._device = device
        self.key_delay = key_delay
        self._sleep = sleep

    def _open(self) -> KeyWriter:
        if self._device is None:
            from evdev import UInput, ecodes

            keys = sorted(set(_DIGIT_KEYS.values()) | {KEY_ENTER, KEY_TAB})
            self._device = UInput({ecodes.EV_KEY: keys}, name="cccd-reader keyboard wedge")
        return self._device

    def type_text(self, text: str, suffix: Suffix = "enter") -> None:
        sequence = key_sequence(text, suffix)
        device = self._open()
        ev_key = 1  # EV_KEY
        for code in sequence:
            device.write(ev_key, code, 1)
            device.syn()
            device.write(ev_key, code, 0)
            device.syn()
            self._sleep(self.key_delay)  # some HIS fields drop keys typed too fast
        log.info("keyboard wedge typed %d digits", len(text))

    def close(self) -> None:
        device, self._device = self._device, None
        if device is not None and hasattr(device, "close"):
            device.close()
