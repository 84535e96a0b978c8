"""``cccd-server reader import``: thousands of readers registered in one go, their passwords
written once to a private file, the broker's files rewritten once with an ACL that does not
grow; a bad row refuses the whole file and names its line; the issued credentials work on
the shipped broker configuration."""

from __future__ import annotations

import csv
import io
import os
import stat
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.cli import main as cli
from server.db import init_db, make_engine
from server.store import EventStore
from simulators.services import Mosquitto, free_port

READ_TOKEN = "Read-token-for-the-import-test-7f3a9c"
ADMIN_TOKEN = "Admin-token-for-the-import-test-2b8e1d"
FACILITIES = 1000
PER_FACILITY = 3


def _config(tmp_path: Path) -> str:
    config = tmp_path / "server.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "server.sqlite"}"\n'
        '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\nusername = "cccd-server"\npassword = "server-password-0123456789"\n'
        f'[api]\nread_tokens = ["{READ_TOKEN}"]\nadmin_tokens = ["{ADMIN_TOKEN}"]\n'
        f'[broker_files]\npassword_file = "{tmp_path / "passwd"}"\nacl_file = "{tmp_path / "acl"}"\n')
    os.chmod(config, 0o600)
    facilities = tmp_path / "facilities.csv"
    facilities.write_text("code,name,type,province,district,commune\n" + "".join(
        f"{i:05d},Trạm y tế {i},health_station,Tỉnh {i % 63},Huyện {i % 7},Xã\n" for i in range(FACILITIES)))
    assert cli(["facility", "import", str(facilities), "--config", str(config)]) == 0
    return str(config)


def _run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = cli(list(argv))
    return code, err.getvalue()


def _readers_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("facility,reader\n" + "".join(f"{f},{r}\n" for f, r in rows))
    return path


def _registered(tmp_path: Path) -> int:
    store = EventStore(make_engine(f"sqlite:///{tmp_path / 'server.sqlite'}"))
    init_db(store.engine)
    return len(store.broker_accounts())


def test_three_thousand_readers_are_imported_at_once_with_private_credentials_and_a_constant_acl(tmp_path):
    config = _config(tmp_path)
    rows = [(f"{i:05d}", f"desk-{d + 1}") for i in range(FACILITIES) for d in range(PER_FACILITY)]
    out = tmp_path / "credentials.csv"
    code, err = _run("reader", "import", str(_readers_csv(tmp_path / "readers.csv", rows)), "--out", str(out),
                     "--config", config)
    assert code == 0, err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    issued = list(csv.DictReader(out.open()))
    assert [(r["facility"], r["reader"]) for r in issued] == rows
    assert all(r["mqtt_username"] == f"{r['facility']}/{r['reader']}" for r in issued)
    assert len({r["mqtt_password"] for r in issued}) == len(rows)
    passwd = (tmp_path / "passwd").read_text()
    assert len(passwd.splitlines()) == len(rows) + 1  # and the server's account
    assert not any(r["mqtt_password"] in passwd for r in issued[:50])  # only hashes are kept
    acl = (tmp_path / "acl").read_text()
    assert len(acl.splitlines()) < 15 and "pattern write cccd/v1/%u/checkin" in acl
    assert _registered(tmp_path) == len(rows)


@pytest.mark.parametrize(("row", "says"), [
    ("34x01!,desk-1", "line 3, column 'facility'"),
    ("00001,desk 1", "line 3, column 'reader'"),
    ("00001,desk-1", "line 3: reader 00001/desk-1 is already on line 2"),
    ("99999,desk-1", "not registered"),
])
def test_a_bad_row_refuses_the_whole_file_names_its_line_and_registers_nothing(tmp_path, row, says):
    config = _config(tmp_path)
    source = tmp_path / "readers.csv"
    source.write_text(f"facility,reader\n00001,desk-1\n{row}\n")
    code, err = _run("reader", "import", str(source), "--out", str(tmp_path / "cred.csv"), "--config", config)
    assert code == 1 and says in err, err
    assert _registered(tmp_path) == 0
    assert not (tmp_path / "cred.csv").exists()


def test_a_username_naming_another_reader_is_refused(tmp_path):
    config = _config(tmp_path)
    source = tmp_path / "readers.csv"
    source.write_text("facility,reader,username\n00001,desk-1,00002/desk-1\n")
    code, err = _run("reader", "import", str(source), "--out", str(tmp_path / "cred.csv"), "--config", config)
    assert code == 1 and "cannot be this reader's" in err
    code, err = _run("reader", "add", "--facility", "00001", "--reader", "desk-1", "--username", "00002/desk-1",
                     "--config", config)
    assert code == 1 and "not this reader's" in err


@pytest.mark.services
def test_imported_credentials_connect_and_publish_only_to_their_own_topics(tmp_path):
    config = _config(tmp_path)
    rows = [(f"{i:05d}", "desk-1") for i in range(20)]
    out = tmp_path / "credentials.csv"
    assert _run("reader", "import", str(_readers_csv(tmp_path / "readers.csv", rows)), "--out", str(out),
                "--config", config)[0] == 0
    issued = list(csv.DictReader(out.open()))
    with Mosquitto(port=free_port(), password_file=tmp_path / "passwd", acl_file=tmp_path / "acl") as broker:
        for cred in (issued[0], issued[-1]):
            codes = []
            done = threading.Event()
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cred["mqtt_username"], protocol=mqtt.MQTTv5)
            client.username_pw_set(cred["mqtt_username"], cred["mqtt_password"])
            client.on_publish = lambda _c, _u, _m, rc, _p, codes=codes, done=done: (codes.append(rc.value),
                                                                                   len(codes) == 2 and done.set())
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            client.publish(f"cccd/v1/{cred['facility']}/desk-1/checkin", b"{}", qos=1)
            client.publish("cccd/v1/99999/desk-1/checkin", b"{}", qos=1)
            assert done.wait(10), codes
            client.disconnect()
            client.loop_stop()
            assert codes[0] < 128 and codes[1] == 135, codes
