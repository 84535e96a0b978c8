"""The benchmarks run end to end on a handful of images (figures are printed, never asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def load_benchmark(name: str = "qr_decode"):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_decode_benchmark_small_run_has_every_row_decoder_and_the_census(zxing_samples_dir, capsys):
    bench = load_benchmark()
    report = bench.run(synthetic=9, camera=12, real_limit=22, frames=1, seed=3)  # not the report seed
    table = bench.format_report(report)
    print(table)
    assert "qrcode-1 (held out)" in table and "real: tuned sources" in table and "real: held-out sources" in table
    assert "drawn: glare" in table and "camera: phone_screen" in table and "frame 1920x1080, no card" in table
    assert "Census over every image" in table
    for cells in report.rows.values():
        assert cells["pipeline"].n > 0
        assert set(cells) == {"pyzbar", "opencv", "zxing", "pipeline", bench.LIVE}
    assert report.names_checked > 0 and report.names_intact == report.names_checked
    assert all(c.less == 0 and c.wrong == 0 for c in report.census.values())
