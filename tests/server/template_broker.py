"""The shipped broker configuration (``systemd/mosquitto-cccd.conf``) run on the real mosquitto, with
the password and ACL files that ``cccd-server`` writes, and MQTT v5 clients that log in over its TLS
listener as readers do. Imported as a plain module (tests/server is on sys.path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from server.brokerfiles import acl_text, mosquitto_hash, password_text
from server.store import BrokerAccount
from simulators.services import MOSQUITTO_CANDIDATES, find_program, free_port, render_shipped_config, wait_for_port
from simulators.tls import TlsFiles, make_device_pki

SERVER_USER, SERVER_PASSWORD = "cccd-server", "server-password-0123456789"


class TemplateBroker:
    """mosquitto with the shipped template: TLS listener for readers, loopback listener for the server.

    ``readers``: (username, password, facility, reader). Persistence stays in its own
    directory across :meth:`restart`.
    """

    def __init__(self, readers: Sequence[tuple[str, str, str, str]]) -> None:
        # Not under pytest's private tmp folder: mosquitto drops to its own user and must reach it.
        self.work = Path(tempfile.mkdtemp(prefix="cccd-broker-template-"))
        os.chmod(self.work, 0o777)
        self.pki: TlsFiles = make_device_pki(self.work / "pki")
        os.chmod(self.work / "pki", 0o755)
        accounts = [BrokerAccount(u, mosquitto_hash(p), f, r) for u, p, f, r in readers]
        (self.work / "passwd").write_text(password_text(accounts, (SERVER_USER, SERVER_PASSWORD)))
        (self.work / "acl").write_text(acl_text(accounts, SERVER_USER))
        for name in ("passwd", "acl"):
            os.chmod(self.work / name, 0o644)
        self.tls_port, self.local_port = free_port(), free_port()
        conf = render_shipped_config(self.work, ca_cert=self.pki.ca_cert, server_cert=self.pki.server_cert,
                                     server_key=self.pki.server_key, tls_port=self.tls_port,
                                     local_port=self.local_port)
        self.conf_text = conf
        (self.work / "mosquitto.conf").write_text(conf + "log_dest stderr\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def server_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.local_port}"

    def start(self) -> TemplateBroker:
        with open(self.work / "log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([find_program(MOSQUITTO_CANDIDATES, "mosquitto"), "-c",
                                          str(self.work / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.tls_port)
        wait_for_port(self.local_port)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def server_config(self, db_path: Path, port: int, client_id: str, read_token: str, admin_token: str,
                      extra: str = "") -> str:
        """A ``server.toml`` for ``cccd-server serve`` with the server's account on the loopback listener;
        ``extra`` is appended (more lines of the ``[api]`` table, or further tables)."""
        return (f'database_url = "sqlite:///{db_path}"\n'
                f'[mqtt]\nurl = "{self.server_url}"\nusername = "{SERVER_USER}"\n'
                f'password = "{SERVER_PASSWORD}"\nclient_id = "{client_id}"\n'
                f'[api]\nport = {port}\nread_tokens = ["{read_token}"]\nadmin_tokens = ["{admin_token}"]\n' + extra)

    def log_text(self) -> str:
        return (self.work / "log").read_text(errors="replace")

    def __enter__(self) -> TemplateBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def reader(self, username: str, password: str, client_id: str) -> ReaderClient:
        return ReaderClient(self, username, password, client_id)

    def server_client(self, client_id: str) -> ReaderClient:
        """A client with the server's account on the loopback listener."""
        return ReaderClient(self, SERVER_USER, SERVER_PASSWORD, client_id, tls=False)


class ReaderClient:
    """A reader's MQTT v5 client over the template's TLS listener, recording PUBACK codes and messages."""

    def __init__(self, broker: TemplateBroker, username: str, password: str, client_id: str, *,
                 tls: bool = True) -> None:
        self.broker = broker
        self.acks: dict[int, int] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.granted: list[int] = []
        self.disconnects: list[int] = []
        self._cond = threading.Condition()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(username, password)
        if tls:
            client.tls_set(ca_certs=str(broker.pki.ca_cert))
        self.port = broker.tls_port if tls else broker.local_port
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_connect = self._on_connect
        self.client = client
        self.connected = threading.Event()

    def _on_connect(self, _c, _u, _f, rc, _p) -> None:  # type: ignore[no-untyped-def]
        if not rc.is_failure:
            self.connected.set()

    def _on_publish(self, _c, _u, mid, rc, _p) -> None:  # type: ignore[no-untyped-def]
        with self._cond:
            self.acks[mid] = rc.value
            self._cond.notify_all()

    def _on_message(self, _c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def _on_subscribe(self, _c, _u, _mid, codes, _p) -> None:  # type: ignore[no-untyped-def]
        with self._cond:
            self.granted += [c.value for c in codes]
            self._cond.notify_all()

    def _on_disconnect(self, _c, _u, _f, rc, _p) -> None:  # type: ignore[no-untyped-def]
        self.connected.clear()
        with self._cond:
            self.disconnects.append(rc.value)
            self._cond.notify_all()

    def connect(self) -> ReaderClient:
        self.connected.clear()
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, timeout: float = 10) -> int:
        """The PUBACK reason code (0 or 16 = accepted, 135 = not authorised)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self._cond:
            assert self._cond.wait_for(lambda: info.mid in self.acks, timeout), f"no PUBACK on {topic}"
            return self.acks[info.mid]

    def publish_too_large(self, topic: str, payload: bytes, timeout: float = 10) -> int:
        """Publish a packet over the broker's limit: the broker disconnects; returns the reason code."""
        before = len(self.disconnects)
        self.client.publish(topic, payload, qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.disconnects) > before, timeout), "not disconnected"
            code = self.disconnects[-1]
        self.client.loop_stop()
        return code

    def subscribe(self, topic: str, timeout: float = 10) -> int:
        before = len(self.granted)
        self.client.subscribe(topic, qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.granted) > before, timeout), "no SUBACK"
            return self.granted[-1]

    def wait_for(self, predicate, timeout: float = 30) -> bool:  # type: ignore[no-untyped-def]
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)
