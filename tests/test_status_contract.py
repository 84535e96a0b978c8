"""The retained status payloads (contract.status): old desks' plain words keep their meaning, a clean
stop is told from the will, and anything else is no status at all."""

from __future__ import annotations

import pytest

from contract.status import LOST_PAYLOAD, MAX_STATUS_BYTES, ONLINE_PAYLOAD, STOPPED_PAYLOAD, parse_status
from server.validation import Bounds, Reason, check_status


def test_the_desks_three_payloads_mean_online_lost_and_stopped():
    assert parse_status(ONLINE_PAYLOAD) == "online"
    assert parse_status(LOST_PAYLOAD) == "offline"
    assert parse_status(STOPPED_PAYLOAD) == "stopped"


@pytest.mark.parametrize("payload, status", [
    (b"online", "online"), (b"offline", "offline"), (b" offline\n", "offline"),  # desks before the stop reason
    (b'{"state": "offline", "reason": "stopped", "at": 1}', "stopped"), (b'{"state":"offline"}', "offline"),
    (b'{"state":"offline","reason":"lost"}', "offline"), (b'{"state":"online"}', "online"),
])
def test_plain_and_json_statuses_are_read(payload, status):
    assert parse_status(payload) == status


@pytest.mark.parametrize("payload", [
    b"", b"OFFLINE", b"stopped", b"on line", b'{"state":"stopped"}', b'{"state":"offline","reason":"nap"}',
    b'{"state":"online","reason":"stopped"}', b"[1]", b'{"state": ', b"\xff\xfe", b'"offline"',
    b'{"state":"offline","reason":"stopped"' + b" " * MAX_STATUS_BYTES + b"}",
])
def test_anything_else_is_not_a_status_and_the_server_quarantines_it(payload):
    assert parse_status(payload) is None
    assert check_status(payload, Bounds.default()) in (Reason.bad_status, Reason.oversize)


def test_the_server_records_what_the_contract_says():
    assert check_status(STOPPED_PAYLOAD, Bounds.default()) == "stopped"
    assert check_status(LOST_PAYLOAD, Bounds.default()) == "offline"
