"""N ingest processes on an MQTT v5 shared subscription: the setting, each member's own broker
account (the broker binds the client id to the username), and what mosquitto does with a
member that dies with a persistent session (the reason a member's session is short)."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from contract.settings import MqttSettings
from server.brokerfiles import acl_text, password_text
from server.ingest import _NO_RETAINED, SESSION_EXPIRY_SECONDS, Ingestor
from server.settings import SHARED_SESSION_EXPIRY, ServerMqttSettings, ServerSettings
from simulators.services import Mosquitto

TOKENS = {"read_tokens": ["r-9f8e7d6c5b4a3210zyxw"]}


class _NoStore:
    """The ingest's store is not touched by these tests (nothing is started)."""


def _ingestor(mqtt_settings: MqttSettings) -> Ingestor:
    return Ingestor(_NoStore(), mqtt_settings)  # type: ignore[arg-type]


def test_without_a_shared_group_the_server_subscribes_as_before_with_a_weeks_session():
    ingest = _ingestor(ServerMqttSettings(username="cccd-server", password="pw", client_id="cccd-server"))
    assert [ingest._filter(k) for k in ("checkin", "heartbeat", "status")] == [
        "cccd/v1/+/+/checkin", "cccd/v1/+/+/heartbeat", "cccd/v1/+/+/status"]
    assert ingest.session_expiry == SESSION_EXPIRY_SECONDS == 7 * 24 * 3600
    assert (ingest.settings.username, ingest.settings.client_id) == ("cccd-server", "cccd-server")
    assert _ingestor(MqttSettings(client_id="x"))._filter("checkin") == "cccd/v1/+/+/checkin"  # the contract's own


def test_a_shared_group_puts_check_ins_and_heartbeats_on_share_and_keeps_statuses_for_every_member():
    settings = ServerMqttSettings(username="cccd-server", password="pw", shared_group="ingest", members=3, member=2)
    ingest = _ingestor(settings)
    assert ingest._filter("checkin") == "$share/ingest/cccd/v1/+/+/checkin"
    assert ingest._filter("heartbeat") == "$share/ingest/cccd/v1/+/+/heartbeat"
    assert ingest._filter("status") == "cccd/v1/+/+/status"  # a reader's statuses in order, at every member
    assert (ingest.settings.username, ingest.settings.client_id) == ("cccd-server-2", "cccd-server-2")
    assert ingest.settings.password is not None and ingest.settings.password.get_secret_value() == "pw"
    assert ingest.session_expiry == SHARED_SESSION_EXPIRY  # a dead member must not hold messages for a week
    assert _ingestor(settings.model_copy(update={"session_expiry_seconds": 60})).session_expiry == 60


@pytest.mark.parametrize("bad", [{"shared_group": "a/b"}, {"shared_group": "in gest"}, {"shared_group": "#"},
                                 {"shared_group": "g", "members": 2, "member": 3},
                                 {"members": 2}, {"session_expiry_seconds": 1}])
def test_a_shared_subscription_setting_that_cannot_work_is_refused(bad):
    with pytest.raises(ValidationError):
        ServerMqttSettings(**bad)


def test_a_shared_group_without_receipts_is_refused_a_dead_members_events_would_never_come_back():
    with pytest.raises(ValidationError, match="receipts"):
        ServerSettings(api=TOKENS, mqtt={"shared_group": "ingest"}, ingest={"receipts": False})
    assert ServerSettings(api=TOKENS, mqtt={"shared_group": "ingest", "members": 2}).mqtt.members == 2


def test_the_broker_files_give_every_member_its_own_account_and_the_servers_access():
    acl = acl_text([], "cccd-server", members=3)
    for user in ("cccd-server", "cccd-server-2", "cccd-server-3"):
        block = acl.split(f"user {user}\n", 1)[1].split("\n\n", 1)[0]
        assert block == "topic read cccd/v1/#\ntopic write cccd/v1/+/+/receipt", user
    assert "cccd-server-4" not in acl
    passwd = password_text([], ("cccd-server", "pw"), members=2).splitlines()
    assert [line.split(":")[0] for line in passwd] == ["cccd-server", "cccd-server-2"]
    assert acl_text([], "cccd-server") == acl_text([], "cccd-server", members=1)  # a sole server: as before


def _member(port: int, client_id: str, got: list[int], *, ack: bool = True) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=not ack)
    ready = threading.Event()
    client.on_connect = lambda c, *_a: c.subscribe("$share/ingest/t/#", qos=1)
    client.on_subscribe = lambda *_a: ready.set()
    client.on_message = lambda _c, _u, m: got.append(int(m.payload))
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    assert ready.wait(10)
    return client


def test_mosquitto_gives_a_dead_members_session_its_share_until_expiry_then_drops_it_not_to_the_others():
    """The broker behaviour the design rests on (mosquitto 2.0): if this changes, so may the
    members' session expiry and docs/scale.md."""
    alive, dead = [], []
    with Mosquitto(max_inflight=0) as broker:
        a = _member(broker.port, "member-a", alive)
        b = _member(broker.port, "member-b", dead, ack=False)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()

        def publish(numbers: range) -> None:
            for i in numbers:
                pub.publish("t/x", str(i).encode(), qos=1).wait_for_publish(10)

        publish(range(20))
        deadline = time.monotonic() + 10
        while len(alive) + len(dead) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive and dead  # both members got a share
        assert b._sock is not None
        b._sock.close()  # the member dies: no DISCONNECT, its session stays
        b.loop_stop()
        time.sleep(0.5)
        publish(range(20, 60))
        time.sleep(1.0)
        while_dead = [i for i in range(20, 60) if i not in alive]
        time.sleep(3 + 2)  # past the dead member's session expiry
        publish(range(60, 80))
        time.sleep(1.0)
        a.disconnect()
        a.loop_stop()
        pub.disconnect()
        pub.loop_stop()
    assert while_dead, "the dead member's session got no share: the broker redistributes (a better broker)"
    assert not set(while_dead) & set(alive), "a dead member's queued messages were given to the live one"
    assert set(range(60, 80)) <= set(alive)  # after its session expired, the live member gets everything


def test_on_a_shared_subscription_mosquitto_keeps_the_retain_flag_so_a_retained_check_in_is_still_refused():
    """The ingest refuses retained check-ins and heartbeats by the flag that retain-as-published
    keeps; that holds on a $share subscription too (mosquitto 2.0)."""
    got: list[tuple[str, bool]] = []
    ready = threading.Event()
    with Mosquitto(max_inflight=0) as broker:
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="member", protocol=mqtt.MQTTv5)
        sub.on_connect = lambda c, *_a: c.subscribe([("$share/ingest/t/#", _NO_RETAINED)])
        sub.on_subscribe = lambda *_a: ready.set()
        sub.on_message = lambda _c, _u, m: got.append((m.topic, bool(m.retain)))
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        assert ready.wait(10)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish("t/retained", b"x", qos=1, retain=True).wait_for_publish(10)
        pub.publish("t/live", b"x", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        for client in (sub, pub):
            client.disconnect()
            client.loop_stop()
    assert sorted(got) == [("t/live", False), ("t/retained", True)]
