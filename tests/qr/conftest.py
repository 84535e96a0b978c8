"""Shared fixtures for the QR tests: test data location, small synthetic frames."""

from __future__ import annotations

import cv2
import pytest

from simulators.qr_testdata import testdata_root

cv2.setNumThreads(1)  # the machine is shared: keep the tests on one core


@pytest.fixture(scope="session")
def zxing_samples_dir():
    path = testdata_root() / "qr" / "zxing-cpp"
    if not path.is_dir():
        pytest.skip(f"QR test data not found at {path} (set CCCD_TESTDATA)")
    return path
