"""Benchmark: the broker's authentication and ACL at national scale, three ways.

With N readers registered (default 40,000, three per facility), on the real mosquitto:

1. ``per-user ACL``: the password file and one ACL block per reader (what
   ``broker-files`` wrote before), for comparison.
2. ``pattern ACL``: the password file and three ``pattern`` lines for every reader
   (usernames ``<facility>/<reader>``, ``use_username_as_clientid true``): the ACL no longer
   grows with the fleet.
3. ``dynamic security``: mosquitto's dynamic-security plugin, a client per reader bound to
   its client id, and (2.0 has no ``%u`` in its ACLs) one role per reader.

For each: the files' size, the broker's start time (process start until a registered
reader's CONNECT is accepted), its RSS, and the cost of adding one reader to a running
broker until the new reader can connect (rewrite + SIGHUP, or one control message).

    python -m benchmarks.broker_auth --readers 40000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from server.brokerfiles import acl_text, mosquitto_hash
from simulators.national_fleet import SimReader, national_readers, sim_password
from simulators.services import MOSQUITTO_CANDIDATES, find_program, free_port

DYNSEC = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
SEED = "broker-auth-bench"
SERVER = ("cccd-server", "server-password-bench")
PATTERNS = "".join(f"pattern write cccd/v1/%u/{kind}\n" for kind in ("checkin", "status", "heartbeat"))


def try_connect(port: int, username: str, password: str, client_id: str) -> bool:
    """Whether the broker accepts this CONNECT (MQTT v5) right now."""
    done = threading.Event()
    ok: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)

    def on_connect(_c, _u, _f, rc, _p):  # type: ignore[no-untyped-def]
        ok.append(not rc.is_failure)
        done.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port)
    except OSError:
        return False
    client.loop_start()
    done.wait(5)
    client.disconnect()
    client.loop_stop()
    return bool(ok and ok[0])


def wait_accepts(port: int, reader: SimReader, timeout: float = 300.0,
                 proc: subprocess.Popen[bytes] | None = None) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited ({proc.returncode}); see its log")
        if try_connect(port, reader.username, sim_password(SEED, reader.username), reader.username):
            return time.perf_counter() - t0
        time.sleep(0.02)
    raise TimeoutError(f"{reader.username} was not accepted within {timeout} s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


STARTED: list[Broker] = []  # stopped on the way out, whatever happens


class Broker:
    def __init__(self, work: Path, config: str) -> None:
        self.work, self.port = work, free_port()
        (work / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\nper_listener_settings false\nallow_anonymous false\n"
            f"persistence false\nlog_dest file {work}/log\nlog_type error\nlog_type warning\n" + config)
        self.proc: subprocess.Popen[bytes] | None = None
        STARTED.append(self)

    def start(self, reader: SimReader) -> float:
        """Seconds from the process start until ``reader`` is accepted (a new port if one
        was taken meanwhile: free_port() can race with the other agents' brokers)."""
        for _attempt in range(3):
            self.proc = subprocess.Popen([find_program(MOSQUITTO_CANDIDATES, "mosquitto"), "-c",
                                          str(self.work / "mosquitto.conf")], start_new_session=True)
            try:
                return wait_accepts(self.port, reader, proc=self.proc)
            except RuntimeError:
                if "Address already in use" not in (self.work / "log").read_text():
                    raise
                (self.work / "log").unlink()
                old = self.port
                self.port = free_port()
                conf = self.work / "mosquitto.conf"
                conf.write_text(conf.read_text().replace(f"listener {old} ", f"listener {self.port} "))
        raise RuntimeError("no free port for mosquitto")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def password_lines(readers: list[SimReader]) -> str:
    return (f"{SERVER[0]}:{mosquitto_hash(SERVER[1])}\n"
            + "".join(f"{r.username}:{mosquitto_hash(sim_password(SEED, r.username))}\n" for r in readers))


def file_variant(name: str, readers: list[SimReader], extra: list[SimReader], acl: str,
                 identity: str) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"cccd-auth-{name.split(maxsplit=1)[0]}-"))
    os.chmod(work, 0o777)
    passwd = password_lines(readers)
    (work / "passwd").write_text(passwd)
    (work / "acl").write_text(acl)
    broker = Broker(work, f"password_file {work}/passwd\nacl_file {work}/acl\n{identity}")
    start_s = broker.start(readers[-1])  # from process start until the reader is accepted
    assert broker.proc is not None
    out: dict[str, object] = {"passwd_mb": round(len(passwd) / 1e6, 2), "acl_mb": round(len(acl) / 1e6, 3),
                              "start_s": round(start_s, 2), "rss_mb": round(rss_mb(broker.proc.pid), 1)}
    adds = []
    for new in extra:  # reader add: rewrite the files whole, atomically, then SIGHUP
        t = time.perf_counter()
        passwd += f"{new.username}:{mosquitto_hash(sim_password(SEED, new.username))}\n"
        tmp = work / "passwd.tmp"
        tmp.write_text(passwd)
        os.replace(tmp, work / "passwd")
        if name == "per-user ACL":
            acl += (f"\nuser {new.username}\ntopic write cccd/v1/{new.facility}/{new.reader}/checkin\n"
                    f"topic write cccd/v1/{new.facility}/{new.reader}/status\n"
                    f"topic write cccd/v1/{new.facility}/{new.reader}/heartbeat\n")
            (work / "acl.tmp").write_text(acl)
            os.replace(work / "acl.tmp", work / "acl")
        broker.proc.send_signal(signal.SIGHUP)
        wait_accepts(broker.port, new, proc=broker.proc)
        adds.append(time.perf_counter() - t)
    out["reader_add_s"] = round(statistics.median(adds), 3)
    broker.stop()
    shutil.rmtree(work, ignore_errors=True)
    return out


