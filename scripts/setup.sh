#!/usr/bin/env bash
# Install everything the project needs on Debian 12 (as root, or with sudo):
# the apt packages, a virtual environment in .venv, and the project with its test extra.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  mosquitto mosquitto-clients            # the MQTT broker between desks and server
  pcscd pcsc-tools libpcsclite-dev swig  # PC/SC; pyscard builds from source against libpcsclite
  vsmartcard-vpcd python3-virtualsmartcard  # the virtual reader driver for the simulated chip
  libzbar0                               # zbar, behind pyzbar
  python3-venv python3-dev gcc           # the virtual environment and native builds
  postgresql                             # PostgreSQL, started by the tests on a free port
  chromium fonts-dejavu-core             # the dashboard and desk-screen browser tests
  systemd                                # systemd-analyze verify checks the units
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "Setup complete: .venv is ready."
