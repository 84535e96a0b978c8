"""The pipeline of an earlier commit against this one's, on the same images (rate, CPU ms).

The earlier ``reader_drivers/qr/decode.py`` is read from git (``git show COMMIT:path``)
and loaded as a module of its own, so both run in one process on the same frames:

    .venv/bin/python benchmarks/qr_compare.py [--commit 9406c7d] [--seed 917] [--per-class 5]

Rows: the real photographs' tuned and held-out sources, each class of both generators.
Columns: each pipeline unbounded and with the live per-frame budget.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reader_drivers.qr.camera import LIVE_FRAME_BUDGET_MS  # noqa: E402
from reader_drivers.qr.decode import QrDecoder  # noqa: E402
from simulators.qr_camera_model import CAMERA_CLASSES, CameraFrameGenerator  # noqa: E402
from simulators.qr_cards import DEGRADATIONS, CardFrameGenerator  # noqa: E402
from simulators.qr_testdata import matches, real_samples  # noqa: E402

Decode = Callable[[np.ndarray], list[bytes]]


def load_decode_module(commit: str) -> ModuleType:
    source = subprocess.run(["git", "show", f"{commit}:reader_drivers/qr/decode.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="qr-compare-")) / "decode_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("decode_then", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--commit", default="9406c7d")
    parser.add_argument("--seed", type=int, default=917)
    parser.add_argument("--per-class", type=int, default=5)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    then = load_decode_module(args.commit)
    decoders: dict[str, Decode] = {
        f"{args.commit}": then.QrDecoder().decode_bytes,
        "this": QrDecoder().decode_bytes,
        f"{args.commit} live": then.QrDecoder(budget_ms=LIVE_FRAME_BUDGET_MS).decode_bytes,
        "this live": QrDecoder(budget_ms=LIVE_FRAME_BUDGET_MS).decode_bytes,
    }
    rows: dict[str, dict[str, list[float]]] = collections.defaultdict(lambda: {k: [0, 0, 0.0] for k in decoders})

    def measure(row: str, image: np.ndarray, ok: Callable[[list[bytes]], bool]) -> None:
        for name, decode in decoders.items():
            start = time.thread_time()
            payloads = decode(image)
            ms = (time.thread_time() - start) * 1000
            for r in (row, row.split(":", maxsplit=1)[0] + ": all"):
                cell = rows[r][name]
                cell[0] += ok(payloads)
                cell[1] += 1
                cell[2] += ms

    for sample in real_samples():
        image = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
        if image is not None:
            row = "real: held-out sources" if sample.held_out else "real: tuned sources"
            measure(row, image, lambda p, s=sample: matches(s, p))  # type: ignore[misc]
    cameras, drawn = CameraFrameGenerator(args.seed), CardFrameGenerator(args.seed)
    for index in range(args.per_class):
        for kind in CAMERA_CLASSES:
            cframe = cameras.frame(index, kind)
            expected = cframe.payload.encode()
            measure(f"camera: {kind}", cframe.image, lambda p, e=expected: e in p)  # type: ignore[misc]
        for kind in DEGRADATIONS:
            frame = drawn.frame(index, kind)
            assert frame.payload is not None
            expected = frame.payload.encode()
            measure(f"drawn: {kind}", frame.image, lambda p, e=expected: e in p)  # type: ignore[misc]

    print(f"# benchmarks/qr_compare.py --commit {args.commit} --seed {args.seed} --per-class {args.per_class}: "
          "read / images and mean CPU ms")
    print(f"{'row':26s} " + " ".join(f"{k:>20s}" for k in decoders))
    for row in sorted(rows):
        cells = rows[row].values()
        print(f"{row:26s} " + " ".join(f"{int(c[0]):4d}/{int(c[1]):<4d} {c[2] / max(1, c[1]):7.1f} ms" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
