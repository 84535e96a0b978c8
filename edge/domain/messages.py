"""Stable problem codes with their messages in Vietnamese and English.

Every problem the desk can report — a fatal error or a non-fatal finding — has a
code that never changes (logs, tests and the receptionist's screen key on it) and a
message in both languages, read from :mod:`contract.catalogue`. Messages never contain
personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from contract.catalogue import DOMAIN_MESSAGES, Text

#: A problem's text in both languages (the catalogue's one bilingual type).
Message = Text

#: Code -> message. Codes are dotted: "<area>.<problem>". The texts live in the one
#: catalogue (:mod:`contract.catalogue`), shared with the CLIs and the dashboard.
MESSAGES: Mapping[str, Message] = DOMAIN_MESSAGES


class Finding(BaseModel):
    """A coded, bilingual statement about a payload: a warning or a fatal error."""

    model_config = ConfigDict(frozen=True)

    code: str
    message_vi: str
    message_en: str

    @classmethod
    def of(cls, code: str) -> Finding:
        msg = MESSAGES[code]
        return cls(code=code, message_vi=msg.vi, message_en=msg.en)


class DomainError(Exception):
    """A fatal problem with a stable code; carries no personal data."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        msg = MESSAGES[code]
        self.code = code
        self.message_vi = msg.vi
        self.message_en = msg.en
        self.detail = detail
        super().__init__(f"{code}: {msg.en}" + (f" ({detail})" if detail else ""))

    def to_dict(self, lang: str = "vi") -> dict[str, Any]:
        """The error object the CLI prints and the APIs return."""
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message_vi if lang == "vi" else self.message_en,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


class QrError(DomainError):
    """The QR payload cannot be used as a CCCD record."""
