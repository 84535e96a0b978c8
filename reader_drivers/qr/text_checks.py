"""Pure checks on scanned text (no device, no cv2): did a keyboard scanner drop letters?

A handheld scanner in keyboard (HID) mode types the payload as key presses on a US
layout, which has no key for "ữ" or "Đ": depending on the model the Vietnamese letters
vanish ("Nguyn Th B", sex "N") or are folded to ASCII ("Nguyen Thi B", sex "Nu"). Every
real CCCD payload has at least the sex field "Nữ" or Vietnamese letters somewhere in the
name and address (an address is "Xã ...", "Phường ...", "Thôn ...", "Tỉnh ..."), so a
CCCD-shaped payload with none of them came through a scanner that lost them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.domain.messages import MESSAGES

_CCCD_SHAPE = re.compile(r"^\ufeff?[0-9]{12}\|[0-9]{0,9}\|")


@dataclass(frozen=True)
class DiacriticsLost:
    """The finding, with the fix, in both languages (no personal data)."""

    code: str = "qr.diacritics_lost"

    @property
    def message_vi(self) -> str:
        return MESSAGES[self.code].vi

    @property
    def message_en(self) -> str:
        return MESSAGES[self.code].en


def looks_like_cccd(text: str) -> bool:
    """12-digit ID, optional 9-digit old ID, at least 6 fields: the card's QR shape."""
    return bool(_CCCD_SHAPE.match(text)) and text.count("|") >= 5


def diacritics_lost(text: str) -> DiacriticsLost | None:
    """A finding when a CCCD-shaped payload has lost its Vietnamese letters, else None."""
    text = text.strip("\r\n")
    if not looks_like_cccd(text):
        return None
    fields = text.lstrip("\ufeff").split("|")
    sex = fields[4].strip() if len(fields) > 4 else ""
    name_and_address = (fields[2] if len(fields) > 2 else "") + (fields[5] if len(fields) > 5 else "")
    if sex.casefold() in ("n", "nu", "") or name_and_address.isascii():
        return DiacriticsLost()
    return None
