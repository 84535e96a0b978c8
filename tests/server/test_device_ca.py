"""The device CA's commands (``cccd-server ca init|crl``, ``reader add --cert``, ``reader revoke``)
without a broker: what they write, with which modes and names, and what they refuse without
changing anything. The broker's side is tests/scale/test_reader_certs.py."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from contract.settings import MqttSettings
from server.ca import CaError, init_ca, issue_reader_cert, load_ca
from server.cli import main as server_cli


class Host:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "server.sqlite"
        self.config = root / "server.toml"
        self.config.write_text(
            f'database_url = "sqlite:///{self.db}"\n'
            '[mqtt]\nusername = "cccd-server"\npassword = "server-password-0123456789"\n'
            '[api]\nread_tokens = ["read-token-Zq8x1Lm0Pw7Rt4"]\n'
            f'[broker_files]\npassword_file = "{root}/passwd"\nacl_file = "{root}/acl"\n'
            f'[device_ca]\ndirectory = "{root}/ca"\nbroker_ca_file = "{root}/device-ca.crt"\n'
            f'crl_file = "{root}/crl.pem"\ncert_days = 90\n')
        self.config.chmod(0o600)
        csv = root / "facilities.csv"
        csv.write_text("code,name,type,province,district,commune\n34001,BV A,hospital,Thái Bình,Vũ Thư,\n")
        assert self.cli("facility", "import", str(csv))[0] == 0

    def cli(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = server_cli([*args, "--config", str(self.config)])
        return code, out.getvalue(), err.getvalue()

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as conn:
            return list(conn.execute(sql))


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_ca_init_writes_a_private_key_a_ca_certificate_its_broker_copy_and_an_empty_crl(host):
    code, out, _ = host.cli("ca", "init")
    assert code == 0, out
    assert (host.root / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate((host.root / "ca" / "ca.crt").read_bytes())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (host.root / "device-ca.crt").read_bytes() == (host.root / "ca" / "ca.crt").read_bytes()
    crl = x509.load_pem_x509_crl((host.root / "crl.pem").read_bytes())
    assert len(crl) == 0 and crl.is_signature_valid(cert.public_key())
    assert crl.next_update_utc == cert.not_valid_after_utc  # never stale before the CA itself
    key_before = (host.root / "ca" / "ca.key").read_bytes()
    code, _, err = host.cli("ca", "init")
    assert code == 1 and "exists already" in err
    assert (host.root / "ca" / "ca.key").read_bytes() == key_before


def test_a_shared_ca_key_is_refused_by_name(host, tmp_path):
    init_ca(tmp_path / "ca2")
    (tmp_path / "ca2" / "ca.key").chmod(0o644)
    with pytest.raises(CaError, match="readable by others; run: chmod 600"):
        load_ca(tmp_path / "ca2")
    host.cli("ca", "init")
    (host.root / "ca" / "ca.key").chmod(0o640)
    code, _, err = host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert",
                            "--cert-out", str(host.root / "out"))
    assert code == 1 and "readable by others" in err
    assert host.rows("SELECT * FROM reader") == [] and not (host.root / "out").exists()


def test_reader_add_cert_issues_the_readers_own_name_records_the_serial_and_drops_its_password(host):
    host.cli("ca", "init")
    assert host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1")[0] == 0  # a password first
    assert "34001/desk-1:" in (host.root / "passwd").read_text()
    code, out, err = host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert",
                              "--cert-out", str(host.root / "out"))
    assert code == 0, err
    issued = json.loads(out)
    assert issued["mqtt_username"] == "34001/desk-1" and "mqtt_password" not in issued
    cert = x509.load_pem_x509_certificate((host.root / "out" / "client.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "34001/desk-1"
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH])
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=90) <= lifetime <= dt.timedelta(days=90, minutes=10)  # [device_ca] cert_days
    assert (host.root / "out" / "client.key").stat().st_mode & 0o777 == 0o600
    assert format(cert.serial_number, "x") == issued["cert_serial"]
    assert host.rows("SELECT serial, common_name, revoked_at FROM reader_cert") == [
        (issued["cert_serial"], "34001/desk-1", None)]
    assert "34001/desk-1:" not in (host.root / "passwd").read_text()  # certificate only, now
    cert.verify_directly_issued_by(load_ca(host.root / "ca").cert)


def test_reader_add_cert_refuses_before_changing_anything(host):
    out = host.root / "out"
    code, _, err = host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert", "--cert-out",
                            str(out))
    assert code == 1 and "run cccd-server ca init" in err  # no CA yet
    host.cli("ca", "init")
    out.mkdir()
    (out / "client.key").write_text("an earlier desk's key")
    code, _, err = host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert", "--cert-out",
                            str(out))
    assert code == 1 and "never overwritten" in err
    assert (out / "client.key").read_text() == "an earlier desk's key"
    code, _, err = host.cli("reader", "add", "--facility", "34999", "--reader", "desk-1", "--cert", "--cert-out",
                            str(host.root / "elsewhere"))
    assert code == 1 and "not registered" in err and not (host.root / "elsewhere").exists()
    code, _, err = host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert",
                            "--username", "cccd-server", "--cert-out", str(host.root / "elsewhere"))
    assert code == 2 and "reader's own '34001/desk-1'" in err
    assert host.rows("SELECT * FROM reader") == [] and host.rows("SELECT * FROM reader_cert") == []


def test_reader_revoke_puts_the_serials_on_the_crl_and_refuses_an_unknown_one(host):
    host.cli("ca", "init")
    serials = []
    for n in (1, 2):
        _, out, _ = host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert",
                             "--cert-out", str(host.root / f"out{n}"))
        serials.append(json.loads(out)["cert_serial"])
    code, _, err = host.cli("reader", "revoke", "--facility", "34001", "--reader", "desk-1", "--serial", "abc123")
    assert code == 1 and "no unrevoked certificate" in err
    code, _, err = host.cli("reader", "revoke", "--facility", "34001", "--reader", "desk-1", "--serial", "xyz")
    assert code == 1 and "not hexadecimal" in err
    as_openssl_prints = "0" + serials[0].upper()  # openssl x509 -serial: upper case, a leading zero may be there
    code, out, _ = host.cli("reader", "revoke", "--facility", "34001", "--reader", "desk-1", "--serial",
                            as_openssl_prints)
    assert code == 0 and json.loads(out)["revoked"] == [serials[0]]
    crl = x509.load_pem_x509_crl((host.root / "crl.pem").read_bytes())
    assert [format(r.serial_number, "x") for r in crl] == [serials[0]]  # the renewed one still works
    assert crl.is_signature_valid(load_ca(host.root / "ca").cert.public_key())
    code, _, err = host.cli("reader", "revoke", "--facility", "34001", "--reader", "nobody")
    assert code == 1 and "not registered" in err
    (host.root / "crl.pem").unlink()
    assert host.cli("ca", "crl")[0] == 0  # rewritten from the registry
    assert [format(r.serial_number, "x") for r in x509.load_pem_x509_crl((host.root / "crl.pem").read_bytes())] \
        == [serials[0]]


def test_a_certificate_never_outlives_its_ca_and_its_validity_is_bounded(tmp_path):
    ca = init_ca(tmp_path / "ca", days=10)
    assert issue_reader_cert(ca, "34001", "desk-1", days=397).not_after == ca.cert.not_valid_after_utc
    for days in (0, 826):
        with pytest.raises(CaError, match="1 to 825 days"):
            issue_reader_cert(ca, "34001", "desk-1", days=days)
    with pytest.raises(CaError, match="bad facility code or reader id"):
        issue_reader_cert(ca, "34001", "desk/1")


def test_the_desks_client_certificate_needs_its_key_and_tls():
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        MqttSettings(url="mqtts://broker:8884", cert_file=Path("c.crt"))
    with pytest.raises(ValueError, match="needs an mqtts:// url"):
        MqttSettings(url="mqtt://broker:1883", cert_file=Path("c.crt"), key_file=Path("c.key"))
    assert MqttSettings(url="mqtts://broker:8884", cert_file=Path("c.crt"), key_file=Path("c.key")).tls


def test_reader_import_with_cert_out_issues_every_reader_a_certificate_or_none(host):
    host.cli("ca", "init")
    readers = host.root / "readers.csv"
    readers.write_text("facility,reader\n" + "".join(f"34001,desk-{n}\n" for n in range(200)))
    code, _, err = host.cli("reader", "import", str(readers), "--out", str(host.root / "issued.csv"),
                            "--cert-out", str(host.root / "certs"))
    assert code == 0, err
    rows = (host.root / "issued.csv").read_text().splitlines()
    assert rows[0] == "facility,reader,mqtt_username,cert_serial,not_after,cert_file,key_file" and len(rows) == 201
    assert (host.root / "issued.csv").stat().st_mode & 0o777 == 0o600
    assert host.rows("SELECT count(DISTINCT serial) FROM reader_cert") == [(200,)]
    assert host.rows("SELECT count(*) FROM reader WHERE password_hash IS NULL") == [(200,)]
    cert = x509.load_pem_x509_certificate((host.root / "certs" / "34001-desk-7" / "client.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "34001/desk-7"
    assert (host.root / "certs" / "34001-desk-7" / "client.key").stat().st_mode & 0o777 == 0o600
    # A row with a username of its own cannot carry a certificate: the whole file is refused.
    other = host.root / "more.csv"
    other.write_text("facility,reader,username\n34001,desk-a,\n34001,desk-b,legacy-b\n")
    code, _, err = host.cli("reader", "import", str(other), "--out", str(host.root / "more-issued.csv"),
                            "--cert-out", str(host.root / "certs"))
    assert code == 1 and "line 3" in err and "reader's own '34001/desk-b'" in err
    assert not (host.root / "more-issued.csv").exists() and not (host.root / "certs" / "34001-desk-a").exists()
    assert host.rows("SELECT count(*) FROM reader") == [(200,)]


def test_a_revocation_the_broker_cannot_read_and_a_stray_cert_out_are_refused(tmp_path):
    host = Host(tmp_path)
    host.config.write_text(host.config.read_text().replace(f'crl_file = "{tmp_path}/crl.pem"\n', ""))
    code, _, err = host.cli("ca", "init")
    assert code == 0 and "set [device_ca] broker_ca_file and crl_file" in err
    host.cli("reader", "add", "--facility", "34001", "--reader", "desk-1", "--cert", "--cert-out",
             str(tmp_path / "out"))
    code, _, err = host.cli("reader", "revoke", "--facility", "34001", "--reader", "desk-1")
    assert code == 2 and "set [device_ca] crl_file" in err
    assert host.rows("SELECT count(*) FROM reader_cert WHERE revoked_at IS NULL") == [(1,)]  # nothing changed
    code, _, err = host.cli("reader", "add", "--facility", "34001", "--reader", "desk-2", "--cert-out",
                            str(tmp_path / "out2"))
    assert code == 2 and "--cert-out goes with --cert" in err


def test_the_device_ca_loads_cryptography_and_no_desk_code():
    import subprocess
    import sys

    from tests.contract.test_import_boundary import FORBIDDEN

    probe = ("import json, sys, server.ca, server.cli, server.app\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert loaded & set(FORBIDDEN) == {"cryptography"}


def test_the_certificate_record_on_sqlite_and_postgresql(database_url, tmp_path):
    from server.ca import record_certs, revoke_certs, revoked_serials
    from server.db import init_db, make_engine
    from server.store import EventStore

    engine = make_engine(database_url)
    init_db(engine)
    store = EventStore(engine)
    store.import_facilities("code,name,type,province,district,commune\n34001,BV A,hospital,P,D,\n")
    store.add_reader("34001", "desk-1", "34001/desk-1", None)
    ca = init_ca(tmp_path / "ca")
    old = issue_reader_cert(ca, "34001", "desk-1", days=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    current = [issue_reader_cert(ca, "34001", "desk-1") for _ in range(2)]
    record_certs(engine, [("34001", "desk-1", c) for c in (old, *current)])
    assert sorted(revoke_certs(engine, "34001", "desk-1")) == sorted(c.serial_hex for c in (old, *current))
    assert revoke_certs(engine, "34001", "desk-1") == []  # already revoked: nothing new
    # The expired one is left off the CRL: the broker refuses it anyway.
    assert sorted(s for s, _ in revoked_serials(engine)) == sorted(c.serial_hex for c in current)
    engine.dispose()
