"""QR decode benchmark: pyzbar, OpenCV, zxing-cpp and the pipeline, same images, one run.

Usage (from the repository root)::

    python benchmarks/qr_decode.py                 # full run (several minutes)
    python benchmarks/qr_decode.py --synthetic 18 --camera 12 --real-limit 20 --frames 2   # quick look

Every decoder sees the same decoded-in-memory images (file reading is not timed), on one
core (cv2.setNumThreads(1) and the process pinned to one CPU where the OS allows). Times
are the decoding thread's CPU time (``time.thread_time``): on a machine shared with other
work, wall-clock time mostly measures the wait for the CPU; the wall-clock figures are
printed below the table, with the load average. A
result counts when one decoded payload is the expected one (see
``simulators.qr_testdata.matches``; synthetic cards: the exact UTF-8 bytes of the payload).

Rows: each source of the real photographs, then the tuned and the held-out sources
(``simulators.qr_testdata.HELD_OUT_SOURCES``: never used to tune the pipeline); each
class of the drawn frames (:mod:`simulators.qr_cards`) and of the camera-model frames
(:mod:`simulators.qr_camera_model`), generated with ``--seed`` (917 by default: a seed no
tuning used; tuning used camera seeds 1 and 2, card seeds 2026, 5, 11 and the tests');
totals; then ms per full frame (1280x720 and 1920x1080) with one card in view and with
none. Decoders: pyzbar as most projects call it, OpenCV's QRCodeDetector, zxing-cpp with
the options of the pipeline's first stage, the pipeline, and the pipeline as the live
camera runs it (per-frame budget). The census columns count, for the pipeline, the
images where it returned less than zxing-cpp and the images with a wrong text (both
must be 0).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.domain.qr import parse_qr
from reader_drivers.qr.camera import LIVE_FRAME_BUDGET_MS
from reader_drivers.qr.decode import (
    DecodedSymbol,
    QrDecoder,
    decode_first_stage,
    decode_opencv,
    decode_pyzbar,
    strict_utf8,
)
from simulators.qr_camera_model import CameraFrameGenerator
from simulators.qr_cards import CardFrameGenerator
from simulators.qr_testdata import is_wrong, matches, real_samples

LIVE = f"live {LIVE_FRAME_BUDGET_MS:g}ms"
DECODERS = ("pyzbar", "opencv", "zxing", "pipeline", LIVE)
REPORT_SEED = 917  # never used while tuning (see the module docstring)


@dataclass
class Cell:
    ok: int = 0
    n: int = 0
    ms: list[float] = field(default_factory=list)  # CPU time of the decoding thread
    wall_ms: list[float] = field(default_factory=list)

    def add(self, ok: bool, ms: float, wall_ms: float) -> None:
        self.ok += ok
        self.n += 1
        self.ms.append(ms)
        self.wall_ms.append(wall_ms)

    @property
    def rate(self) -> float:
        return self.ok / self.n if self.n else 0.0

    @property
    def mean(self) -> float:
        return statistics.fmean(self.ms) if self.ms else 0.0

    @property
    def p95(self) -> float:
        return _p95(self.ms)


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class Census:
    less: int = 0  # images where the pipeline returned less than zxing-cpp
    wrong: int = 0  # images where the pipeline returned a wrong text
    names: list[str] = field(default_factory=list)


@dataclass
class Report:
    rows: dict[str, dict[str, Cell]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # row -> real | split | drawn | camera | total | frame
    census: dict[str, Census] = field(default_factory=dict)
    names_checked: int = 0
    names_intact: int = 0
    pyzbar_garbled: int = 0
    seed: int = REPORT_SEED
    load: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load average at the start and the end

    def cell(self, row: str, decoder: str, kind: str) -> Cell:
        self.kinds.setdefault(row, kind)
        return self.rows.setdefault(row, {d: Cell() for d in DECODERS})[decoder]

    def pipeline_wins(self, row: str) -> bool:
        cells = self.rows[row]
        ours = ("pipeline", LIVE)
        return all(cells[o].ok >= cells[d].ok for o in ours for d in DECODERS if d not in ours)


def _pin_one_core() -> None:
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass


def _decoders() -> dict[str, Callable[[np.ndarray], list[DecodedSymbol]]]:
    return {
        "pyzbar": decode_pyzbar,
        "opencv": decode_opencv,
        "zxing": decode_first_stage,
        "pipeline": QrDecoder().decode,
        # what the camera source runs: the same pipeline with the live budget per frame
        LIVE: QrDecoder(budget_ms=LIVE_FRAME_BUDGET_MS).decode,
    }


def _timed(
    fn: Callable[[np.ndarray], list[DecodedSymbol]], image: np.ndarray
) -> tuple[list[bytes], float, float]:
    """Payloads, CPU ms (this thread's: what the decode costs, whatever else runs on the
    shared machine) and wall ms."""
    start, cpu = time.perf_counter(), time.thread_time()
    symbols = fn(image)
    return [s.data for s in symbols], (time.thread_time() - cpu) * 1000.0, (time.perf_counter() - start) * 1000.0


def _measure(
    report: Report,
    decoders: dict[str, Callable[[np.ndarray], list[DecodedSymbol]]],
    image: np.ndarray,
    rows: list[tuple[str, str]],
    ok_for: Callable[[list[bytes]], bool],
    wrong_for: Callable[[bytes], bool],
    name: str,
) -> dict[str, list[bytes]]:
    """Every decoder on ``image``; each row in ``rows`` (row, kind) gets the result; the
    census rows get the pipeline's comparison with zxing-cpp."""
    got: dict[str, list[bytes]] = {}
    for decoder, fn in decoders.items():
        payloads, ms, wall_ms = _timed(fn, image)
        got[decoder] = payloads
        for row, kind in rows:
            report.cell(row, decoder, kind).add(ok_for(payloads), ms, wall_ms)
    for row, _ in rows:
        census = report.census.setdefault(row, Census())
        for ours in ("pipeline", LIVE):
            less = not set(got["zxing"]) <= set(got[ours])
            wrong = any(wrong_for(p) for p in got[ours])
            census.less += less
            census.wrong += wrong
            if (less or wrong) and name not in census.names:
                census.names.append(name)
    return got


