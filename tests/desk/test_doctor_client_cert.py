"""``cccd-edge doctor`` on a desk's TLS client certificate (``[mqtt] cert_file``/``key_file``): it
names an expired, a soon-expiring or another desk's certificate, a key that is not the
certificate's and a key that others can read; certificates made by the server's device CA."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from app.doctor import check_client_cert
from edge.config import EdgeSettings
from edge.settings_base import write_secret_file
from server.ca import DeviceCa, init_ca, issue_reader_cert, write_reader_files


@pytest.fixture(scope="module")
def device_ca(tmp_path_factory: pytest.TempPathFactory) -> DeviceCa:
    return init_ca(tmp_path_factory.mktemp("ca"))


def desk(tmp_path: Path, cert: Path | None, key: Path | None, reader: str = "desk-1") -> EdgeSettings:
    pseudonym = tmp_path / "pseudonym.key"
    if not pseudonym.exists():
        write_secret_file(pseudonym, os.urandom(32))
    mqtt: dict[str, object] = {"url": "mqtts://broker.example:8884"}
    if cert is not None:
        mqtt |= {"cert_file": str(cert), "key_file": str(key)}
    return EdgeSettings.load(None, facility_code="34001", reader_id=reader, pseudonym_key_file=pseudonym,
                             state_dir=tmp_path / "state", mqtt=mqtt)


def issued(device_ca: DeviceCa, where: Path, *, reader: str = "desk-1", days: int = 397,
           ago: dt.timedelta = dt.timedelta(0)) -> tuple[Path, Path]:
    cert = issue_reader_cert(device_ca, "34001", reader, days=days, now=dt.datetime.now(dt.UTC) - ago)
    return write_reader_files(cert, where)


def test_a_good_certificate_is_ok_with_its_days_left(device_ca, tmp_path):
    line = check_client_cert(desk(tmp_path, *issued(device_ca, tmp_path / "c")))
    assert line.status == "OK" and "34001/desk-1" in line.detail and "days left" in line.detail


def test_no_certificate_is_skipped(tmp_path):
    assert check_client_cert(desk(tmp_path, None, None)).status == "SKIP"


def test_an_expired_or_soon_expiring_certificate_is_named(device_ca, tmp_path):
    expired = check_client_cert(desk(tmp_path, *issued(device_ca, tmp_path / "old", days=1,
                                                      ago=dt.timedelta(days=2))))
    assert expired.status == "FAIL" and "EXPIRED" in expired.detail
    soon = check_client_cert(desk(tmp_path, *issued(device_ca, tmp_path / "soon", days=10)))
    assert soon.status == "WARN" and "renew" in soon.detail


def test_another_desks_certificate_a_foreign_key_and_a_shared_key_fail(device_ca, tmp_path):
    theirs = check_client_cert(desk(tmp_path, *issued(device_ca, tmp_path / "theirs", reader="desk-9")))
    assert theirs.status == "FAIL" and "34001/desk-1" in theirs.detail
    cert, _ = issued(device_ca, tmp_path / "a")
    _, other_key = issued(device_ca, tmp_path / "b")
    mismatch = check_client_cert(desk(tmp_path, cert, other_key))
    assert mismatch.status == "FAIL" and "is not the key of" in mismatch.detail
    cert, key = issued(device_ca, tmp_path / "shared")
    key.chmod(0o644)
    shared = check_client_cert(desk(tmp_path, cert, key))
    assert shared.status == "FAIL" and "readable by others" in shared.detail
    key.unlink()
    missing = check_client_cert(desk(tmp_path, cert, key))
    assert missing.status == "FAIL" and "not found" in missing.detail


def test_cccd_edge_run_refuses_a_client_key_others_can_read_in_one_line(device_ca, tmp_path):
    import subprocess
    import sys

    cert, key = issued(device_ca, tmp_path / "c")
    key.chmod(0o640)
    pseudonym = tmp_path / "pseudonym.key"
    write_secret_file(pseudonym, os.urandom(32))
    config = tmp_path / "edge.toml"
    config.write_text(f'facility_code = "34001"\nreader_id = "desk-1"\npseudonym_key_file = "{pseudonym}"\n'
                      f'state_dir = "{tmp_path / "state"}"\n[mqtt]\nurl = "mqtts://127.0.0.1:1"\n'
                      f'cert_file = "{cert}"\nkey_file = "{key}"\n[chip]\nenabled = false\n[screen]\nenabled = false\n')
    repo = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "app.cli", "run", "--config", str(config)], cwd=repo,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    assert f"client key file {key} is readable by others" in r.stderr and "Traceback" not in r.stderr
