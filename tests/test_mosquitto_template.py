"""The broker configuration template of systemd/ runs on the real mosquitto: a reader with
its issued credentials publishes over TLS to its own topics only."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.brokerfiles import acl_text, mosquitto_hash, password_text
from simulators.services import MOSQUITTO_CANDIDATES, find_program, free_port, wait_for_port
from simulators.tls import make_device_pki

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[1]


def publish(port: int, ca: Path, username: str, password: str, topic: str) -> int:
    """The PUBACK reason code a publish gets (MQTT v5: 135 = not authorised)."""
    done = threading.Event()
    result: dict[str, int] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{os.getpid()}-{topic[-8:]}", protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.tls_set(ca_certs=str(ca))
    client.on_publish = lambda c, u, mid, rc, p: (result.__setitem__("rc", rc.value), done.set())
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, b"{}", qos=1)
        assert done.wait(10), "no PUBACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return result["rc"]


def test_the_broker_template_lets_a_reader_publish_to_its_own_topics_only():
    # Not under pytest's private tmp folder: mosquitto drops to its own user and must reach it.
    work = Path(tempfile.mkdtemp(prefix="cccd-broker-template-"))
    os.chmod(work, 0o777)
    pki = make_device_pki(work / "pki")
    os.chmod(work / "pki", 0o755)
    password = "reader-password-123"
    accounts = [("reader-34001-desk-1", mosquitto_hash(password), "34001", "desk-1")]
    (work / "passwd").write_text(password_text(accounts, ("cccd-server", "server-password-123")))
    (work / "acl").write_text(acl_text(accounts, "cccd-server"))
    for f in ("passwd", "acl"):
        os.chmod(work / f, 0o644)
    tls_port, local_port = free_port(), free_port()
    conf = (ROOT / "systemd" / "mosquitto-cccd.conf").read_text()
    conf = (conf.replace("/etc/mosquitto/cccd/ca.crt", str(pki.ca_cert))
                .replace("/etc/mosquitto/cccd/server.crt", str(pki.server_cert))
                .replace("/etc/mosquitto/cccd/server.key", str(pki.server_key))
                .replace("/etc/mosquitto/cccd/", f"{work}/")
                .replace("/var/lib/mosquitto/", f"{work}/")
                .replace("listener 8883", f"listener {tls_port} 127.0.0.1")
                .replace("listener 1883 127.0.0.1", f"listener {local_port} 127.0.0.1"))
    (work / "mosquitto.conf").write_text(conf + "log_dest stderr\n")
    log = open(work / "log", "wb")
    proc = subprocess.Popen([find_program(MOSQUITTO_CANDIDATES, "mosquitto"), "-c", str(work / "mosquitto.conf")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(tls_port)
        own = publish(tls_port, pki.ca_cert, "reader-34001-desk-1", password, "cccd/v1/34001/desk-1/checkin")
        assert own < 128  # success (16 = accepted, no subscriber yet)
        assert publish(tls_port, pki.ca_cert, "reader-34001-desk-1", password, "cccd/v1/34002/desk-1/checkin") == 135
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
