"""The event contract v1 between the desk and the server: one module used by both sides.

A check-in event says that a citizen checked in at a facility's reader, how (QR, chip or
both) and how far the card could be trusted — and nothing that identifies the citizen:
no name, no ID number, no date of birth, no address. Distinct citizens are counted by a
keyed pseudonym (HMAC-SHA256 under the deployment's key over the 12-digit ID): a bare
hash would be reversible by trying all 10^12 ID numbers.

The server answers a reader with a :class:`Receipt` on the reader's receipt topic
(:func:`contract.topics.receipt_topic`) once the events it names are stored (or were
already): until then the desk keeps them. Topics and identifier rules: :mod:`contract.topics`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from contract.levels import TrustLevel
from contract.topics import FACILITY_CODE_PATTERN, READER_ID_PATTERN

SCHEMA_VERSION: Literal[1] = 1
RECEIPT_SCHEMA_VERSION: Literal[1] = 1
#: The most event ids one receipt names (the server's batch may hold more: it sends several).
RECEIPT_MAX_IDS = 1000

FacilityCode = Annotated[str, StringConstraints(pattern=rf"^{FACILITY_CODE_PATTERN}$")]
ReaderId = Annotated[str, StringConstraints(pattern=rf"^{READER_ID_PATTERN}$")]
EventId = Annotated[str, StringConstraints(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]
Pseudonym = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def _strict_version(value: object) -> object:
    """A contract version is an integer: ``1.0``, ``true`` or ``"1"`` are not versions anyone wrote."""
    if type(value) is not int:
        raise ValueError("schema_version must be an integer")
    return value


class Method(str, Enum):
    """How the card was read."""

    QR = "qr"
    CHIP = "chip"
    QR_AND_CHIP = "qr+chip"


class CheckInEvent(BaseModel):
    """One citizen checking in with the chip ID card at one reader. Carries no personal data."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="CCCD check-in event v1")

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Contract version.")
    event_id: EventId = Field(description="ULID: unique, sorts by creation time.")
    facility_code: FacilityCode = Field(description="The health facility's code.")
    reader_id: ReaderId = Field(description="The reader (desk agent) that read the card.")
    occurred_at: AwareDatetime = Field(description="When the card was read, with time zone.")
    method: Method
    trust_level: TrustLevel
    citizen_pseudonym: Pseudonym = Field(
        description="HMAC-SHA256 of the 12-digit ID under the deployment key, hex."
    )

    _version_is_an_integer = field_validator("schema_version", mode="before")(_strict_version)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> CheckInEvent:
        return cls.model_validate_json(data)


class Receipt(BaseModel):
    """The server's word that it has stored these events (or already had them): the desk may forget them."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="CCCD receipt v1")

    schema_version: Literal[1] = Field(default=RECEIPT_SCHEMA_VERSION, description="Receipt contract version.")
    event_ids: list[EventId] = Field(min_length=1, max_length=RECEIPT_MAX_IDS)
    stored_at: AwareDatetime = Field(description="When the transaction holding them committed.")

    _version_is_an_integer = field_validator("schema_version", mode="before")(_strict_version)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Receipt:
        return cls.model_validate_json(data)


def pseudonymise(id_number: str, key: bytes) -> str:
    """The keyed pseudonym of a citizen: the same person gives the same value under one key."""
    if len(key) < 32:
        raise ValueError("the pseudonym key must be at least 32 bytes")
    return hmac.new(key, id_number.encode("ascii"), hashlib.sha256).hexdigest()


# --- ULID (https://github.com/ulid/spec): 48-bit ms time + 80 random bits, Crockford base32.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ulid_lock = threading.Lock()
_ulid_last: list[int] = [0, 0]  # the last (ms, random part) issued, under the lock


def new_event_id(now: float | None = None) -> str:
    """A new ULID for ``now`` (default: the clock); ids of the same millisecond still sort in creation order."""
    ms = int((time.time() if now is None else now) * 1000)
    with _ulid_lock:
        last_ms, last_rand = _ulid_last
        if ms == last_ms:
            rand = (last_rand + 1) & ((1 << 80) - 1)
            _ulid_last[:] = (ms, rand)
        else:
            # Also when ms < last_ms (an id for a later time came first: a desk clock that was ahead,
            # now set right): the same millisecond must still sort in creation order from here.
            rand = int.from_bytes(os.urandom(10), "big")
            _ulid_last[:] = (ms, rand)
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def event_id_time(event_id: str) -> datetime:
    """The creation time encoded in a ULID."""
    value = 0
    for ch in event_id:
        value = (value << 5) | _CROCKFORD.index(ch)
    return datetime.fromtimestamp((value >> 80) / 1000, tz=UTC)


def json_schema() -> dict[str, object]:
    """The published JSON Schema of the check-in event (docs/checkin-event-v1.schema.json)."""
    schema = CheckInEvent.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://cccd-reader.example/schemas/checkin-event-v1.json"
    return schema
