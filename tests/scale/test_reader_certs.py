"""Per-reader TLS client certificates on the real mosquitto with the shipped configuration
(``systemd/mosquitto-cccd.conf``, its certificate listener included), the device CA, the CRL and
the password and ACL files all written by the real ``cccd-server`` commands (``ca init``,
``reader add --cert``, ``reader revoke``): a reader with its certificate connects without a
password and writes only its own topics; a certificate from another CA, an expired one or a
revoked one is refused at the TLS handshake; the certificate's name cannot take the server's
session; and a desk's check-in sent over its certificate is stored by the real server process."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.mqtt import make_client
from contract.settings import MqttSettings
from server.ca import issue_reader_cert, load_ca, write_reader_files
from server.cli import main as server_cli
from simulators.services import MOSQUITTO_CANDIDATES, find_program, free_port, render_shipped_config, wait_for_port
from simulators.tls import TlsFiles, make_device_pki
from tests.processes import READ_TOKEN, ServerProcess, wait_until

pytestmark = pytest.mark.services
NOT_AUTHORIZED = 135
SERVER_USER, SERVER_PASSWORD = "cccd-server", "server-password-for-cert-tests"
CERT_READERS = [("34001", "desk-1"), ("34002", "desk-1")]
PASSWORD_READER = ("34001", "desk-2")


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = server_cli(list(args))
    return code, out.getvalue(), err.getvalue()


class CertDeployment:
    """A server host as a technician sets it up: facilities imported, the device CA made, two
    readers issued certificates and one a password, and mosquitto on the shipped file."""

    def __init__(self) -> None:
        # Not under pytest's private tmp folder: mosquitto drops to its own user and must reach it.
        self.work = Path(tempfile.mkdtemp(prefix="cccd-cert-broker-"))
        os.chmod(self.work, 0o777)
        self.pki: TlsFiles = make_device_pki(self.work / "pki")  # the broker's own certificate
        os.chmod(self.work / "pki", 0o755)
        self.tls_port, self.cert_port, self.local_port, self.api_port = (free_port() for _ in range(4))
        self.db = self.work / "server.sqlite"
        self.device_ca, self.crl = self.work / "device-ca.crt", self.work / "crl.pem"
        self.config_text = (
            f'database_url = "sqlite:///{self.db}"\n'
            f'[mqtt]\nurl = "mqtt://127.0.0.1:{self.local_port}"\nusername = "{SERVER_USER}"\n'
            f'password = "{SERVER_PASSWORD}"\nclient_id = "{SERVER_USER}"\n'
            f'[api]\nport = {self.api_port}\nread_tokens = ["{READ_TOKEN}"]\n'
            f'[broker_files]\npassword_file = "{self.work}/passwd"\nacl_file = "{self.work}/acl"\n'
            f'[device_ca]\ndirectory = "{self.work}/ca"\nbroker_ca_file = "{self.device_ca}"\n'
            f'crl_file = "{self.crl}"\n')
        self.config = self.work / "server.toml"
        self.config.write_text(self.config_text)
        self.config.chmod(0o600)
        csv = self.work / "facilities.csv"
        csv.write_text("code,name,type,province,district,commune\n"
                       "34001,BV A,hospital,Thái Bình,Vũ Thư,\n34002,TYT B,health_station,Thái Bình,Kiến Xương,\n")
        self.cli("facility", "import", str(csv))
        self.cli("ca", "init")
        self.issued: dict[tuple[str, str], dict[str, str]] = {}
        for facility, reader in CERT_READERS:
            _, out, _ = self.cli("reader", "add", "--facility", facility, "--reader", reader, "--cert",
                                 "--cert-out", str(self.cert_dir(facility, reader)))
            self.issued[(facility, reader)] = json.loads(out)
        _, out, _ = self.cli("reader", "add", "--facility", PASSWORD_READER[0], "--reader", PASSWORD_READER[1])
        self.password = json.loads(out)["mqtt_password"]
        conf = render_shipped_config(self.work, ca_cert=self.pki.ca_cert, server_cert=self.pki.server_cert,
                                     server_key=self.pki.server_key, tls_port=self.tls_port,
                                     local_port=self.local_port, cert_port=self.cert_port,
                                     device_ca=self.device_ca, crl_file=self.crl)
        assert "require_certificate true" in conf and "use_identity_as_username true" in conf
        (self.work / "mosquitto.conf").write_text(
            conf + "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.peers: list[Peer] = []  # closed with the deployment

    def cli(self, *args: str) -> tuple[int, str, str]:
        code, out, err = run_cli(*args, "--config", str(self.config))
        assert code == 0, (args, err)
        return code, out, err

    def cert_dir(self, facility: str, reader: str) -> Path:
        return self.work / "issued" / f"{facility}-{reader}"

    def start(self) -> CertDeployment:
        with open(self.work / "log", "ab") as log:
            self.proc = subprocess.Popen([find_program(MOSQUITTO_CANDIDATES, "mosquitto"), "-c",
                                          str(self.work / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        for port in (self.tls_port, self.cert_port, self.local_port):
            wait_for_port(port)
        return self

    def restart(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(10)
        self.start()

    def reload(self) -> None:
        """SIGHUP, as ``systemctl reload mosquitto`` after ``reader revoke``."""
        assert self.proc is not None
        log_size = (self.work / "log").stat().st_size
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: b"Reloading config" in (self.work / "log").read_bytes()[log_size:], 10, "the reload")

    def log_text(self, since: int = 0) -> str:
        return (self.work / "log").read_bytes()[since:].decode(errors="replace")

    def log_mark(self) -> int:
        return (self.work / "log").stat().st_size

    def refused_at_handshake(self, since: int) -> bool:
        """Whether the broker logged a failed certificate verification since ``since`` (OpenSSL
        names no reason there: other CA, expired and revoked all read 'certificate verify failed')."""
        return "certificate verify failed" in self.log_text(since)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.work, ignore_errors=True)

    def settings(self, cert: Path | None, key: Path | None, *, port: int | None = None,
                 username: str | None = None, password: str | None = None) -> MqttSettings:
        return MqttSettings(url=f"mqtts://127.0.0.1:{port or self.cert_port}", ca_file=self.pki.ca_cert,
                            cert_file=cert, key_file=key, username=username, password=password)

    def reader_settings(self, facility: str, reader: str) -> MqttSettings:
        where = self.cert_dir(facility, reader)
        return self.settings(where / "client.crt", where / "client.key")


class Peer:
    """A client made by the project's one factory (``contract.mqtt.make_client``), recording what happens."""

    def __init__(self, settings: MqttSettings, client_id: str, *, clean_start: bool = True,
                 session_expiry: int = 0) -> None:
        self.settings = settings
        self.client = make_client(settings, client_id)
        self.clean_start, self.session_expiry = clean_start, session_expiry
        self.connack: list[int] = []
        self.disconnects: list[int] = []
        self.messages: list[tuple[str, bytes]] = []
        self.pubacks: dict[int, int] = {}
        self.errors: list[str] = []
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda _c, _u, _f, rc, _p: (self.disconnects.append(rc.value),
                                                                   self.connected.clear())
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, rc.value)
        self.client.on_subscribe = lambda *_a: self.subscribed.set()

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        self.connack.append(rc.value)  # type: ignore[attr-defined]
        if rc.value == 0:  # type: ignore[attr-defined]
            self.connected.set()

    def try_connect(self, timeout: float = 10) -> bool:
        """Whether the broker accepted this client (a CONNACK with success within ``timeout``)."""
        props = Properties(PacketTypes.CONNECT)
        if self.session_expiry:
            props.SessionExpiryInterval = self.session_expiry
        try:
            self.client.connect(self.settings.host, self.settings.port, clean_start=self.clean_start,
                                properties=props)
        except OSError as exc:  # ssl.SSLError included: the handshake failed on the client's side
            self.errors.append(f"{exc.__class__.__name__}: {exc}")
            return False
        self.client.loop_start()
        return self.connected.wait(timeout)

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.pubacks, 10, f"the PUBACK of {topic}")
        return self.pubacks[info.mid]

    def subscribe(self, topic: str) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def deployment() -> Iterator[CertDeployment]:
    dep = CertDeployment().start()
    try:
        yield dep
    finally:
        for made in dep.peers:
            made.close()
        dep.close()


