"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory):
    """A real pcscd with vpcd's virtual readers for one test module (it holds the machine-wide
    lock, since vpcd's ports are fixed). Skips when pcscd or vpcd is not installed.
    VCARD_PCSCD_LOG=FILE keeps pcscd's debug log there."""
    from simulators.services_pcsc import PcscdService, ServiceUnavailable

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
