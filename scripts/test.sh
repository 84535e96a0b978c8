#!/usr/bin/env bash
# Set up, then run the whole test suite (it starts and stops its own services).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