def peer(dep: CertDeployment, settings: MqttSettings, client_id: str, **kwargs: object) -> Peer:
    made = Peer(settings, client_id, **kwargs)  # type: ignore[arg-type]
    dep.peers.append(made)
    return made


def server_peer(dep: CertDeployment, client_id: str = SERVER_USER) -> Peer:
    """The server's account on the loopback listener, with a persistent session as the ingest has."""
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{dep.local_port}", username=SERVER_USER,
                            password=SERVER_PASSWORD)  # type: ignore[arg-type]
    return peer(dep, settings, client_id, clean_start=False, session_expiry=3600)


def test_a_reader_with_its_certificate_connects_without_a_password_and_writes_only_its_own_topics(deployment):
    dep = deployment
    server = server_peer(dep)
    assert server.try_connect()
    server.subscribe("cccd/v1/#")
    reader = peer(dep, dep.reader_settings("34001", "desk-1"), "any-id-the-desk-likes")
    assert reader.try_connect(), (reader.errors, dep.log_text())
    assert reader.settings.username is None and reader.settings.password is None
    assert reader.publish("cccd/v1/34001/desk-1/checkin", b'{"own": 1}') == 0
    assert reader.publish("cccd/v1/34001/desk-1/heartbeat", b'{"own": 2}') == 0
    assert reader.publish("cccd/v1/34002/desk-1/checkin", b'{"theirs": 1}') == NOT_AUTHORIZED  # another facility
    assert reader.publish("cccd/v1/34001/desk-2/checkin", b'{"theirs": 2}') == NOT_AUTHORIZED  # another desk
    assert reader.publish("cccd/v1/34001/desk-1/receipt", b'{"forged": 1}') == NOT_AUTHORIZED  # the server's only
    wait_until(lambda: len(server.messages) >= 2, 10, "the server to get the reader's messages")
    assert sorted(server.messages) == [("cccd/v1/34001/desk-1/checkin", b'{"own": 1}'),
                                       ("cccd/v1/34001/desk-1/heartbeat", b'{"own": 2}')]
    # Its receipts reach it: the pattern ACL reads the certificate's CN as the username.
    reader.subscribe("cccd/v1/34001/desk-1/receipt")
    assert server.publish("cccd/v1/34001/desk-1/receipt", b'{"receipt": 1}') == 0
    wait_until(lambda: reader.messages, 10, "the reader's receipt")
    assert reader.messages == [("cccd/v1/34001/desk-1/receipt", b'{"receipt": 1}')]
    # A username and password sent beside the certificate are ignored: the CN is the identity.
    posing = peer(dep, dep.settings(dep.cert_dir("34001", "desk-1") / "client.crt",
                                    dep.cert_dir("34001", "desk-1") / "client.key",
                                    username="34002/desk-1", password="anything"), "posing")
    assert posing.try_connect()
    assert posing.publish("cccd/v1/34002/desk-1/checkin", b'{"posing": 1}') == NOT_AUTHORIZED
    # The password listener works beside it, and a password gets nobody in on the certificate listener.
    by_password = peer(dep, dep.settings(None, None, port=dep.tls_port, username="34001/desk-2",
                                         password=dep.password), "pw-desk")
    assert by_password.try_connect()
    assert by_password.publish("cccd/v1/34001/desk-2/checkin") == 0
    no_cert = peer(dep, dep.settings(None, None, username="34001/desk-2", password=dep.password), "pw-on-cert")
    assert not no_cert.try_connect(5)
    # A reader given a certificate has no password in the broker's file.
    passwd = (dep.work / "passwd").read_text()
    assert "34001/desk-2:" in passwd and "34001/desk-1:" not in passwd and "34002/desk-1:" not in passwd


