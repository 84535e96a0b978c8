"""edge.trust stays pure: no reader, camera or MQTT libraries."""

from __future__ import annotations

import subprocess
import sys

from tests.trust.conftest import REPO


def test_importing_edge_trust_pulls_no_pyscard_cv2_or_paho():
    code = (
        "import sys, edge.trust, edge.trust.cli;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('smartcard','cv2','paho')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
