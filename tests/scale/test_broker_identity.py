"""On the shipped broker configuration, a client id is the authenticated identity: a reader
that connects with the server's client id, or another reader's, with a clean start, kicks
nobody off and destroys no queued message; the pattern ACL binds every reader to its own
facility and reader id."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from server.brokerfiles import reader_username
from tests.scale.conftest import SERVER_PASSWORD, SERVER_USER, TemplateBroker, reader_password

pytestmark = pytest.mark.services
NOT_AUTHORIZED = 135


class Peer:
    """One paho MQTT v5 client that records what happens to it."""

    def __init__(self, broker: TemplateBroker, username: str, password: str, client_id: str, *,
                 tls: bool = True, clean_start: bool = True, session_expiry: int = 0) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=str(broker.pki.ca_cert))
        self.port = broker.tls_port if tls else broker.local_port
        self.clean_start, self.session_expiry = clean_start, session_expiry
        self.connected = threading.Event()
        self.connack: list[int] = []
        self.session_present: list[bool] = []
        self.disconnects: list[int] = []
        self.messages: list[bytes] = []
        self.pubacks: dict[int, int] = {}
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, m: self.messages.append(m.payload)
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, rc.value)
        self.client.on_subscribe = lambda *_a: self.subscribed.set()

    def _on_connect(self, _c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, rc: object, _p: object) -> None:
        self.connack.append(rc.value)  # type: ignore[attr-defined]
        self.session_present.append(flags.session_present)
        if rc.value == 0:  # type: ignore[attr-defined]
            self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        self.disconnects.append(rc.value)  # type: ignore[attr-defined]
        self.connected.clear()

    def start(self) -> Peer:
        props = Properties(PacketTypes.CONNECT)
        if self.session_expiry:
            props.SessionExpiryInterval = self.session_expiry
        self.client.connect("127.0.0.1", self.port, clean_start=self.clean_start, properties=props)
        self.client.loop_start()
        return self

    def wait_connected(self) -> bool:
        return self.connected.wait(10)

    def publish(self, topic: str, payload: bytes) -> int:
        """The PUBACK reason code of one QoS 1 publish."""
        info = self.client.publish(topic, payload, qos=1)
        deadline = time.monotonic() + 10
        while info.mid not in self.pubacks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.pubacks[info.mid]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def reader(broker: TemplateBroker, facility: str, reader_id: str, client_id: str | None = None) -> Peer:
    username = reader_username(facility, reader_id)
    return Peer(broker, username, reader_password(facility, reader_id), client_id or username).start()


def server(broker: TemplateBroker) -> Peer:
    """The server's ingest as it connects: persistent session, on the local listener."""
    peer = Peer(broker, SERVER_USER, SERVER_PASSWORD, "cccd-server", tls=False, clean_start=False,
                session_expiry=3600)
    peer.start()
    assert peer.wait_connected()
    peer.client.subscribe("cccd/v1/+/+/checkin", qos=1)
    assert peer.subscribed.wait(10)
    return peer


def wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_reader_taking_the_servers_client_id_while_it_is_away_loses_none_of_its_queue(template_broker):
    srv = server(template_broker)
    srv.stop()  # away: the broker queues for its persistent session
    desk = reader(template_broker, "34001", "desk-1")
    assert desk.wait_connected()
    for i in range(5):
        assert desk.publish("cccd/v1/34001/desk-1/checkin", b"event-%d" % i) == 0  # 0: a subscriber's session has it
    thief = reader(template_broker, "34002", "desk-1", client_id="cccd-server")  # clean start
    assert thief.wait_connected()  # let in, but as itself: the broker uses its username as client id
    thief.stop()
    back = server(template_broker)
    assert back.session_present == [True]
    assert wait_for(lambda: len(back.messages) == 5), back.messages
    assert sorted(back.messages) == [b"event-%d" % i for i in range(5)]
    back.stop()
    desk.stop()


def test_a_reader_taking_the_servers_client_id_while_it_runs_kicks_nothing_off(template_broker):
    srv = server(template_broker)
    desk = reader(template_broker, "34001", "desk-1")
    assert desk.wait_connected()
    thieves = [reader(template_broker, "34002", "desk-1", client_id="cccd-server") for _ in range(3)]
    assert all(t.wait_connected() for t in thieves[-1:])
    for i in range(40):
        assert desk.publish("cccd/v1/34001/desk-1/checkin", b"event-%d" % i) == 0
    assert wait_for(lambda: len(srv.messages) == 40)
    assert srv.disconnects == [] and srv.connack == [0]
    for t in thieves:
        t.stop()
    srv.stop()
    desk.stop()


def test_a_reader_taking_another_readers_client_id_kicks_nobody_off(template_broker):
    srv = server(template_broker)
    victim = reader(template_broker, "34001", "desk-1")
    assert victim.wait_connected()
    thief = reader(template_broker, "34002", "desk-1", client_id=reader_username("34001", "desk-1"))
    assert thief.wait_connected()
    time.sleep(0.5)  # a takeover would have disconnected the victim by now
    assert victim.disconnects == [] and victim.connack == [0]
    assert victim.publish("cccd/v1/34001/desk-1/checkin", b"still-here") == 0
    assert wait_for(lambda: srv.messages == [b"still-here"])
    # and the thief's own publishes still go only where its identity may write
    assert thief.publish("cccd/v1/34001/desk-1/checkin", b"forged") == NOT_AUTHORIZED
    time.sleep(0.3)
    assert srv.messages == [b"still-here"]
    for peer in (thief, victim, srv):
        peer.stop()


@pytest.mark.parametrize("kind", ["checkin", "status", "heartbeat"])
def test_the_pattern_acl_binds_a_reader_to_its_own_facility_and_reader(template_broker, kind):
    desk = reader(template_broker, "34001", "desk-1")
    assert desk.wait_connected()
    assert desk.publish(f"cccd/v1/34001/desk-1/{kind}", b"x") < 128  # 16: accepted, nobody subscribed
    for topic in (f"cccd/v1/34002/desk-1/{kind}",  # another facility's reader of the same id
                  f"cccd/v1/34001/desk-2/{kind}",  # another reader of the same facility
                  f"cccd/v1/34001/desk-1/{kind}/more", f"cccd/v1/34001/{kind}"):
        assert desk.publish(topic, b"x") == NOT_AUTHORIZED, topic
    desk.stop()
