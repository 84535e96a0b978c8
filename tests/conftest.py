"""Fixtures shared by every test folder; the run-wide rules are in tests/suite_rules.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from simulators.services_pcsc import PcscdService, ServiceUnavailable

# pytester: the suite's own checks run inner pytest sessions.
pytest_plugins = ["pytester", "tests.suite_rules"]


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscdService]:
    """A real pcscd with vpcd's two virtual readers for one test module, private to this run
    (see simulators.services_pcsc). Skips when it cannot start (fails under CI).
    VCARD_PCSCD_LOG=FILE keeps pcscd's debug log there."""
    debug_log = os.environ.get("VCARD_PCSCD_LOG")
    service = PcscdService(log_path=debug_log or tmp_path_factory.mktemp("pcscd") / "pcscd.log",
                           debug=bool(debug_log))
    try:
        service.start()
    except ServiceUnavailable as exc:
        service.close()
        pytest.skip(f"pcscd/vpcd not usable: {exc}")
    yield service
    service.close()


