"""Chip read cost per step: APDUs, bytes and time, through the real PC/SC stack.

Reads the virtual CCCD with ``edge.chip_reader.read_and_verify`` (PACE-CAN,
all files, Active + Chip Authentication, passive authentication) through a
real pcscd with vpcd (PcscdService + VpcdLink + PcscTransport), and in the same
run through the in-process transport as a baseline (the ratio shows what
pcscd + vpcd + pyscard add). Beside each file step: the minimum APDU count for
the same bytes at the card's largest Le (one SELECT plus one READ BINARY per
largest protected answer); protocol steps show the protocol's own count
(PACE-GM: MSE:Set AT + 4 GENERAL AUTHENTICATE + SELECT application; AA: 1;
CA with AES: MSE:Set AT + GENERAL AUTHENTICATE + SELECT/READ of the proof file).
With and without DG2 (the face image).

Then the same full read with DG2 through each reader profile of
:mod:`simulators.vcard.readers` (extended, short, pn532, lying-atr, flaky),
served through the real pcscd and vpcd: APDUs sent vs the minimum for those
bytes at the response size the reader carries, recoveries, time and level.

    .venv/bin/python benchmarks/chip_read.py [--iterations 10] [--profiles-only]

Needs root, pcscd and vsmartcard-vpcd; takes /tmp/cccd-pcscd.lock. Times are
medians over the iterations and only meaningful on the machine that ran them.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.chip_reader import ChipCheck, read_and_verify  # noqa: E402
from edge.icao import access  # noqa: E402
from edge.icao.lds.tags import file_name  # noqa: E402
from edge.icao.sm import max_plain_response  # noqa: E402
from edge.trust.store import TrustStore  # noqa: E402
from simulators.population import Population  # noqa: E402
from simulators.vcard.cli import make_card  # noqa: E402
from simulators.vcard.inprocess import InProcessTransport  # noqa: E402
from simulators.vcard.lds_builder import build_chip_profile  # noqa: E402
from simulators.vcard.pki import build_test_pki  # noqa: E402

PROTOCOL_MIN = {"access": 6, "active_authentication": 1, "chip_authentication": 4}
STEP_ORDER = ("card_access", "access", "EF.COM", "DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD",
              "chip_authentication", "active_authentication")


def _measure(read: Callable[[], ChipCheck], iterations: int) -> tuple[dict[str, dict[str, Any]], ChipCheck]:
    times: dict[str, list[float]] = {}
    last: ChipCheck | None = None
    for _ in range(iterations):
        last = read()
        assert last.trust.level.value == "chip_verified_clone_checked", last.trust.level
        for step, seconds in last.read.timings.items():
            times.setdefault(step, []).append(seconds)
    assert last is not None
    out = {step: {"ms": statistics.median(v) * 1000, **last.read.step_stats.get(step, {"apdus": 0, "bytes": 0})}
           for step, v in times.items()}
    return out, last


def _minimum(step: str, check: ChipCheck, plain_max: int) -> int | None:
    if step in PROTOCOL_MIN:
        return PROTOCOL_MIN[step]
    if step == "card_access":
        size = len(check.read.card_access or b"")
        return 1 + max(1, math.ceil(size / 65536))  # plain: one answer holds it
    for fid, data in check.read.files.items():
        if file_name(fid) == step:
            return 1 + max(1, math.ceil(len(data) / plain_max))
    return None


def run(iterations: int = 10, service: Any = None, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure and print the tables; ``service``: a running PcscdService to reuse (tests)."""
    from reader_drivers.pcsc import PcscTransport
    from simulators.services_pcsc import VPCD_READER_0, PcscdService

    profile, store, keys = _reading_setup()
    card = make_card(profile)[0]
    # The card's largest Le (extended length): the plain payload of the largest protected answer.
    plain_max = max_plain_response(card.max_response, 16)

    own = service is None
    svc = service or PcscdService().start()
    results: dict[str, Any] = {}
    link = _serve(card)
    try:
        for read_face in (True, False):
            def pcsc_read(read_face: bool = read_face) -> ChipCheck:
                with PcscTransport(VPCD_READER_0, timeout=10.0) as t:
                    return read_and_verify(t, keys, trust_store=store, read_face=read_face)

            def inproc_read(read_face: bool = read_face) -> ChipCheck:
                card.reset()
                return read_and_verify(InProcessTransport(card), keys, trust_store=store, read_face=read_face)

            pc, check = _measure(pcsc_read, iterations)
            ip, _ = _measure(inproc_read, iterations)
            label = "with DG2" if read_face else "without DG2"
            results[label] = {"pcscd": pc, "inprocess": ip}
            out(f"\nChip read {label}: PACE-CAN, CA + AA, passive auth; median of {iterations}; "
                f"largest Le gives {plain_max} plain bytes per READ BINARY")
            out(f"{'step':<22}{'APDUs':>6}{'min':>5}{'bytes':>8}{'pcscd ms':>10}{'in-proc ms':>11}{'ratio':>7}")
            steps = [s for s in STEP_ORDER if s in pc] + ["passive_authentication", "total"]
            for step in steps:
                p, i = pc[step], ip.get(step, {"ms": 0.0})
                mn = _minimum(step, check, plain_max)
                ratio = f"{p['ms'] / i['ms']:.1f}" if i["ms"] > 0 else "-"
                apdus = p["apdus"] if step not in ("total", "passive_authentication") else (
                    check.read.apdu_count if step == "total" else 0)
                nbytes = p["bytes"] if step != "total" else check.read.bytes_sent + check.read.bytes_received
                if step == "total":
                    mn = sum(m for s in STEP_ORDER if s in pc and (m := _minimum(s, check, plain_max)) is not None)
                out(f"{step:<22}{apdus:>6}{'' if mn is None else mn:>5}{nbytes:>8}"
                    f"{p['ms']:>10.2f}{i['ms']:>11.2f}{ratio:>7}")
    finally:
        link.stop()
        if own:
            svc.close()
    return results


