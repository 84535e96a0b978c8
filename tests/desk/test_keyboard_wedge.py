"""The keyboard wedge types the ID number, and nothing but digits, into the focused field."""

from __future__ import annotations

import os

import pytest

from app.agent import DeskAgent
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from reader_drivers.keyboard_wedge import KEY_ENTER, KEY_TAB, KeyboardWedge, WedgeError, key_sequence
from simulators.population import Population


class RecordingKeyboard:
    """Stands in for /dev/uinput (absent on CI machines): records what would be typed."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, int]] = []

    def write(self, etype: int, code: int, value: int) -> None:
        self.events.append((etype, code, value))

    def syn(self) -> None:
        pass

    def pressed(self) -> list[int]:
        return [code for _t, code, value in self.events if value == 1]


def test_key_sequence_types_digits_then_the_suffix():
    assert key_sequence("0123456789", "enter") == [11, 2, 3, 4, 5, 6, 7, 8, 9, 10, KEY_ENTER]
    assert key_sequence("12", "tab")[-1] == KEY_TAB
    assert key_sequence("12", "none") == [2, 3]


@pytest.mark.parametrize("text", ["", "12a", "Lê", "12 34"])
def test_anything_but_digits_is_refused(text):
    with pytest.raises(WedgeError):
        key_sequence(text)


def test_each_key_is_pressed_and_released():
    kb = RecordingKeyboard()
    KeyboardWedge(kb, sleep=lambda _s: None).type_text("42")
    assert kb.events == [(1, 5, 1), (1, 5, 0), (1, 3, 1), (1, 3, 0), (1, KEY_ENTER, 1), (1, KEY_ENTER, 0)]


def test_the_agent_types_the_patients_id_number_after_each_checkin(tmp_path):
    key = tmp_path / "k"
    write_secret_file(key, os.urandom(32))
    settings = EdgeSettings.load(
        None, facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=tmp_path / "s",
        mqtt={"url": "mqtt://127.0.0.1:1"}, chip={"enabled": False}, screen={"enabled": False},
        his={"keyboard_wedge": True, "wedge_suffix": "tab"},
    )
    agent = DeskAgent(settings)
    kb = RecordingKeyboard()
    agent.wedge = KeyboardWedge(kb, sleep=lambda _s: None)
    citizen = Population(5).citizen(2)
    try:
        agent.flow.on_qr(citizen.qr_payload().encode())
    finally:
        agent.outbox.close()
    digits = {2: "1", 3: "2", 4: "3", 5: "4", 6: "5", 7: "6", 8: "7", 9: "8", 10: "9", 11: "0"}
    pressed = kb.pressed()
    assert "".join(digits[c] for c in pressed[:-1]) == citizen.id_number
    assert pressed[-1] == KEY_TAB
