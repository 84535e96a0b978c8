"""The benchmark runs end to end on a handful of images (figures are printed, never asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def load_benchmark():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "qr_decode.py"
    spec = importlib.util.spec_from_file_location("qr_decode_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_benchmark_small_run(zxing_samples_dir, capsys):
    bench = load_benchmark()
    report = bench.run(synthetic=9, real_limit=6, frames=1)
    table = bench.format_report(report)
    print(table)
    assert "qrcode-1" in table and "syn: glare" in table and "frame 1920x1080, no card" in table
    for row, cells in report.rows.items():
        assert cells["pipeline"].n > 0
        if "no card" not in row:
            assert set(cells) == {"pyzbar", "opencv", "zxing", "zxing+zbar", "pipeline", "live 12ms"}
    assert report.names_checked > 0 and report.names_intact == report.names_checked