def _dynsec_client(username: str, password: str, roles: list[str], clientid: str) -> dict[str, object]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return {"username": username, "password": base64.b64encode(digest).decode(),
            "salt": base64.b64encode(salt).decode(), "iterations": 101,
            "clientid": clientid, "roles": [{"rolename": r} for r in roles]}


def _reader_role(r: SimReader) -> dict[str, object]:
    return {"rolename": f"reader:{r.username}", "acls": [
        {"acltype": "publishClientSend", "topic": f"cccd/v1/{r.username}/{kind}", "allow": True, "priority": 0}
        for kind in ("checkin", "status", "heartbeat")]}


def dynsec_variant(readers: list[SimReader], extra: list[SimReader]) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="cccd-auth-dynsec-"))
    os.chmod(work, 0o777)
    admin_pw = secrets.token_urlsafe(16)
    config = {
        "clients": [_dynsec_client("admin", admin_pw, ["admin"], "admin"),
                    _dynsec_client(SERVER[0], SERVER[1], ["server"], SERVER[0])]
        + [_dynsec_client(r.username, sim_password(SEED, r.username), [f"reader:{r.username}"], r.username)
           for r in readers],
        "roles": [
            {"rolename": "admin", "acls": [
                {"acltype": t, "topic": "$CONTROL/dynamic-security/#", "allow": True, "priority": 0}
                for t in ("publishClientSend", "publishClientReceive", "subscribePattern")]},
            {"rolename": "server", "acls": [
                {"acltype": "subscribePattern", "topic": "cccd/v1/#", "allow": True, "priority": 0}]},
        ] + [_reader_role(r) for r in readers],
        "groups": [],
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True, "subscribe": False,
                             "unsubscribe": True},
    }
    path = work / "dynamic-security.json"
    path.write_text(json.dumps(config))
    os.chmod(path, 0o666)
    size = path.stat().st_size
    broker = Broker(work, f"plugin {DYNSEC}\nplugin_opt_config_file {path}\n")
    start_s = broker.start(readers[-1])
    assert broker.proc is not None
    out: dict[str, object] = {"dynsec_json_mb": round(size / 1e6, 2), "start_s": round(start_s, 2),
                              "rss_mb": round(rss_mb(broker.proc.pid), 1)}
    responses: list[float] = []
    got = threading.Event()
    admin = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="admin", protocol=mqtt.MQTTv5)
    admin.username_pw_set("admin", admin_pw)
    admin.on_message = lambda *_a: (responses.append(time.perf_counter()), got.set())
    admin.connect("127.0.0.1", broker.port)
    admin.loop_start()
    admin.subscribe("$CONTROL/dynamic-security/v1/response", 1)
    time.sleep(0.5)
    adds = []
    for new in extra:  # reader add: one control message (a role with three ACLs, then the client)
        role = _reader_role(new)
        commands = [{"command": "createRole", "rolename": role["rolename"]}] + [
            {"command": "addRoleACL", "rolename": role["rolename"], **acl}  # type: ignore[dict-item]
            for acl in role["acls"]  # type: ignore[attr-defined]
        ] + [{"command": "createClient", "username": new.username, "password": sim_password(SEED, new.username),
              "clientid": new.username, "roles": [{"rolename": role["rolename"]}]}]
        got.clear()
        t = time.perf_counter()
        admin.publish("$CONTROL/dynamic-security/v1", json.dumps({"commands": commands}), qos=1)
        got.wait(300)
        wait_accepts(broker.port, new)
        adds.append(time.perf_counter() - t)
    out["reader_add_s"] = round(statistics.median(adds), 3)
    out["control_reply_s"] = round(responses[-1] - t, 3) if responses else None
    admin.disconnect()
    admin.loop_stop()
    broker.stop()
    shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=40_000)
    parser.add_argument("--adds", type=int, default=3, help="reader adds to time on the running broker")
    parser.add_argument("--variants", default="per-user,pattern,dynsec")
    args = parser.parse_args(argv)
    everyone = national_readers(args.readers + args.adds)
    readers, extra = everyone[: args.readers], everyone[args.readers :]
    variants = args.variants.split(",")
    print(f"{args.readers} readers registered; {args.adds} reader adds timed on the running broker", flush=True)
    runs: dict[str, Callable[[], dict[str, object]]] = {
        "per-user": lambda: file_variant(
            "per-user ACL", readers, extra,
            acl_text([(r.username, "", r.facility, r.reader) for r in readers], SERVER[0]), ""),
        "pattern": lambda: file_variant(
            "pattern ACL", readers, extra, f"user {SERVER[0]}\ntopic read cccd/v1/#\n\n{PATTERNS}",
            "use_username_as_clientid true\n"),
        "dynsec": lambda: dynsec_variant(readers, extra),
    }
    try:
        for name in variants:
            print(f"{name:10} {json.dumps(runs[name]())}", flush=True)
    finally:
        for broker in STARTED:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
