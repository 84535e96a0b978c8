"""The broker's open-files drop-in: systemd accepts it and it raises the limit past a
national fleet (the stock soft limit of 1024 stopped the broker at about 1,016 readers)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DROP_IN = ROOT / "systemd" / "mosquitto.service.d" / "cccd-scale.conf"
NATIONAL_FLEET = 40_000


def test_the_mosquitto_drop_in_raises_open_files_above_a_national_fleet():
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(DROP_IN.read_text())
    assert parser.sections() == ["Service"]
    limit = parser["Service"]["LimitNOFILE"]
    soft, _, hard = limit.partition(":")
    assert int(soft) > NATIONAL_FLEET * 2 and int(hard or soft) >= int(soft)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_mosquitto_drop_in_verifies_without_any_warning(tmp_path):
    assert _verify(tmp_path / "shipped", DROP_IN.read_text()) == ""
    # the check reads the drop-in at all: a misspelt key in it is reported
    assert "Unknown key" in _verify(tmp_path / "broken", DROP_IN.read_text().replace("LimitNOFILE", "LimitNOFILES"))


def _verify(directory: Path, drop_in: str) -> str:
    """systemd-analyze's output for a stand-in mosquitto unit with this drop-in beside it,
    found through SYSTEMD_UNIT_PATH as systemd finds /etc/systemd/system's."""
    drop_dir = directory / "mosquitto.service.d"
    drop_dir.mkdir(parents=True)
    (directory / "mosquitto.service").write_text("[Unit]\nDescription=broker\n[Service]\nExecStart=/bin/true\n")
    (drop_dir / DROP_IN.name).write_text(drop_in)
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", str(directory / "mosquitto.service")],
                         check=False, capture_output=True, text=True,
                         env={**os.environ, "SYSTEMD_UNIT_PATH": f"{directory}:"})
    return (run.stdout + run.stderr).strip()
