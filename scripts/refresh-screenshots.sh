#!/usr/bin/env bash
# Refresh the docs' screenshots (docs/screenshots/*.png) from the browser tests: the one
# command that writes them. An ordinary test run keeps screenshots in pytest's tmp dirs.
# CI=1: a missing Chromium (or pcscd, mosquitto) fails instead of leaving an old picture.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCCD_REFRESH_SCREENSHOTS=1 CI=1
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" \
  tests/agent/test_agent_qr_path.py \
  tests/agent/test_agent_chip_path.py \
  tests/server/test_dashboard_browser.py \
  tests/server/test_officer_browser.py \
  tests/server/test_report.py \
  tests/desk/test_screen_browser.py
git status --short docs/screenshots