PROFILE_ORDER = ("extended", "short", "pn532", "lying-atr", "flaky")


def minimum_apdus(check: ChipCheck) -> int:
    """The fewest APDUs for this reading at the response size the reader carried:
    per file one SELECT plus one READ BINARY per largest (protected) answer, PACE's
    6, CA's 4 and AA's 1."""
    read = check.read
    budget = read.response_budget
    plain = max_plain_response(budget, 16 if read.pace is not None else 8)
    total = 1 + max(1, math.ceil(len(read.card_access or b"") / budget))
    total += PROTOCOL_MIN["access"] if read.pace is not None else 4  # BAC: SELECT, GET CHALLENGE, EXT AUTH
    total += sum(1 + max(1, math.ceil(len(data) / plain)) for data in read.files.values())
    for outcome, step in ((read.chip_authentication, "chip_authentication"),
                          (read.active_authentication, "active_authentication")):
        if outcome is not None and outcome.performed:
            total += PROTOCOL_MIN[step]
    return total


def run_profiles(iterations: int = 5, service: Any = None, out: Callable[[str], None] = print,
                 profiles: tuple[str, ...] = PROFILE_ORDER) -> dict[str, dict[str, Any]]:
    """A full read with DG2 through each reader profile over pcscd + vpcd."""
    from reader_drivers.pcsc import PcscTransport
    from simulators.services_pcsc import VPCD_READER_0, PcscdService
    from simulators.vcard.readers import PROFILES, ProfiledCard

    chip, store, keys = _reading_setup()
    own = service is None
    svc = service or PcscdService().start()
    results: dict[str, dict[str, Any]] = {}
    out(f"\nFull read with DG2 per reader profile (pcscd + vpcd, PACE-CAN, CA + AA); median of {iterations}")
    out(f"{'profile':<11}{'APDUs':>6}{'min':>5}{'budget':>8}{'recov':>6}{'ms':>9}  level")
    try:
        for name in profiles:
            times: list[float] = []
            last: ChipCheck | None = None
            recoveries = 0
            for i in range(iterations):
                card = ProfiledCard(make_card(chip)[0], PROFILES[name], seed=i)
                link = _serve(card)
                try:
                    with PcscTransport(VPCD_READER_0, timeout=10.0) as t:
                        last = read_and_verify(t, keys, trust_store=store)
                finally:
                    link.stop()
                times.append(last.read.timings["total"])
                recoveries += len(last.read.recoveries)
            assert last is not None
            row = {"apdus": last.read.apdu_count, "minimum": minimum_apdus(last),
                   "budget": last.read.response_budget, "recoveries": recoveries / iterations,
                   "ms": statistics.median(times) * 1000, "level": last.trust.level.value,
                   "size_history": last.read.size_history,
                   "recovered_steps": [r.step for r in last.read.recoveries]}
            results[name] = row
            out(f"{name:<11}{row['apdus']:>6}{row['minimum']:>5}{row['budget']:>8}{row['recoveries']:>6.1f}"
                f"{row['ms']:>9.1f}  {row['level']}")
    finally:
        if own:
            svc.close()
    return results


