"""A reader publishing to another facility's topic: refused by the broker's ACL (MQTT v5
reason code 135), and by the server's registry check when the ACL is bypassed."""

from __future__ import annotations

import io
import json
import threading
from contextlib import redirect_stdout

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from srvhelpers import ADMIN_TOKEN, READ_TOKEN, wait_until
from test_ingest import _event

from contract.topics import checkin_topic
from server.app import create_app
from server.cli import main as cli
from server.settings import ServerSettings
from simulators.services import Mosquitto, free_port

SERVER_PASSWORD = "server-password-0123456789"


def _client(port: int, username: str, password: str, client_id: str) -> tuple[mqtt.Client, dict]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    acks: dict[int, int] = {}
    done = threading.Condition()

    def on_publish(_c, _u, mid, rc, _p):  # type: ignore[no-untyped-def]
        with done:
            acks[mid] = rc.value
            done.notify_all()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, acks


def _publish(client: mqtt.Client, acks: dict, topic: str, payload: bytes) -> int:
    info = client.publish(topic, payload, qos=1)
    wait_until(lambda: info.mid in acks, 5, "PUBACK")
    return acks[info.mid]


def _write_config(tmp_path, port: int) -> str:
    config = tmp_path / "server.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "server.sqlite"}"\n'
        "[mqtt]\n"
        f'url = "mqtt://127.0.0.1:{port}"\nusername = "cccd-server"\npassword = "{SERVER_PASSWORD}"\n'
        'client_id = "cccd-server-spoof"\n'
        "[api]\n"
        f'read_tokens = ["{READ_TOKEN}"]\nadmin_tokens = ["{ADMIN_TOKEN}"]\n'
        "[broker_files]\n"
        f'password_file = "{tmp_path / "passwd"}"\nacl_file = "{tmp_path / "acl"}"\n'
    )
    config.chmod(0o600)
    return str(config)


def _add_reader(config: str, facility: str, reader: str) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli(["reader", "add", "--facility", facility, "--reader", reader, "--config", config]) == 0
    return json.loads(out.getvalue())


def test_reader_cannot_publish_to_another_facility_broker_acl_then_server_registry(tmp_path):
    port, open_port = free_port(), free_port()
    config = _write_config(tmp_path, port)
    csv_file = tmp_path / "facilities.csv"
    csv_file.write_text(
        "code,name,type,province,district,commune\n"
        "34001,Bệnh viện Đa khoa Vũ Thư,hospital,Thái Bình,Vũ Thư,Đồng Thanh\n"
        "34002,Trạm y tế xã Vũ Hội,trạm y tế,Thái Bình,Vũ Thư,Vũ Hội\n",
        encoding="utf-8",
    )
    assert cli(["facility", "import", str(csv_file), "--config", config]) == 0
    cred_a = _add_reader(config, "34001", "desk-a")
    _add_reader(config, "34002", "desk-b")
    acl = (tmp_path / "acl").read_text()
    assert cred_a["mqtt_username"] == "34001/desk-a"  # the pattern ACL's %u names its own topics
    assert "pattern write cccd/v1/%u/checkin" in acl and "user 34001/desk-a" not in acl
    assert cred_a["mqtt_password"] not in (tmp_path / "passwd").read_text()  # only its hash is kept

    with Mosquitto(port=port, password_file=tmp_path / "passwd", acl_file=tmp_path / "acl",
                   open_port=open_port) as broker:
        app = create_app(ServerSettings.load(config))
        with TestClient(app):
            ingestor = app.state.ingestor
            wait_until(lambda: ingestor.connected, 10, "the server to log in to the broker")
            reader_a, acks = _client(broker.port, cred_a["mqtt_username"], cred_a["mqtt_password"], "desk-a")
            try:
                # Its own topic: accepted by the broker and stored by the server.
                assert _publish(reader_a, acks, checkin_topic("34001", "desk-a"), _event("34001", "desk-a")) == 0
                # Another facility's topic: the broker refuses (MQTT v5: 135 Not authorized).
                assert _publish(reader_a, acks, checkin_topic("34002", "desk-b"), _event("34002", "desk-b")) == 135
                assert _publish(reader_a, acks, checkin_topic("34002", "desk-a"), _event("34002", "desk-a")) == 135
            finally:
                reader_a.disconnect()
                reader_a.loop_stop()

            # A wrong password does not even connect.
            intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder", protocol=mqtt.MQTTv5)
            intruder.username_pw_set(cred_a["mqtt_username"], "wrong-password")
            result: dict = {}
            intruder.on_connect = lambda _c, _u, _f, rc, _p: result.setdefault("rc", rc.value)
            intruder.connect("127.0.0.1", broker.port)
            intruder.loop_start()
            wait_until(lambda: "rc" in result, 5, "CONNACK")
            intruder.loop_stop()
            assert result["rc"] in (134, 135)  # mosquitto 2.0 answers 135 Not authorized

            # The ACL bypassed (an open listener on the same broker): the server refuses on its own.
            bypass, back = _client(open_port, "", "", "bypass")
            try:
                # reader a claims to sit at facility 34002: not registered there
                assert _publish(bypass, back, checkin_topic("34002", "desk-a"), _event("34002", "desk-a")) == 0
                # facility 34002's topic with an event of facility 34001
                assert _publish(bypass, back, checkin_topic("34002", "desk-b"), _event("34001", "desk-a")) == 0
            finally:
                bypass.disconnect()
                bypass.loop_stop()
            wait_until(lambda: ingestor.counters["refused"] >= 2 and ingestor.counters["stored"] >= 1, 20, "ingest")
            assert ingestor.counters["stored"] == 1
            assert ingestor.counters["refused_unregistered_reader"] == 1
            assert ingestor.counters["refused_topic_mismatch"] == 1
    assert app.state.store.event_count() == 1
