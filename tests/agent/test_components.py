"""The agent's parts in isolation: typed events dispatched by type, the QR source registry,
and the component states the watchdog and the heartbeat rely on."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest

from app.agent import DeskAgent
from app.components import ComponentState, Worker
from app.events import CanEntered, CardInserted, CardRemoved, QrScanned, Stop
from edge.config import EdgeSettings, SerialSource
from edge.settings_base import write_secret_file
from reader_drivers import registry
from reader_drivers.qr.source import ScannedPayload, SourceBase, SourceClosed
from simulators.population import Population
from tests.processes import wait_until


def quiet_agent(tmp_path, **chip) -> DeskAgent:
    key = tmp_path / "k"
    write_secret_file(key, os.urandom(32))
    settings = EdgeSettings.load(
        None, facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=tmp_path / "s",
        mqtt={"url": "mqtt://127.0.0.1:1"}, chip={"enabled": False, **chip}, screen={"enabled": False},
    )
    return DeskAgent(settings)


def test_events_are_frozen_and_their_reprs_hold_no_payload_or_can():
    payload = Population(3).citizen(0).qr_payload().encode()
    event = QrScanned(payload)
    with pytest.raises(AttributeError):
        event.data = b"x"  # type: ignore[misc]
    assert payload.split(b"|")[0].decode() not in repr(event)
    assert "123456" not in repr(CanEntered("123456"))


def test_a_qr_event_is_dispatched_to_the_visit_flow_and_becomes_a_checkin(tmp_path):
    agent = quiet_agent(tmp_path)
    citizen = Population(3).citizen(1)
    try:
        agent.handle(QrScanned(citizen.qr_payload().encode()))
        assert agent.outbox.depth() == 1
        assert agent.hub.current().id_number == citizen.id_number
        for event in (CardInserted("r"), CardRemoved("r"), Stop()):
            agent.handle(event)  # no chip on this desk: nothing happens, nothing fails
        assert agent.outbox.depth() == 1
    finally:
        agent.outbox.close()


def test_an_event_of_an_unknown_type_is_refused_not_ignored(tmp_path):
    agent = quiet_agent(tmp_path)
    try:
        with pytest.raises(AssertionError):
            agent.handle(("qr", b"123"))  # type: ignore[arg-type]  # the old tuple shape
    finally:
        agent.outbox.close()


def test_the_registry_knows_every_configured_kind_and_refuses_an_unknown_one():
    assert registry.kinds() == ["camera", "hid", "serial"]

    class Odd:
        kind = "carrier-pigeon"
        device = "/dev/null"

    with pytest.raises(registry.UnknownSourceKind, match="carrier-pigeon"):
        registry.open_source(Odd())


def test_a_registered_factory_gets_its_own_settings_type_and_only_that():
    opened = []

    class Fake(SourceBase):
        source_id = "fake"

    def factory(spec: SerialSource) -> Fake:
        opened.append(spec.baudrate)
        return Fake()

    registry.register("test-serial", SerialSource, factory)
    try:
        spec = SerialSource(kind="serial", device="/dev/ttyX", baudrate=115200)

        class Tagged:
            kind = "test-serial"
            device = "/dev/ttyX"

        with pytest.raises(TypeError, match="SerialSource"):
            registry.open_source(Tagged())
        assert opened == []
        # The spec's own kind is "serial": dispatch is by the tag, so go through a renamed copy.
        renamed = spec.model_copy(update={"kind": "test-serial"})
        assert isinstance(registry.open_source(renamed), Fake)
        assert opened == [115200]
    finally:
        registry._FACTORIES.pop("test-serial")


def test_the_agent_opens_sources_through_the_registry_and_one_missing_device_stops_no_other(tmp_path):
    class Good(SourceBase):
        source_id = "good"

    class Spec:
        def __init__(self, kind: str) -> None:
            self.kind, self.device = kind, f"/dev/{kind}"

    def unplugged(spec: Spec) -> Good:
        raise FileNotFoundError(spec.device)

    registry.register("test-good", Spec, lambda spec: Good())
    registry.register("test-unplugged", Spec, unplugged)
    agent = quiet_agent(tmp_path)
    agent.settings.qr_sources.extend([Spec("test-unplugged"), Spec("test-good")])  # type: ignore[list-item]
    try:
        sources = agent._open_sources()
        assert [s.source_id for s in sources] == ["good"]
        assert any("cannot open test-unplugged /dev/test-unplugged: FileNotFoundError" in e
                   for e in agent.health.errors)
    finally:
        agent.outbox.close()
        registry._FACTORIES.pop("test-good")
        registry._FACTORIES.pop("test-unplugged")


class _Scripted(Worker):
    def __init__(self, behaviour: str) -> None:
        super().__init__(f"w-{behaviour}", stall_seconds=0.2)
        self.behaviour = behaviour
        self.release = threading.Event()

    def run(self) -> None:
        if self.behaviour == "raise":
            raise RuntimeError("boom")
        if self.behaviour == "hang":
            self.release.wait(10)
            return
        while not self.stopping.is_set():
            self.beat()
            self.stopping.wait(0.02)


def test_worker_states_running_failed_finished_stalled_and_stopped():
    steady, broken, stuck = _Scripted("beat"), _Scripted("raise"), _Scripted("hang")
    for w in (steady, broken, stuck):
        assert w.state() is ComponentState.STOPPED
        w.start()
    wait_until(lambda: broken.state() is ComponentState.FAILED, 10, "the failure to show")
    wait_until(lambda: stuck.state() is ComponentState.STALLED, 10, "the stall to show")
    assert steady.state() is ComponentState.RUNNING
    stuck.release.set()
    wait_until(lambda: stuck.state() is ComponentState.FINISHED, 10, "the hung worker to end")
    steady.stop()
    assert steady.state() is ComponentState.STOPPED
    broken.restart()
    wait_until(lambda: broken.state() is ComponentState.FAILED, 10, "the restarted worker to fail again")
    assert broken.restarts == 1


class _OneShot(SourceBase):
    source_id = "one"

    def __init__(self, data: bytes) -> None:
        self.items = [data]

    def read(self, timeout: float | None = None) -> ScannedPayload | None:
        if not self.items:
            raise SourceClosed
        return ScannedPayload(self.items.pop(), datetime.now(UTC), self.source_id)


def test_a_finite_source_finishes_and_the_agent_stays_healthy(tmp_path):
    agent = quiet_agent(tmp_path)
    agent._explicit_sources = [_OneShot(Population(3).citizen(2).qr_payload().encode())]
    agent.start()
    try:
        wait_until(lambda: agent.outbox.depth() == 1, 20, "the one scan's check-in")
        wait_until(lambda: agent.component_states()["qr-one"] == "finished", 10, "the source to finish")
        assert agent.healthy()
        states = agent.component_states()
        assert states["desk"] == "running" and states["availability"] == "running"
    finally:
        agent.stop()