def terminal_cpu(iterations: int = 5, service: Any = None, out: Callable[[str], None] = print) -> dict[str, float]:
    """The terminal's own CPU per full read with DG2 through pcscd + vpcd: the reading
    thread's CPU time (the virtual card answers from vpcd's link thread), with PACE's EC
    maths in Python integers (before) and native (after)."""
    import time
    from unittest import mock

    from edge.icao import groups
    from reader_drivers.pcsc import PcscTransport
    from simulators.services_pcsc import VPCD_READER_0, PcscdService

    chip, store, keys = _reading_setup()
    card = make_card(chip)[0]
    own = service is None
    svc = service or PcscdService().start()
    results: dict[str, float] = {}
    link = _serve(card)
    try:

        def one() -> float:
            with PcscTransport(VPCD_READER_0, timeout=10.0) as t:
                start = time.thread_time()
                read_and_verify(t, keys, trust_store=store)
                return time.thread_time() - start

        for label, patched in (("before (Python ints)", True), ("after (fastecdsa)", False)):
            if patched:
                # The card side (another thread) is slowed alike; only this thread's CPU is counted.
                with mock.patch.object(groups.CurveParams, "mul", groups.pure_mul), \
                        mock.patch.object(groups.CurveParams, "add", groups.pure_add):
                    results[label] = statistics.median(one() for _ in range(iterations)) * 1000
            else:
                results[label] = statistics.median(one() for _ in range(iterations)) * 1000
    finally:
        link.stop()
        if own:
            svc.close()
    out(f"\nTerminal CPU per full read with DG2 (reading thread, pcscd + vpcd), median ms of {iterations}")
    for label, ms in results.items():
        out(f"{label:<22}{ms:>9.1f}")
    return results


def _serve(card: Any) -> Any:
    """Put ``card`` on vpcd reader 0 (after the previous one left) and wait for pcscd to see it."""
    from reader_drivers.pcsc import wait_for_card
    from simulators.services_pcsc import VPCD_READER_0
    from simulators.vcard.vpcd import VpcdLink

    if not wait_for_card(VPCD_READER_0, present=False):  # a card served before must be gone first
        raise RuntimeError("the vpcd reader never became empty")
    link = VpcdLink(card).start()
    if not wait_for_card(VPCD_READER_0, present=True):
        link.stop()
        raise RuntimeError("pcscd never saw the virtual card")
    return link


def _reading_setup() -> tuple[Any, TrustStore, list[access.AccessKey]]:
    """The benchmark's card (synthetic citizen, seed 7), its trust store and the CAN key."""
    pki = build_test_pki(7)
    chip = build_chip_profile(Population(seed=7).citizen(0), pki=pki, seed=7)
    store = TrustStore.from_certificates([pki.csca_certificate.public_bytes(_der())])
    return chip, store, [access.key_from_can(chip.can)]


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--profiles-only", action="store_true", help="only the per-reader-profile table")
    opts = p.parse_args(argv)
    if not opts.profiles_only:
        run(opts.iterations)
    run_profiles(opts.iterations)
    if not opts.profiles_only:
        terminal_cpu(opts.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
