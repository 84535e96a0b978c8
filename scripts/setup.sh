#!/usr/bin/env bash
# Install everything the project needs on Debian 12: the apt packages, a virtual environment
# in .venv, and the project with its test extra. Run it as root, or as a user who may use sudo
# (a minimal Debian has no sudo: install it as root first, `apt-get install sudo`, and add the
# user to the sudo group). Safe to run again: it installs only what is missing.
# When another apt or dpkg process holds its lock (unattended-upgrades, another setup), it
# waits for it, up to CCCD_APT_LOCK_TIMEOUT seconds (default 600), saying so; any failed step
# stops it with a message and a non-zero exit.
set -Eeuo pipefail

APT_PACKAGES=(
  mosquitto mosquitto-clients            # the MQTT broker between desks and server
  pcscd pcsc-tools libpcsclite-dev swig  # PC/SC; pyscard builds from source against libpcsclite
  vsmartcard-vpcd python3-virtualsmartcard  # the virtual reader driver for the simulated chip
  libzbar0                               # zbar, behind pyzbar
  python3-venv python3-dev gcc           # the virtual environment and native builds
  postgresql                             # PostgreSQL, started by the tests on a free port
  chromium fonts-dejavu-core             # the dashboard and desk-screen browser tests
  systemd                                # systemd-analyze verify checks the units
  git                                    # the test run checks it left the checkout unchanged
  curl                                   # the demo prints a curl command to try the API
  prometheus                             # promtool checks and unit-tests the shipped alert rules
  poppler-utils                          # pdftoppm/pdfinfo render the printed province report in its test
  fuse3                                  # fusermount3 + libfuse3: the power-cut drill's lazy filesystem (simulators/lazyfs.py)
)
# Held by apt-get update (lists), apt-get install / dpkg (the others).
APT_LOCKS=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)
LOCK_TIMEOUT="${CCCD_APT_LOCK_TIMEOUT:-600}"

fail() { echo "setup.sh: $*" >&2; exit 1; }
trap 'fail "step failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

SUDO=()

# The pid holding a lock on FILE (flock or fcntl, as listed in /proc/locks), or nothing.
lock_holder() {
  local inode
  inode=$(stat -c %i "$1" 2>/dev/null) || return 0
  awk -v ino="$inode" '$2 != "->" { split($6, dev, ":"); if (dev[3] == ino) { print $5; exit } }' /proc/locks
}

wait_for_apt_locks() {
  local deadline=$((SECONDS + LOCK_TIMEOUT)) lock pid said=""
  while :; do
    pid=""
    for lock in "${APT_LOCKS[@]}"; do
      pid=$(lock_holder "$lock")
      [ -n "$pid" ] && break
    done
    [ -z "$pid" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "$lock is still held by pid $pid ($(ps -o args= -p "$pid" 2>/dev/null || echo '?')) after ${LOCK_TIMEOUT}s; try again when it has finished"
    fi
    if [ "$said" != "$lock $pid" ]; then  # once per lock and holder
      echo "Waiting for another package manager to finish: $lock is held by pid $pid ($(ps -o args= -p "$pid" 2>/dev/null || echo '?')); up to ${LOCK_TIMEOUT}s in all"
      said="$lock $pid"
    fi
    sleep 2
  done
}

apt_get() {
  wait_for_apt_locks
  # DPkg::Lock::Timeout: apt itself also waits, should another one start between our check and us.
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout="$LOCK_TIMEOUT" "$@"
}

# pip exits 0 when it cannot reach the index for an upgrade ("Requirement already satisfied",
# nothing else said): ask the index first, and treat pip's warnings about it as failures.
pip_install() {
  local log
  log=$(mktemp)
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; fail "pip install $* failed"
  fi
  if grep -Eq "Retrying|Could not fetch|Could not find|No matching distribution|ERROR:" "$log"; then
    cat "$log" >&2; rm -f "$log"; fail "pip install $* could not reach the package index"
  fi
  cat "$log"; rm -f "$log"
}
main() {
  cd "$(dirname "$0")/.."
  command -v apt-get >/dev/null && command -v dpkg-query >/dev/null \
    || fail "this script needs Debian 12 (apt-get and dpkg-query not found)"

  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "running as $(id -un), not root, and sudo is not installed.
    Run this script as root, or as root install sudo and allow this user: apt-get install sudo && usermod -aG sudo $(id -un)"
    SUDO=(sudo)
  fi

  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing apt packages: ${missing[*]}"
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi

  index_log=$(mktemp)
  if ! .venv/bin/python -m pip index versions pip --disable-pip-version-check >/dev/null 2>"$index_log"; then
    cat "$index_log" >&2; rm -f "$index_log"
    fail "cannot reach the package index (pip index versions pip failed): check the network or pip's index settings"
  fi
  rm -f "$index_log"
  pip_install --upgrade pip
  pip_install -e ".[test]"
  echo "Setup complete: .venv is ready."
}

# Sourced (the tests call the functions above): define only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
