"""The systemd units pass `systemd-analyze verify` with no output at all.

An unknown key only warns (exit 0), so any output is a failure. ExecStart must exist on
the machine: the test points it at this checkout's installed console scripts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "systemd").glob("*.service"))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_unit_verifies_without_any_warning(unit, tmp_path):
    bindir = Path(sys.executable).parent
    text = unit.read_text().replace("/opt/cccd/venv/bin/", f"{bindir}/")
    copy = tmp_path / unit.name
    copy.write_text(text)
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                         capture_output=True, text=True, check=False)
    output = (run.stdout + run.stderr).strip()
    assert run.returncode == 0 and output == "", output


def test_edge_unit_is_type_notify_with_a_watchdog_and_hardening():
    text = (ROOT / "systemd" / "cccd-edge.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "StateDirectory=cccd-edge",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "DevicePolicy=closed",
                 "After=network-online.target pcscd.socket", "Wants=network-online.target pcscd.socket"):
        assert line in text, line


def test_the_split_server_units_run_one_role_each_migrate_first_and_never_beside_the_all_in_one_unit():
    api = (ROOT / "systemd" / "cccd-server-api.service").read_text()
    ingest = (ROOT / "systemd" / "cccd-server-ingest.service").read_text()
    assert "cccd-server serve --role api " in api and "cccd-server serve --role ingest " in ingest
    for text in (api, ingest):
        assert "Conflicts=cccd-server.service" in text  # two ingests of one account take each other's session
        for line in ("ProtectSystem=strict", "NoNewPrivileges=yes", "User=cccd-server", "Restart=on-failure"):
            assert line in text, line
    # the ingest migrates before it counts as started; the API starts after it: no migration race
    assert ingest.index("ExecStartPre=/opt/cccd/venv/bin/cccd-server migrate") < ingest.index("ExecStart=")
    assert "After=network-online.target postgresql.service cccd-server-ingest.service" in api
