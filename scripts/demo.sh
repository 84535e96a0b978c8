#!/usr/bin/env bash
# Set up, then run the demo: a broker, the server and simulated readers, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/cccd-sim demo "$@"