def run(
    *,
    synthetic: int = 180,
    camera: int = 240,
    real_limit: int | None = None,
    frames: int = 12,
    seed: int = REPORT_SEED,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run the benchmark and return the report (see module docstring)."""
    _pin_one_core()
    decoders = _decoders()
    report = Report(seed=seed)
    load_start = os.getloadavg()[0]

    # Warm-up: first calls load libraries and allocate.
    warm = np.full((64, 64, 3), 255, np.uint8)
    for fn in decoders.values():
        fn(warm)

    # -- real photographs, per source, per split
    samples = real_samples()
    if real_limit is not None:
        samples = samples[:real_limit]
    for sample in samples:
        image = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        split = "real: held-out sources" if sample.held_out else "real: tuned sources"
        rows = [(sample.source + (" (held out)" if sample.held_out else ""), "real"), (split, "split"),
                ("real: all", "total")]
        _measure(report, decoders, image, rows, functools.partial(matches, sample),
                 functools.partial(is_wrong, sample), sample.name)
    if progress:
        progress(f"real images: {len(samples)}")

    # -- drawn cards, per degradation class (1280x720)
    generator = CardFrameGenerator(seed)
    for index in range(synthetic):
        frame = generator.frame(index)
        assert frame.payload is not None
        _measure_card(report, decoders, frame.image, frame.payload, frame.full_name, "drawn", frame.degradation,
                      index)
    if progress:
        progress(f"drawn frames: {synthetic}")

    # -- camera-model frames, per class (1280x720)
    cameras = CameraFrameGenerator(seed)
    for index in range(camera):
        cframe = cameras.frame(index)
        _measure_card(report, decoders, cframe.image, cframe.payload, cframe.full_name, "camera",
                      cframe.degradation, index)
    if progress:
        progress(f"camera-model frames: {camera}")

    # -- full frames: 1920x1080 with a card; both sizes with none
    big = CardFrameGenerator(seed + 1, frame_size=(1920, 1080))
    for index in range(frames):
        frame = big.frame(index)
        assert frame.payload is not None
        expected = frame.payload.encode("utf-8")
        _measure(report, decoders, frame.image, [("frame 1920x1080, one card", "frame")],
                 functools.partial(_has, expected), functools.partial(_differs, expected), f"big/{index}")
    for size in ((1280, 720), (1920, 1080)):
        empty_gen = CardFrameGenerator(seed + 2, frame_size=size)
        for index in range(max(3, frames // 2)):
            image = empty_gen.empty_frame(index).image
            # no card: "ok" means no false payload
            _measure(report, decoders, image, [(f"frame {size[0]}x{size[1]}, no card", "frame")],
                     _nothing, _always, f"empty/{size[0]}/{index}")
    report.load = (load_start, os.getloadavg()[0])
    return report


def _measure_card(
    report: Report,
    decoders: dict[str, Callable[[np.ndarray], list[DecodedSymbol]]],
    image: np.ndarray,
    payload: str,
    full_name: str | None,
    generator: str,
    degradation: str,
    index: int,
) -> None:
    """One synthetic 1280x720 card frame: its class row, its generator's total, the frame row."""
    expected = payload.encode("utf-8")
    rows = [(f"{generator}: {degradation}", generator), (f"{generator}: all", "total"),
            ("frame 1280x720, one card", "frame")]
    got = _measure(report, decoders, image, rows, functools.partial(_has, expected),
                   functools.partial(_differs, expected), f"{generator}/{index}")
    for data in got["pipeline"]:
        _check_name(report, data, full_name)
    if generator == "drawn" and got["pyzbar"] and expected not in got["pyzbar"]:  # the drawn set's old figure
        report.pyzbar_garbled += any(_garbled_version_of(p, expected) for p in got["pyzbar"])


def _has(expected: bytes, payloads: list[bytes]) -> bool:
    return expected in payloads


def _differs(expected: bytes, payload: bytes) -> bool:
    return payload != expected


def _nothing(payloads: list[bytes]) -> bool:
    return not payloads


def _always(payload: bytes) -> bool:  # on an empty desk any payload is a wrong one
    return True


def _check_name(report: Report, data: bytes, full_name: str | None) -> None:
    text = strict_utf8(data)
    report.names_checked += 1
    if text is None or full_name is None:
        return
    try:
        record = parse_qr(text)
    except Exception:  # a wrong payload is counted as a broken name
        return
    report.names_intact += record.full_name == full_name


def _garbled_version_of(payload: bytes, expected: bytes) -> bool:
    """pyzbar returned the right symbol but its charset guess mangled the text."""
    return payload != expected and payload[:13] == expected[:13]  # same ID number, text differs


def format_report(report: Report) -> str:
    header = (f"{'set / class':30s} {'n':>4s} " + " ".join(f"{d:>22s}" for d in DECODERS)
              + "  ours>=all  less wrong")
    sub = f"{'':30s} {'':>4s} " + " ".join(f"{'rate  mean   p95':>22s}" for _ in DECODERS)
    lines = [header, sub, "-" * len(header)]
    for kind in ("real", "split", "drawn", "camera", "total", "frame"):
        for row, cells in report.rows.items():
            if report.kinds[row] != kind:
                continue
            n = cells["pipeline"].n
            parts = [f"{c.rate * 100:5.1f}% {c.mean:6.1f} {c.p95:6.1f}ms".rjust(22) for c in cells.values()]
            verdict = "yes" if report.pipeline_wins(row) else "NO"
            if kind == "frame" and "no card" in row:
                verdict = "(no false)"
            census = report.census.get(row, Census())
            lines.append(f"{row:30s} {n:4d} " + " ".join(parts) + f"  {verdict:9s} {census.less:4d} {census.wrong:5d}")
        lines.append("")
    everything = Census()
    for row, kind in report.kinds.items():
        if kind in ("real", "drawn", "camera") or row.startswith("frame 1920") or "no card" in row:
            c = report.census.get(row, Census())
            everything.less += c.less
            everything.wrong += c.wrong
            everything.names += c.names
    lines.append(
        f"Census over every image above (pipeline and live, each against zxing-cpp with the first stage's options): "
        f"returned less than zxing-cpp on {everything.less}, a wrong text on {everything.wrong}"
        + (f" ({', '.join(everything.names[:8])})" if everything.names else "")
    )
    lines.append("")
    lines.append("Wall-clock ms (mean / p95) beside the CPU ms above, for the pipeline and the live decoder:")
    for row, kind in report.kinds.items():
        if kind in ("split", "total", "frame"):
            cells = report.rows[row]
            walls = "  ".join(
                f"{d} {statistics.fmean(cells[d].wall_ms):6.1f} / {_p95(cells[d].wall_ms):6.1f}"
                for d in ("pipeline", LIVE)
            )
            lines.append(f"  {row:30s} {walls}")
    lines.append(f"Load average during the run (1 min, start / end): {report.load[0]:.1f} / {report.load[1]:.1f}")
    lines.append(
        f"Vietnamese names intact on pipeline-decoded synthetic cards: "
        f"{report.names_intact}/{report.names_checked}; pyzbar (default mode) returned a garbled payload on "
        f"{report.pyzbar_garbled} drawn cards; seed {report.seed}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=180, help="drawn 1280x720 frames (cycled over classes)")
    parser.add_argument("--camera", type=int, default=240, help="camera-model 1280x720 frames (cycled over classes)")
    parser.add_argument("--real-limit", type=int, default=None, help="only the first N real images")
    parser.add_argument("--frames", type=int, default=12, help="1920x1080 frames with a card (empty frames: half)")
    parser.add_argument("--seed", type=int, default=REPORT_SEED)
    args = parser.parse_args(argv)
    report = run(
        synthetic=args.synthetic,
        camera=args.camera,
        real_limit=args.real_limit,
        frames=args.frames,
        seed=args.seed,
        progress=lambda m: print(m, file=sys.stderr),
    )
    print(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
