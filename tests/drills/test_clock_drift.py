"""Drill: desks with wrong clocks (one day ahead, 500 days behind, as a Pi without a real-time
clock that booted on an old time) beside a synchronised one, on the shipped broker
configuration with the real server; the server is away for a few seconds mid-traffic, so the
broker holds part of the events (its holding time is no clock offset).

The desks' clocks are injected (``DeskAgent(clock=DeskClock(...))``: the read time, the
publish's send time, the sync state), not the process's time. Ground truth: every event a desk
created, dated by the true clock; the result: the server's API per facility and day, and its
database (the desk's own time kept beside the corrected one). 0 lost, 0 counted twice, every
event on its true day, and no genuine card refused over the desk's wrong date.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from edge.clock import ClockState, DeskClock
from edge.domain.qr import VIETNAM_TZ
from edge.events import CheckInEvent
from simulators.population import Population
from tests.shipped_broker import ShippedBroker, drill_desk

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(importlib.util.find_spec("server.receipts") is None,
                       reason="the server's receipts are not in this tree yet"),
]
# (facility, reader, the desk clock's error, synchronised?)
DESKS = [("34001", "desk-1", timedelta(days=1), False),
         ("34002", "desk-1", -timedelta(days=500), False),
         ("34003", "desk-1", timedelta(0), True)]
PER_DESK = 400
BOUND_S = 120  # server.validation.CLOCK_OFFSET_BOUND


def _desk_clock(error: timedelta, synced: bool) -> DeskClock:
    state = ClockState(synced, "kernel", 12.0 if synced else 16_000.0)
    return DeskClock(now=lambda: datetime.now(UTC) + error, state=lambda: state)


def test_desks_a_day_ahead_and_500_days_behind_count_every_event_once_on_its_true_day(tmp_path):
    population = Population(71)
    readers = [(f, r) for f, r, _e, _s in DESKS]
    with ShippedBroker(readers) as broker:
        server = broker.drill_server(tmp_path / "server")
        server.start()
        agents = [drill_desk(tmp_path, broker, f, r, retry_after=3, clock=_desk_clock(e, s)) for f, r, e, s in DESKS]
        for agent in agents:
            agent.start()
        created: dict[str, list[CheckInEvent]] = {f: [] for f, *_ in DESKS}
        refused: Counter[str] = Counter()
        try:
            def scan(n: int, first: int, count: int) -> None:
                agent = agents[n]
                for i in range(first, first + count):
                    outcome = agent.submit_qr(population.citizen(n * PER_DESK + i).qr_payload())
                    if outcome.event is None:
                        refused[DESKS[n][0]] += 1
                    else:
                        created[DESKS[n][0]].append(outcome.event)
                    time.sleep(0.004)

            def phase(first: int, count: int) -> None:
                threads = [threading.Thread(target=scan, args=(n, first, count)) for n in range(len(DESKS))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(120)

            phase(0, PER_DESK // 2)
            server.stop()  # the broker holds what comes now (the server's persistent session)
            phase(PER_DESK // 2, PER_DESK // 4)
            time.sleep(3)
            server.start()
            phase(PER_DESK * 3 // 4, PER_DESK - PER_DESK * 3 // 4)
            last_scan = time.monotonic()
            for agent in agents:
                assert agent.publisher.wait_drained(240), "an outbox did not drain"
            recovery = time.monotonic() - last_scan
            expected: dict[str, Counter[str]] = {}
            for (facility, _r, error, _s) in DESKS:
                for ev in created[facility]:
                    expected.setdefault(facility, Counter())[(ev.occurred_at - error).astimezone(VIETNAM_TZ)
                                                             .date().isoformat()] += 1
            # the span asked covers the desks' wrong days too: nothing may count there
            first_day = min(ev.occurred_at.astimezone(VIETNAM_TZ).date() for evs in created.values() for ev in evs)
            last_day = max(ev.occurred_at.astimezone(VIETNAM_TZ).date() for evs in created.values() for ev in evs)
            counted = {}
            for facility, *_ in DESKS:
                body = server.get("/api/v1/usage", facility=facility,
                                  **{"from": first_day.isoformat(), "to": last_day.isoformat()})
                counted[facility] = {d["day"]: d["checkins"] for d in body["days"] if d["checkins"]}
            fleet = {r["facility_code"]: r for r in server.get("/api/v1/fleet")["readers"]}
            ingest = server.health()["ingest"]
        finally:
            for agent in agents:
                agent.stop()
            server.stop()
    with sqlite3.connect(server.db) as db:
        rows = {r[0]: r for r in db.execute(
            "SELECT event_id, facility_code, occurred_at, desk_occurred_at, clock_offset_s FROM checkin_event")}

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    print("\nclock drill (shipped broker config, real server away 3 s mid-traffic):")
    print(f"{'desk clock':<22}{'created':>8}{'stored':>8}{'lost':>6}{'doubled':>8}{'refused':>8}"
          f"{'days':>6}{'offset s':>12}{'kept desk time':>16}")
    for facility, _r, error, synced in DESKS:
        evs = created[facility]
        stored = sum(counted[facility].values())
        mine = [rows[ev.event_id] for ev in evs if ev.event_id in rows]
        doubled = stored - len(mine)  # counted by the API beyond the distinct events stored
        kept = sum(1 for ev, row in zip(evs, mine, strict=True)
                   if row[3] is not None and parse(row[3]) == ev.occurred_at.astimezone(UTC))
        label = "synchronised" if synced else f"{error.days:+d} days, unsynced"
        print(f"{label:<22}{len(evs):>8}{stored:>8}{len(evs) - stored:>6}{doubled:>8}"
              f"{refused[facility]:>8}{len(counted[facility]):>6}{fleet[facility]['clock_offset_s']:>12.1f}"
              f"{kept:>16}")
        # every event once, on its true day
        assert counted[facility] == dict(expected[facility]), facility
        assert stored == len(evs) == len(mine) == PER_DESK and doubled == 0 and refused[facility] == 0
        for ev, row in zip(evs, mine, strict=True):
            true_time = ev.occurred_at - error
            assert abs((parse(row[2]) - true_time).total_seconds()) < 10  # corrected to within transit
            if error:  # the offset kept beside a corrected event: server minus desk
                assert abs(row[4] + error.total_seconds()) < 10
        if error:
            assert abs(fleet[facility]["clock_offset_s"] + error.total_seconds()) < 10
            assert kept == PER_DESK  # the desk's own time, exactly, beside the corrected one
            assert fleet[facility]["warnings"] == ["clock.offset"]
        else:
            assert all(row[3] is None and row[4] is None for row in mine)  # not corrected
            assert abs(fleet[facility]["clock_offset_s"]) < BOUND_S
            assert fleet[facility]["warnings"] == []
    print(f"outboxes empty {recovery:.1f} s after the last scan; quarantined {ingest.get('quarantined', 0)}, "
          f"duplicates absorbed {ingest.get('duplicates', 0)}")
    assert ingest.get("quarantined", 0) == 0
    assert len(rows) == PER_DESK * len(DESKS)
    # cards a synchronised desk 500 days behind would have refused as issued "in the future"
    behind_today = (datetime.now(UTC) - timedelta(days=500)).astimezone(VIETNAM_TZ).date()
    newer = sum(1 for i in range(PER_DESK, 2 * PER_DESK) if population.citizen(i).issue_date > behind_today)
    print(f"cards issued after the 500-days-behind desk's date, accepted with a warning: {newer}")
    assert newer > 0  # the drill did meet such cards (all accepted: refused == 0 above)
