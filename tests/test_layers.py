"""The one-way layering: ``edge`` (the core) imports neither the drivers nor the application.

``app`` wires ``edge`` and ``reader_drivers``; ``reader_drivers`` may use ``edge``; ``edge``
knows neither. Checked twice: by importing every edge module in a fresh interpreter and
looking at what got loaded, and by reading every import statement in edge's sources
(which also catches the lazy imports inside functions that an import alone never runs).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("reader_drivers", "app")


def _top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


def test_importing_every_edge_module_loads_no_reader_driver_and_no_app_module():
    code = (
        "import importlib, json, pkgutil, sys, edge\n"
        "names = [m.name for m in pkgutil.walk_packages(edge.__path__, 'edge.')]\n"
        "for name in names: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps({'imported': len(names), 'bad': bad}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["imported"] > 40  # the walk really covered the package
    assert report["bad"] == []


def test_no_edge_source_file_names_reader_drivers_or_app_in_an_import():
    offenders = []
    for path in sorted((ROOT / "edge").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if _top(n) in FORBIDDEN]
    assert offenders == []


def test_the_checks_would_see_a_forbidden_import():
    """The AST check is not vacuous: the same walk finds the drivers in app's own sources."""
    found = {
        _top(node.module)
        for path in (ROOT / "app").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
    }
    assert "reader_drivers" in found