def test_a_certificate_from_another_ca_with_a_readers_name_is_refused(deployment):
    dep = deployment
    stranger = make_device_pki(dep.work / "stranger", client_cn="34001/desk-1")  # same CN, other CA
    intruder = peer(dep, dep.settings(stranger.client_cert, stranger.client_key), "intruder")
    mark = dep.log_mark()
    assert not intruder.try_connect(5)
    assert intruder.connack == []
    assert dep.refused_at_handshake(mark), dep.log_text(mark)
    # The same client with the reader's own certificate gets in: it is the certificate that was refused.
    assert peer(dep, dep.reader_settings("34001", "desk-1"), "desk").try_connect()


def test_an_expired_certificate_from_the_device_ca_is_refused(deployment):
    dep = deployment
    ca = load_ca(dep.work / "ca")
    expired = issue_reader_cert(ca, "34001", "desk-1", days=1,
                                now=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    assert expired.not_after < dt.datetime.now(dt.UTC)
    cert, key = write_reader_files(expired, dep.work / "expired")
    old = peer(dep, dep.settings(cert, key), "old-desk")
    mark = dep.log_mark()
    assert not old.try_connect(5)
    assert old.connack == []
    assert dep.refused_at_handshake(mark), dep.log_text(mark)


def test_a_revoked_certificate_is_refused_after_the_reload_and_the_others_still_connect(deployment):
    dep = deployment
    first = peer(dep, dep.reader_settings("34001", "desk-1"), "before")
    assert first.try_connect()
    serial = dep.issued[("34001", "desk-1")]["cert_serial"]
    _, out, _ = dep.cli("reader", "revoke", "--facility", "34001", "--reader", "desk-1")
    assert json.loads(out)["revoked"] == [serial]
    dep.reload()
    revoked = peer(dep, dep.reader_settings("34001", "desk-1"), "after")
    mark = dep.log_mark()
    assert not revoked.try_connect(5)
    assert revoked.connack == []
    assert dep.refused_at_handshake(mark), dep.log_text(mark)
    other = peer(dep, dep.reader_settings("34002", "desk-1"), "other")  # the CRL refuses only the revoked one
    assert other.try_connect()
    assert other.publish("cccd/v1/34002/desk-1/checkin") < 128  # accepted (16: nobody subscribes here)
    # OpenSSL checks the CRL at the handshake only: a session opened before the revocation lasts
    # until it reconnects (docs/tls.md: restart mosquitto to cut it at once).
    assert first.connected.is_set() and first.disconnects == []
    mark = dep.log_mark()
    dep.restart()
    wait_until(lambda: first.disconnects, 10, "the restart to cut the revoked desk's session")
    assert not first.connected.wait(5), "the revoked desk got back in after the restart"
    assert dep.refused_at_handshake(mark)  # paho's reconnects, refused
    # A new certificate for the same desk (the renewal after a stolen one) gets in again.
    shutil.rmtree(dep.cert_dir("34001", "desk-1"))
    dep.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert",
            "--cert-out", str(dep.cert_dir("34001", "desk-1")))
    assert peer(dep, dep.reader_settings("34001", "desk-1"), "renewed").try_connect()


