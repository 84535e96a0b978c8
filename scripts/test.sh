#!/usr/bin/env bash
# Set up, then the gate: the linter and the type checker (configured in pyproject.toml), then
# the whole test suite (it starts and stops its own services). Any finding fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff check ."
.venv/bin/ruff check .
echo "== mypy (strict; the file list is [tool.mypy] in pyproject.toml)"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
