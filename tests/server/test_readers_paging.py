"""The readers query filters and pages in the database: pages in (facility, reader) order
that add up to the whole list, the offline filter by the same rule as offline_reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from srvhelpers import register_fleet

from server.db import init_db, make_engine
from server.store import Activity, EventStore

OFFLINE_AFTER = timedelta(minutes=15)


@pytest.fixture
def store(database_url):
    store = EventStore(make_engine(database_url))
    init_db(store.engine)
    codes = register_fleet(store, 20, readers=3, provinces=("Tỉnh 0", "Tỉnh 1"))
    now = datetime.now(UTC)
    beats = [Activity(code, "desk-1", "heartbeat", now) for code in codes]  # desk-1: online
    wills = [Activity(codes[i], "desk-2", "status", now, "offline") for i in range(0, 20, 4)]  # last will
    stops = [Activity(codes[i], "desk-2", "status", now, "stopped") for i in range(2, 20, 4)]  # a clean stop
    store.store([], beats + wills + stops)  # desk-3 and the rest of desk-2: never seen
    yield store
    store.engine.dispose()


def test_pages_add_up_to_the_whole_list_in_order(store):
    everyone = store.readers(OFFLINE_AFTER)
    pages = [store.readers(OFFLINE_AFTER, limit=7, offset=n) for n in range(0, 70, 7)]
    assert [r.reader_id for page in pages for r in page] == [r.reader_id for r in everyone]
    assert [(r.facility_code, r.reader_id) for r in everyone] == sorted((r.facility_code, r.reader_id)
                                                                       for r in everyone)
    assert len(everyone) == 60 and all(len(p) <= 7 for p in pages)


def test_the_offline_filter_in_the_database_agrees_with_each_readers_reason(store):
    everyone = store.readers(OFFLINE_AFTER)
    offline = store.readers(OFFLINE_AFTER, offline=True)
    online = store.readers(OFFLINE_AFTER, offline=False)
    assert {r.reader_id for r in online} == {"desk-1"} and len(online) == 20
    assert [r.model_dump() for r in offline] == [r.model_dump() for r in everyone if not r.online]
    assert {r.offline_reason for r in offline} == {"stopped", "last_will", "never_seen"}
    assert [r.model_dump() for r in store.readers(OFFLINE_AFTER, offline=True, limit=5, offset=5)] == \
        [r.model_dump() for r in offline[5:10]]


def test_a_province_filter_keeps_only_its_facilities(store):
    rows = store.readers(OFFLINE_AFTER, province="Tỉnh 1")
    assert len(rows) == 30 and {r.province for r in rows} == {"Tỉnh 1"}
