"""The heartbeat has one definition (contract.heartbeat): what the desk and the fleet simulator
send is what the server reads, field for field; a payload that is not one is refused by the
model, not by a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contract.heartbeat import MAX_ERRORS, MAX_READERS, Heartbeat, HeartbeatFigures
from edge.heartbeat import HealthSnapshot


def _busy_desk() -> HealthSnapshot:
    health = HealthSnapshot("34001", "desk-1", readers=["qr", "chip"], outbox_depth=12, outbox_oldest_age_s=93.456,
                            outbox_alarm=True, outbox_alarms=["outbox.disk_full"], outbox_free_bytes=10_000,
                            outbox_write_failures=2, clock={"synced": False, "offset_s": 3.5},
                            link={"connected": True, "published": 40}, last_scan_at=datetime.now(UTC),
                            components={"qr": "running", "chip": "restarting"}, restarts={"chip": 3})
    for i in range(25):  # more than a heartbeat carries
        health.note_error(f"chip reader lost #{i}\x07")
    return health


def test_the_desks_heartbeat_parses_with_the_contract_model_with_every_figure_it_sent():
    health = _busy_desk()
    payload = health.to_json_bytes()
    beat = Heartbeat.parse(payload)
    assert beat is not None
    sent = json.loads(payload)
    assert beat.model_dump(mode="json") == sent  # nothing the desk sends is lost or renamed on the way
    assert (beat.facility_code, beat.reader_id, beat.outbox_depth, beat.readers) == ("34001", "desk-1", 12,
                                                                                    ["qr", "chip"])
    assert beat.outbox_oldest_age_s == 93.5 and beat.restarts == {"chip": 3}
    assert len(beat.errors) == MAX_ERRORS and beat.errors[-1].endswith("#24\x07")
    assert beat.last_error is not None and beat.last_error.endswith("#24")  # control characters removed
    figures = HeartbeatFigures.parse(payload)  # what the server parses: the same fields of the same model
    assert figures is not None
    assert figures.model_dump() == {k: v for k, v in beat.model_dump().items() if k in HeartbeatFigures.model_fields}
    assert figures.last_error == beat.last_error


def test_a_desk_with_more_readers_than_the_contract_bounds_still_sends_a_heartbeat_the_server_reads():
    health = HealthSnapshot("34001", "desk-1", readers=[f"r{i}" for i in range(MAX_READERS + 4)])
    beat = Heartbeat.parse(health.to_json_bytes())
    assert beat is not None and len(beat.readers) == MAX_READERS


def test_a_newer_desks_extra_fields_are_ignored_and_its_known_figures_kept():
    beat = Heartbeat.parse(json.dumps({"outbox_depth": 3, "battery": {"percent": 40}}).encode())
    assert beat is not None and beat.outbox_depth == 3


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1, 2]", b'"x"', b'{"outbox_depth": -1}',
                                     b'{"readers": ' + json.dumps(["r"] * 17).encode() + b"}",
                                     b'{"software_version": "' + b"v" * 65 + b'"}', b"\xff\xfe"])
def test_a_payload_that_is_not_a_heartbeat_parses_to_none(payload):
    assert Heartbeat.parse(payload) is None
    assert HeartbeatFigures.parse(payload) is None
