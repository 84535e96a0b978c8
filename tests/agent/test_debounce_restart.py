"""The debounce survives a restart: the same card scanned right after the agent came back is
the same visit, not a second check-in; what is kept on disk holds no ID number."""

from __future__ import annotations

import os
import sqlite3

import pytest

from app.agent import DeskAgent
from app.debounce import persistent_debouncer_supported
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from simulators.population import Population

pytestmark = pytest.mark.skipif(not persistent_debouncer_supported(),
                                reason="the flow's Debouncer has no memory hook in this tree yet")


def agent_on(tmp_path) -> DeskAgent:
    key = tmp_path / "k"
    if not key.exists():
        write_secret_file(key, os.urandom(32))
    settings = EdgeSettings.load(
        None, facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=tmp_path / "s",
        mqtt={"url": "mqtt://127.0.0.1:1"}, chip={"enabled": False}, screen={"enabled": False},
        debounce_seconds=30,
    )
    return DeskAgent(settings)


def test_a_rescan_right_after_a_restart_is_the_same_visit_and_another_card_is_new(tmp_path):
    population = Population(9)
    card, other = population.citizen(0).qr_payload().encode(), population.citizen(1).qr_payload().encode()
    first = agent_on(tmp_path)
    first.flow.on_qr(card)
    assert first.outbox.depth() == 1
    first.outbox.close()  # the process is gone (a crash keeps only what is on disk)

    second = agent_on(tmp_path)
    try:
        second.flow.on_qr(card)
        assert second.outbox.depth() == 1  # no second check-in
        second.flow.on_qr(other)
        assert second.outbox.depth() == 2
    finally:
        second.outbox.close()


def test_the_debounce_memory_on_disk_holds_keyed_hashes_not_id_numbers(tmp_path):
    citizen = Population(9).citizen(2)
    agent = agent_on(tmp_path)
    try:
        agent.flow.on_qr(citizen.qr_payload().encode())
    finally:
        agent.outbox.close()
    with sqlite3.connect(tmp_path / "s" / "outbox.sqlite") as db:
        keys = [bytes(k) for (k,) in db.execute("SELECT key FROM debounce")]
    assert len(keys) == 1 and len(keys[0]) == 32
    assert citizen.id_number.encode() not in keys[0]