def test_a_certificates_name_cannot_take_the_servers_session_or_another_desks(deployment):
    dep = deployment
    server = server_peer(dep)
    assert server.try_connect()
    server.subscribe("cccd/v1/#")
    victim = peer(dep, dep.reader_settings("34002", "desk-1"), "34002/desk-1")
    assert victim.try_connect()
    # With the server's client id and a clean start, then with the other desk's own id.
    for client_id in (SERVER_USER, "34002/desk-1"):
        hijacker = peer(dep, dep.reader_settings("34001", "desk-1"), client_id)
        assert hijacker.try_connect()
        assert hijacker.publish("cccd/v1/34001/desk-1/checkin", client_id.encode()) == 0
        hijacker.close()
    wait_until(lambda: len(server.messages) >= 2, 10, "the server to get both messages")
    assert server.disconnects == [] and server.connected.is_set()
    assert victim.disconnects == [] and victim.connected.is_set()
    assert victim.publish("cccd/v1/34002/desk-1/checkin", b"still here") == 0
    # Every name the device CA gives holds a '/' and the server's account none: no certificate
    # can carry the server's username (brokerfiles refuses a '/' in any non-reader username).
    assert all("/" in issued["mqtt_username"] for issued in dep.issued.values())


def test_a_desks_check_in_over_its_certificate_is_stored_by_the_real_server(deployment, tmp_path):
    from app.agent import DeskAgent
    from app.doctor import check_broker, check_client_cert
    from edge.config import EdgeSettings
    from edge.settings_base import write_secret_file
    from simulators.population import Population

    dep = deployment
    server = ServerProcess(dep.work, f"mqtt://127.0.0.1:{dep.local_port}", config_text=dep.config_text,
                           port=dep.api_port).start()
    key = tmp_path / "pseudonym.key"
    write_secret_file(key, os.urandom(32))
    where = dep.cert_dir("34001", "desk-1")
    settings = EdgeSettings.load(
        None, facility_code="34001", reader_id="desk-1", pseudonym_key_file=key, state_dir=tmp_path / "state",
        mqtt={"url": f"mqtts://127.0.0.1:{dep.cert_port}", "ca_file": str(dep.pki.ca_cert),
              "cert_file": str(where / "client.crt"), "key_file": str(where / "client.key")},
        chip={"enabled": False}, screen={"enabled": False})
    # The technician's doctor passes the installed certificate and its login (its own client id).
    assert check_client_cert(settings).status == "OK"
    broker_line = check_broker(settings)
    assert broker_line.status == "OK" and "certificate" in broker_line.detail, broker_line
    agent = DeskAgent(settings)
    agent.start()
    try:
        population = Population(15)
        ids = [agent.submit_qr(population.citizen(i).qr_payload()).event.event_id for i in range(3)]
        assert agent.publisher.wait_drained(60), "the server's receipts did not come back over the certificate"
    finally:
        agent.stop()
        server.stop()
    with sqlite3.connect(dep.db) as conn:
        stored = {row[0] for row in conn.execute(
            "SELECT event_id FROM checkin_event WHERE facility_code = '34001' AND reader_id = 'desk-1'")}
    assert stored == set(ids)
