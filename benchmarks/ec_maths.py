"""PACE's elliptic-curve maths per implementation: the terminal side of one
generic-mapping run (5 scalar multiplications, 2 of them on a generator made
during the run, and 1 point addition), median milliseconds per run.

Candidates, side by side on the curves the product meets: brainpoolP256r1
(the CCCD's PACE parameters, id 13), P-256 (id 12) and brainpoolP224r1 (the
explicit-parameter curve of the BSI and JMRTD specimens' keys, id 11):

* ``pure``: :class:`edge.icao.groups.CurveParams` on Python ints (the code before);
* ``gmpy2``: the same code fed gmpy2 integers;
* ``python-ecdsa+gmpy2``: python-ecdsa's Jacobian points (it uses gmpy2 when installed);
* ``fastecdsa``: fastecdsa's built-in curve and points (native; every curve of the
  standardized PACE parameters is built in); ``fastecdsa (custom)``: the same with
  the curve given by its parameters (what any other curve gets);
* ``groups``: what the product runs now (:meth:`CurveParams.mul`/``add``).

    .venv/bin/python benchmarks/ec_maths.py [--runs 30]

Candidates that are not installed are skipped. Times are only meaningful on
the machine that ran them; a Raspberry Pi 4 is about 2.5-4x slower per core.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.icao.groups import CURVES, CurveParams  # noqa: E402

CURVE_IDS = {"brainpoolP256r1": 13, "P-256": 12, "brainpoolP224r1": 11}
Run = Callable[[], object]


def _scalars(curve: CurveParams, count: int) -> list[int]:
    return [int.from_bytes(os.urandom(curve.size + 8), "big") % (curve.n - 1) + 1 for _ in range(count)]


def _reference_run(curve: CurveParams, ks: list[int], peers: list[tuple[int, int]]) -> Run:
    """The Python double-and-add of edge.icao.groups on whatever integers it is given."""
    from edge.icao.groups import pure_add, pure_mul

    def run() -> object:
        g = curve.generator
        sk_map, s, sk_dh = ks
        pure_mul(curve, sk_map, g)
        h = pure_mul(curve, sk_map, peers[0])
        g_tilde = pure_add(curve, pure_mul(curve, s, g), h)
        pure_mul(curve, sk_dh, g_tilde)
        return pure_mul(curve, sk_dh, peers[1])

    return run


def _pure_python(curve: CurveParams, ks: list[int], peers: list[tuple[int, int]]) -> Run:
    return _reference_run(curve, ks, peers)


def _gmpy2(curve: CurveParams, ks: list[int], peers: list[tuple[int, int]]) -> Run:
    import gmpy2

    m = gmpy2.mpz
    fast = dataclasses.replace(curve, p=m(curve.p), a=m(curve.a), b=m(curve.b), gx=m(curve.gx), gy=m(curve.gy),
                               n=m(curve.n))
    return _reference_run(fast, [m(k) for k in ks], [(m(x), m(y)) for x, y in peers])


def _python_ecdsa(curve: CurveParams, ks: list[int], peers: list[tuple[int, int]]) -> Run:
    from ecdsa.ellipticcurve import CurveFp, PointJacobi

    c = CurveFp(curve.p, curve.a, curve.b, curve.h)
    g = PointJacobi(c, curve.gx, curve.gy, 1, curve.n, generator=True)
    pts = [PointJacobi(c, x, y, 1, curve.n) for x, y in peers]

    def run() -> object:
        sk_map, s, sk_dh = ks
        _ = (g * sk_map).x()
        h = pts[0] * sk_map
        g_tilde = PointJacobi.from_affine((g * s + h).to_affine())
        _ = (g_tilde * sk_dh).x()
        return (pts[1] * sk_dh).x()

    return run


def _fastecdsa(curve: CurveParams, ks: list[int], peers: list[tuple[int, int]], *, builtin: bool = True) -> Run:
    from fastecdsa import curve as fc
    from fastecdsa.point import Point

    named = {"secp256r1": fc.P256, "brainpoolP256r1": fc.brainpoolP256r1, "brainpoolP224r1": fc.brainpoolP224r1}
    c = named[curve.name] if builtin else fc.Curve(curve.name, curve.p, curve.a, curve.b, curve.n, curve.gx, curve.gy)
    g = Point(curve.gx, curve.gy, curve=c)
    pts = [Point(x, y, curve=c) for x, y in peers]

    def run() -> object:
        sk_map, s, sk_dh = ks
        _ = sk_map * g
        h = sk_map * pts[0]
        g_tilde = s * g + h
        _ = sk_dh * g_tilde
        return sk_dh * pts[1]

    return run


def _groups(curve: CurveParams, ks: list[int], peers: list[tuple[int, int]]) -> Run:
    def run() -> object:
        g = curve.generator
        sk_map, s, sk_dh = ks
        curve.mul(sk_map, g)
        h = curve.mul(sk_map, peers[0])
        g_tilde = curve.add(curve.mul(s, g), h)
        curve.mul(sk_dh, g_tilde)
        return curve.mul(sk_dh, peers[1])

    return run


IMPLEMENTATIONS: dict[str, Callable[[CurveParams, list[int], list[tuple[int, int]]], Run]] = {
    "pure": _pure_python,
    "gmpy2": _gmpy2,
    "python-ecdsa+gmpy2": _python_ecdsa,
    "fastecdsa": _fastecdsa,
    "fastecdsa (custom)": lambda c, k, p: _fastecdsa(c, k, p, builtin=False),
    "groups": _groups,
}


def median_ms(run: Run, runs: int) -> float:
    run()  # warm up (imports, tables)
    times = []
    for _ in range(runs):
        t = time.process_time()  # CPU time: the machine is shared, wall time would count the others
        run()
        times.append(time.process_time() - t)
    return statistics.median(times) * 1000


def measure(runs: int = 30, out: Callable[[str], None] = print) -> dict[tuple[str, str], float]:
    from edge.icao.groups import pure_mul

    results: dict[tuple[str, str], float] = {}
    out(f"PACE-GM terminal EC maths (5 scalar mults + 1 add), median CPU ms of {runs} runs")
    out(f"{'implementation':<20}" + "".join(f"{name:>17}" for name in CURVE_IDS))
    for impl, make in IMPLEMENTATIONS.items():
        row = []
        for name, pid in CURVE_IDS.items():
            curve = CURVES[pid]
            ks = _scalars(curve, 3)
            peers = []
            for k in _scalars(curve, 2):
                pt = pure_mul(curve, k, curve.generator)
                assert pt is not None
                peers.append(pt)
            try:
                run = make(curve, ks, peers)
            except ImportError:
                row.append("not installed")
                continue
            results[(impl, name)] = median_ms(run, runs)
            row.append(f"{results[(impl, name)]:.2f}")
        out(f"{impl:<20}" + "".join(f"{v:>17}" for v in row))
    return results


def full_read_cpu(runs: int = 10, out: Callable[[str], None] = print) -> dict[str, float]:
    """CPU seconds of one whole in-process read (PACE-CAN, all files, CA + AA, passive
    authentication) with the Python arithmetic (before) and the native one (after).
    Terminal and virtual card run in this process and do the same EC maths, so
    about half of the difference is the terminal's."""
    from unittest import mock

    from cryptography.hazmat.primitives.serialization import Encoding

    from edge.chip_reader import read_and_verify
    from edge.icao import access, groups
    from edge.trust.store import TrustStore
    from simulators.population import Population
    from simulators.vcard.cli import make_card
    from simulators.vcard.inprocess import InProcessTransport
    from simulators.vcard.lds_builder import build_chip_profile
    from simulators.vcard.pki import build_test_pki

    pki = build_test_pki(7)
    chip = build_chip_profile(Population(seed=7).citizen(0), pki=pki, seed=7)
    store = TrustStore.from_certificates([pki.csca_certificate.public_bytes(Encoding.DER)])
    keys = [access.key_from_can(chip.can)]

    def one() -> float:
        card = make_card(chip)[0]
        t = time.process_time()
        read_and_verify(InProcessTransport(card), keys, trust_store=store)
        return time.process_time() - t

    out_ms: dict[str, float] = {}
    with mock.patch.object(groups.CurveParams, "mul", groups.pure_mul), \
            mock.patch.object(groups.CurveParams, "add", groups.pure_add):
        out_ms["before (Python ints)"] = statistics.median(one() for _ in range(runs)) * 1000
    out_ms["after (fastecdsa)"] = statistics.median(one() for _ in range(runs)) * 1000
    out(f"\nCPU per whole in-process read (terminal + virtual card), median ms of {runs}")
    for label, ms in out_ms.items():
        out(f"{label:<22}{ms:>9.1f}")
    return out_ms


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    opts = p.parse_args(argv)
    measure(opts.runs)
    full_read_cpu(max(3, opts.runs // 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
