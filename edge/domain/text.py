"""Text from the outside world, checked before anyone shows it or hands it on.

A QR code is printed by anyone (it has no signature) and a chip's text is only as honest
as its issuer: either may carry characters no card prints. The rules, each with a stable
code of :mod:`contract.catalogue`:

* ``text.nul`` — a NUL inside the data (C strings in the HIS stop there);
* ``text.bidi_controls`` — Unicode bidi embeddings, overrides and isolates (and the
  implicit marks), which make a screen show text in an order other than stored;
* ``text.control_chars`` — any other control or invisible format character (ESC, CR/LF
  inside a field, zero-width spaces, line separators);
* ``text.markup`` — ``<`` or ``>``, which no card prints and an HIS page might render;
* ``text.too_long`` — more characters than any card's field holds (checked by the caller,
  who knows the field).

Look-alike letters are not refused but flagged: :func:`foreign_letters` finds letters of a
script other than Latin (Cyrillic "а", Greek "ο") in text that should be Vietnamese.
Pure functions, no I/O.
"""

from __future__ import annotations

import unicodedata

# Bidi embeddings/overrides (U+202A-E), isolates (U+2066-9), and the implicit marks.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
MARKUP = frozenset("<>")


def text_problem(text: str) -> str | None:
    """The code of the first rule ``text`` breaks (see the module docstring), else None."""
    if "\x00" in text:
        return "text.nul"
    if any(ch in BIDI_CONTROLS for ch in text):
        return "text.bidi_controls"
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return "text.control_chars"
    if any(ch in MARKUP for ch in text):
        return "text.markup"
    return None


def foreign_letters(text: str) -> bool:
    """True when ``text`` has a letter outside the Latin script (Vietnamese is written in Latin)."""
    for ch in text:
        if ch.isascii() or not unicodedata.category(ch).startswith("L"):
            continue
        if not unicodedata.name(ch, "").startswith("LATIN"):
            return True
    return False
