"""A reader's retained status on ``cccd/v1/<facility>/<reader>/status``: the one definition of its
payloads, for the desk that publishes them and the server that records them.

Three payloads, so that the fleet view tells a clean stop from a lost connection:

- ``online`` (plain): the desk's birth message, published retained on every connection.
- ``offline`` (plain): the desk's MQTT last will, which the broker publishes (retained) only
  when the connection is lost: a power cut, a crash, a broken link past the keepalive.
  Desks before this contract also sent it on a clean stop, so a plain ``offline`` means
  "lost connection, or an older desk that stopped".
- ``{"state": "offline", "reason": "stopped"}`` (JSON): the desk's own last word on a clean
  stop (SIGTERM, ``systemctl stop``), published retained before it disconnects, so that
  the broker never sends the will.

Plain payloads stay plain so that every server that knew ``online``/``offline`` still reads
the birth and the will; a server must know this module before desks send the JSON stop
(upgrade the server first: an older one refuses it as ``bad_status`` and waits for
heartbeats to go missing instead).
"""

from __future__ import annotations

import json
from typing import Literal

#: What the server records of a status: ``offline`` is the will (a lost connection), ``stopped`` a clean stop.
ReaderStatus = Literal["online", "offline", "stopped"]
#: The statuses that say the reader is not running.
OFFLINE_STATUSES: tuple[ReaderStatus, ...] = ("offline", "stopped")

ONLINE_PAYLOAD = b"online"
LOST_PAYLOAD = b"offline"
STOPPED_PAYLOAD = b'{"state":"offline","reason":"stopped"}'
#: A status is a word or a small JSON object: anything longer is not one.
MAX_STATUS_BYTES = 256


def parse_status(payload: bytes) -> ReaderStatus | None:
    """The status a payload says, or None for anything that is not one of the contract's."""
    if len(payload) > MAX_STATUS_BYTES:
        return None
    text = payload.strip()
    if text == ONLINE_PAYLOAD:
        return "online"
    if text == LOST_PAYLOAD:
        return "offline"
    if not text.startswith(b"{"):
        return None
    try:
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    state, reason = body.get("state"), body.get("reason")
    if state == "online" and reason is None:
        return "online"
    if state == "offline":
        if reason == "stopped":
            return "stopped"
        if reason in (None, "lost"):
            return "offline"
    return None
