"""The README's demo command: it runs, prints where to look, stores check-ins, and stops cleanly."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.services


def test_demo_runs_prints_where_to_look_and_stops_cleanly(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "simulators.cli", "demo", "--duration", "6", "--interval", "0.5",
         "--state-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    for label in ("Desk screen", "Dashboard", "Server API", "Read token", "MQTT broker"):
        assert label in out
    stored = [int(m) for m in re.findall(r"(\d+) stored by the server", out)]
    assert stored and stored[-1] > 0
    assert "Demo stopped after" in out
