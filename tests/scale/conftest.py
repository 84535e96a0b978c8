"""A broker run from the shipped template (systemd/mosquitto-cccd.conf), with the password
and ACL files that ``server.brokerfiles`` writes, for the identity and ACL tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.brokerfiles import acl_text, mosquitto_hash, password_text, reader_username
from simulators.services import MOSQUITTO_CANDIDATES, find_program, free_port, render_shipped_config, wait_for_port
from simulators.tls import TlsFiles, make_device_pki

SERVER_USER, SERVER_PASSWORD = "cccd-server", "server-password-for-tests"
READERS = [("34001", "desk-1"), ("34001", "desk-2"), ("34002", "desk-1")]


def reader_password(facility: str, reader: str) -> str:
    return f"pw-{facility}-{reader}-for-tests"


@dataclass
class TemplateBroker:
    work: Path
    pki: TlsFiles
    tls_port: int  # the readers' listener
    local_port: int  # the server's listener
    proc: subprocess.Popen[bytes]


@pytest.fixture
def template_broker() -> Iterator[TemplateBroker]:
    # Not under pytest's private tmp folder: mosquitto drops to its own user and must reach it.
    work = Path(tempfile.mkdtemp(prefix="cccd-scale-broker-"))
    os.chmod(work, 0o777)
    pki = make_device_pki(work / "pki")
    os.chmod(work / "pki", 0o755)
    accounts = [(reader_username(f, r), mosquitto_hash(reader_password(f, r)), f, r) for f, r in READERS]
    (work / "passwd").write_text(password_text(accounts, (SERVER_USER, SERVER_PASSWORD)))
    (work / "acl").write_text(acl_text(accounts, SERVER_USER))
    for name in ("passwd", "acl"):
        os.chmod(work / name, 0o644)
    tls_port, local_port = free_port(), free_port()
    conf = render_shipped_config(work, ca_cert=pki.ca_cert, server_cert=pki.server_cert, server_key=pki.server_key,
                                 tls_port=tls_port, local_port=local_port)
    (work / "mosquitto.conf").write_text(conf + "\nlog_dest stderr\n")
    log = open(work / "log", "wb")  # closed below, after the broker
    proc = subprocess.Popen([find_program(MOSQUITTO_CANDIDATES, "mosquitto"), "-c", str(work / "mosquitto.conf")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(tls_port)
        wait_for_port(local_port)
        yield TemplateBroker(work, pki, tls_port, local_port, proc)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
