"""The native EC arithmetic (fastecdsa behind edge.icao.groups) gives the same
points as the Python reference on every curve of the table, including the
point at infinity, and refuses points that are not on the curve."""

from __future__ import annotations

import os

import pytest

from edge.icao.groups import ALL_CURVES, CURVES, GroupError, pure_add, pure_mul


@pytest.mark.parametrize("curve", ALL_CURVES, ids=lambda c: c.name)
def test_native_mul_and_add_match_the_python_reference(curve):
    g = curve.generator
    for _ in range(3):
        k1, k2 = (int.from_bytes(os.urandom(curve.size + 4), "big") for _ in range(2))
        p1, p2 = curve.mul(k1, g), curve.mul(k2, g)
        assert p1 == pure_mul(curve, k1, g) and p2 == pure_mul(curve, k2, g)
        assert curve.add(p1, p2) == pure_add(curve, p1, p2)
        assert curve.mul(k2, p1) == curve.mul(k1, p2)  # Diffie-Hellman commutes
    assert curve.mul(curve.n, g) is None and curve.mul(0, g) is None
    assert curve.add(g, (g[0], (-g[1]) % curve.p)) is None
    assert curve.add(None, g) == g and curve.mul(5, None) is None


def test_a_point_off_the_curve_is_a_group_error():
    curve = CURVES[13]
    with pytest.raises(GroupError):
        curve.mul(3, (curve.gx, curve.gy + 1))


def test_ec_maths_benchmark_runs_once():
    # Proves the benchmark works (one run each); never asserts times.
    from tests.chip_e2e.conftest import load_benchmark

    bench = load_benchmark("ec_maths")
    lines: list[str] = []
    results = bench.measure(runs=1, out=lines.append)
    assert {("fastecdsa", "brainpoolP256r1"), ("groups", "P-256"), ("pure", "brainpoolP224r1")} <= set(results)
