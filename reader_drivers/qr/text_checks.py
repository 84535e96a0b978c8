"""Pure checks on scanned text (no device, no cv2): did a keyboard scanner drop letters?

A handheld scanner in keyboard (HID) mode types the payload as key presses on a US
layout, which has no key for "ữ" or "Đ": depending on the model the Vietnamese letters
vanish ("Nguyn Th B", sex "N") or are folded to ASCII ("Nguyen Thi B", sex "Nu"). Every
real CCCD payload has at least the sex field "Nữ" or Vietnamese letters somewhere in the
name and address (an address is "Xã ...", "Phường ...", "Thôn ...", "Tỉnh ..."), so a
CCCD-shaped payload with none of them came through a scanner that lost them. Where each
field sits is the QR layout table's business (:data:`edge.domain.qr.LAYOUTS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.domain.messages import MESSAGES
from edge.domain.qr import QrLayout, layout_for, peek_id_number, split_fields


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


def _cccd_layout(text: str) -> tuple[QrLayout, list[str]] | None:
    if peek_id_number(text) is None:
        return None
    fields = split_fields(text.lstrip("\ufeff"))
    layout = layout_for(len(fields))
    return None if layout is None else (layout, fields)


def looks_like_cccd(text: str) -> bool:
    """A 12-digit ID first and a field count some QR layout has: the card's QR shape."""
    return _cccd_layout(text) is not None


def diacritics_lost(text: str) -> DiacriticsLost | None:
    """A finding when a CCCD-shaped payload has lost its Vietnamese letters, else None."""
    found = _cccd_layout(text.strip("\r\n"))
    if found is None:
        return None
    layout, fields = found
    sex = layout.value(fields, "sex")
    name_and_address = layout.value(fields, "full_name") + layout.value(fields, "address")
    if sex.casefold() in ("n", "nu", "") or name_and_address.isascii():
        return DiacriticsLost()
    return None
