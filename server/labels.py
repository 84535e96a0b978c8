"""The server's own bilingual words and colours: facility types, reader states, trust and method colours.

Trust-level and method *labels* are the desk's (``contract.catalogue`` once merged); the
colours say what a level means: red for a rejected read, amber for a read that proves
nothing, greens for verified chips.
"""

from __future__ import annotations

from server.localformat import Lang

FACILITY_TYPES: dict[str, tuple[str, str]] = {
    "hospital": ("Bệnh viện", "Hospital"),
    "health_station": ("Trạm y tế", "Health station"),
    "private_clinic": ("Phòng khám tư nhân", "Private clinic"),
}
READER_STATES: dict[str, tuple[str, str]] = {
    "online": ("Đang hoạt động", "Online"),
    # a clean stop says "stopped" itself; the broker's will ("offline") means the link was lost
    "stopped": ("Đã tắt đúng cách", "Stopped cleanly"),
    "last_will": ("Mất kết nối đột ngột", "Lost connection"),
    "missed_heartbeats": ("Mất tín hiệu định kỳ", "Missed heartbeats"),
    "never_seen": ("Chưa từng kết nối", "Never connected"),
}
TRUST_COLOURS: dict[str, str] = {
    "invalid": "#b3261e",
    "qr_only": "#c27c00",
    "chip_data_unanchored": "#e3b23c",
    "chip_verified": "#2e9d55",
    "chip_verified_clone_checked": "#126b35",
}
METHOD_COLOURS: dict[str, str] = {"qr": "#6b7785", "chip": "#0b57d0", "qr+chip": "#5b3cc4"}


def pick(words: tuple[str, str], lang: Lang) -> str:
    return words[0] if lang == "vi" else words[1]


def facility_type(kind: str, lang: Lang) -> str:
    return pick(FACILITY_TYPES[kind], lang) if kind in FACILITY_TYPES else kind


def reader_state(state: str, lang: Lang) -> str:
    return pick(READER_STATES[state], lang) if state in READER_STATES else state
