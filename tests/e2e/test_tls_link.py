"""The desk-to-broker link over TLS with the deployment's device CA (and mutual TLS)."""

from __future__ import annotations

import os

import pytest

from edge.settings_base import MqttSettings
from simulators.fleet import make_agent
from simulators.population import Population
from simulators.services import Mosquitto, free_port
from simulators.tls import make_device_pki
from tests.processes import wait_until
from tests.shipped_broker import ReceiptResponder

pytestmark = pytest.mark.services


def tls_broker(require_certificate: bool):
    """A broker with a TLS listener; its PKI lives in the broker's own (readable) folder."""
    broker = Mosquitto()
    pki = make_device_pki(broker.workdir / "pki")
    os.chmod(pki.ca_cert.parent, 0o755)
    port = free_port()
    broker.extra_config = (
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki.ca_cert}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        f"require_certificate {'true' if require_certificate else 'false'}\n"
    )
    return broker, port, pki


def agent_over_tls(tmp_path, port, **mqtt):
    agent = make_agent("34001", "desk-1", "mqtt://127.0.0.1:1", tmp_path / "edge", os.urandom(32), tmp_path / "k")
    agent.publisher.settings = MqttSettings(url=f"mqtts://127.0.0.1:{port}", **mqtt)
    return agent


def test_checkins_reach_the_broker_over_tls_with_mutual_authentication(tmp_path):
    broker, port, pki = tls_broker(require_certificate=True)
    with broker:
        receiver = ReceiptResponder(broker.url, username=None)  # the server's place, on the local listener
        agent = agent_over_tls(tmp_path, port, ca_file=pki.ca_cert, cert_file=pki.client_cert,
                               key_file=pki.client_key)
        agent.start()
        try:
            for i in range(10):
                agent.submit_qr(Population(5).citizen(i).qr_payload())
            assert agent.publisher.wait_drained(30)
            wait_until(lambda: len(receiver.payloads()) == 10, 10, "the receiver to see all ten")
        finally:
            agent.stop()
            receiver.close()


def test_a_broker_with_a_certificate_from_another_ca_is_refused_and_events_stay_queued(tmp_path):
    broker, port, _ = tls_broker(require_certificate=False)
    other = make_device_pki(tmp_path / "other")
    with broker:
        agent = agent_over_tls(tmp_path, port, ca_file=other.ca_cert)
        agent.start()
        try:
            agent.submit_qr(Population(5).citizen(0).qr_payload())
            assert not agent.publisher.wait_drained(3)
            assert agent.outbox.depth() == 1
            assert not agent.publisher.state.connected
            assert "cannot reach broker" in (agent.publisher.state.last_error or "")
        finally:
            agent.stop()
