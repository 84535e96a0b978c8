"""A desk's wrong clock, corrected by the server (docs/clock.md): the offset each publish shows
(receive time - what the broker held it - send time), the events of a desk off by more than the
bound dated and windowed by the corrected clock with the desk's own time kept, the reader's
latest offset on its row and a warning in the fleet view. Without a send time nothing changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from contract.events import CheckInEvent, Method, new_event_id
from contract.levels import TrustLevel
from contract.mqtt import SENT_EXPIRY_SECONDS
from server.db import init_db, make_engine
from server.fleet import FleetFilter, fleet_page
from server.store import EventStore
from server.store.base import EVENTS, as_utc
from server.store.writer import EventClock
from server.validation import CLOCK_OFFSET_BOUND, Bounds, Reason, check_checkin, clock_correction, clock_offset

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def event(at: datetime, facility: str = "F001") -> CheckInEvent:
    return CheckInEvent(event_id=new_event_id(at.timestamp()), facility_code=facility, reader_id="desk-1",
                        occurred_at=at, method=Method.QR, trust_level=TrustLevel.QR_ONLY, citizen_pseudonym="a" * 64)


def test_the_offset_is_receive_time_minus_what_the_broker_held_minus_send_time():
    sent = (NOW - timedelta(days=500)).isoformat()
    assert clock_offset(sent, SENT_EXPIRY_SECONDS, NOW.timestamp()) == 500 * 86400
    # held 3 hours by the broker while the server was away: that is no clock offset
    held = clock_offset(NOW.isoformat(), SENT_EXPIRY_SECONDS - 3 * 3600, (NOW + timedelta(hours=3)).timestamp())
    assert held == 0
    ahead = clock_offset((NOW + timedelta(days=1)).isoformat(), SENT_EXPIRY_SECONDS, NOW.timestamp())
    assert ahead == -86400


@pytest.mark.parametrize(("sent_at", "expiry"), [
    (None, SENT_EXPIRY_SECONDS),  # an older desk: no send time
    (NOW.isoformat(), None),  # no expiry: the broker's holding time is unknown
    ("yesterday", SENT_EXPIRY_SECONDS),
    ("2026-12-01T09:00:00", SENT_EXPIRY_SECONDS),  # no time zone
    (NOW.isoformat(), SENT_EXPIRY_SECONDS + 1),  # more left than was given
])
def test_an_offset_that_cannot_be_told_is_none(sent_at, expiry):
    assert clock_offset(sent_at, expiry, NOW.timestamp()) is None


def test_only_an_offset_beyond_the_bound_is_corrected():
    bound = CLOCK_OFFSET_BOUND.total_seconds()
    assert clock_correction(None) is None
    assert clock_correction(bound) is None
    assert clock_correction(-bound) is None
    assert clock_correction(bound + 1) == CLOCK_OFFSET_BOUND + timedelta(seconds=1)
    assert clock_correction(-500 * 86400.0) == -timedelta(days=500)


def test_the_time_window_applies_to_the_corrected_time():
    bounds = Bounds.of(date(2024, 1, 1), timedelta(hours=1))
    behind = event(NOW - timedelta(days=1200))  # before the epoch on the desk's own clock
    payload = behind.to_json_bytes()
    assert check_checkin(payload, "F001", "desk-1", retained=False, now=NOW, bounds=bounds) == Reason.out_of_window
    fixed = check_checkin(payload, "F001", "desk-1", retained=False, now=NOW, bounds=bounds,
                          shift=timedelta(days=1200))
    assert isinstance(fixed, CheckInEvent) and fixed.occurred_at == NOW and fixed.event_id == behind.event_id
    ahead = event(NOW + timedelta(days=1)).to_json_bytes()
    assert check_checkin(ahead, "F001", "desk-1", retained=False, now=NOW, bounds=bounds) == Reason.out_of_window
    assert isinstance(check_checkin(ahead, "F001", "desk-1", retained=False, now=NOW, bounds=bounds,
                                    shift=-timedelta(days=1)), CheckInEvent)


@pytest.fixture
def store(database_url):
    store = EventStore(make_engine(database_url))
    init_db(store.engine)
    store.import_facilities("code,name,type,province,district,commune\n"
                            "F001,Trạm 1,health_station,Tỉnh,Huyện,Xã\nF002,Trạm 2,health_station,Tỉnh,Huyện,Xã\n")
    store.add_reader("F001", "desk-1")
    store.add_reader("F002", "desk-1")
    yield store
    store.engine.dispose()


def test_a_corrected_event_counts_on_its_corrected_day_and_keeps_the_desks_own_time(store):
    desk_time = datetime(2025, 6, 1, 20, 0, tzinfo=UTC)  # 500 days behind
    offset = NOW - desk_time
    corrected = event(NOW)  # as the ingest hands it: occurred_at moved by the offset
    plain = event(NOW - timedelta(hours=1), "F002")
    result = store.store([corrected, plain], clocks={corrected.event_id: EventClock(offset.total_seconds(), desk_time)},
                         clock_offsets={("F001", "desk-1"): offset.total_seconds(), ("F002", "desk-1"): 0.4})
    assert result.stored == 2
    with store.engine.connect() as conn:
        rows = {r.event_id: r for r in conn.execute(select(EVENTS))}
    row = rows[corrected.event_id]
    assert row.local_day == date(2026, 12, 1) and as_utc(row.occurred_at) == NOW
    assert as_utc(row.desk_occurred_at) == desk_time and row.clock_offset_s == offset.total_seconds()
    assert rows[plain.event_id].desk_occurred_at is None and rows[plain.event_id].clock_offset_s is None
    usage = store.usage("F001", date(2025, 6, 1), date(2026, 12, 31))
    assert {p.period: p.checkins for p in usage.periods if p.checkins} == {"2026-12-01": 1}
    with store.engine.connect() as conn:
        page = fleet_page(conn, FleetFilter(), NOW - timedelta(minutes=5))
    by_facility = {r.facility_code: r for r in page.rows}
    assert by_facility["F001"].clock_offset_s == offset.total_seconds()
    assert by_facility["F001"].warnings == ["clock.offset"]
    assert by_facility["F002"].clock_offset_s == 0.4 and by_facility["F002"].warnings == []


def test_without_clocks_an_event_is_stored_as_before(store):
    ev = event(NOW)
    assert store.store([ev]).stored == 1
    with store.engine.connect() as conn:
        row = conn.execute(select(EVENTS)).one()
        page = fleet_page(conn, FleetFilter(), NOW - timedelta(minutes=5))
    assert row.clock_offset_s is None and row.desk_occurred_at is None
    assert all(r.clock_offset_s is None and r.warnings == [] for r in page.rows)


def test_through_the_broker_an_old_desks_event_from_before_the_epoch_is_quarantined_and_a_new_desks_is_corrected(
        broker, tmp_path):
    """The same event 1200 days behind: without a send time (an older desk) it is before the epoch
    and quarantined, as before; with the desk's send time and expiry (read by the lean decoder)
    it is stored on the server's day, the desk's time kept."""
    import paho.mqtt.client as mqtt
    from fastapi.testclient import TestClient
    from paho.mqtt.enums import CallbackAPIVersion
    from srvhelpers import make_settings, register_fleet, wait_until

    from contract.mqtt import send_time_properties
    from contract.topics import checkin_topic
    from server.app import create_app

    settings = make_settings(f"sqlite:///{tmp_path / 's.sqlite'}", broker.url)
    app = create_app(settings)
    register_fleet(app.state.store, 1)  # 34001/desk-1
    error = timedelta(days=1200)  # the desk's date is before the product's epoch
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="old-and-new-desk", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    with TestClient(app):
        ingestor = app.state.ingestor
        wait_until(lambda: ingestor.connected and ingestor.subscribed, 10, "the ingest to subscribe")
        old, new = (event(datetime.now(UTC) - error, "34001") for _ in range(2))
        topic = checkin_topic("34001", "desk-1")
        client.publish(topic, old.to_json_bytes(), qos=1).wait_for_publish(5)
        client.publish(topic, new.to_json_bytes(), qos=1,
                       properties=send_time_properties(datetime.now(UTC) - error)).wait_for_publish(5)
        wait_until(lambda: ingestor.counters["refused"] + ingestor.counters["stored"] >= 2, 20, "ingest")
        assert ingestor.counters["refused_out_of_window"] == 1 and ingestor.counters["stored"] == 1
    client.disconnect()
    client.loop_stop()
    with app.state.store.engine.connect() as conn:
        row = conn.execute(select(EVENTS)).one()
    assert row.event_id == new.event_id and as_utc(row.desk_occurred_at) == new.occurred_at
    assert abs(row.clock_offset_s - error.total_seconds()) < 30
    assert abs((as_utc(row.occurred_at) - (new.occurred_at + error)).total_seconds()) < 30
