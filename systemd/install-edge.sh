#!/usr/bin/env bash
# Install the CCCD desk agent on Raspberry Pi OS (Debian 12, arm64) or Debian 12.
#
#   sudo ./systemd/install-edge.sh [--key-file PATH] [--config PATH] [--no-start]
#
# Installs the packages, creates the cccd-edge user, a virtual environment in /opt/cccd,
# the configuration in /etc/cccd-edge (kept if present) and the systemd unit, and enables
# it. The service starts once the configuration and the pseudonym key are in place.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${CCCD_PREFIX:-/opt/cccd}"
ETC="${CCCD_ETC:-/etc/cccd-edge}"
UNIT_DIR="${CCCD_UNIT_DIR:-/etc/systemd/system}"
KEY_FILE=""
CONFIG=""
START=1

while [ $# -gt 0 ]; do
  case "$1" in
    --key-file) KEY_FILE="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (sudo $0)" >&2
  exit 1
fi

echo "== packages"
apt-get update -qq
# pcscd + libccid: PC/SC and the USB CCID reader driver; swig, libpcsclite-dev, gcc,
# python3-dev: pyscard has no arm64 wheel and builds here; libzbar0: the QR fallback decoder.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3 python3-venv python3-dev gcc swig libpcsclite-dev pcscd libccid libzbar0 >/dev/null

echo "== user"
# video, dialout and input own the camera, serial and HID devices; a minimal system may lack one.
for group in video dialout input; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id cccd-edge >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/cccd-edge --no-create-home --shell /usr/sbin/nologin \
    --groups video,dialout,input cccd-edge
fi

echo "== software in $PREFIX"
install -d -m 0755 "$PREFIX"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/python" -m pip install -q --upgrade pip
"$PREFIX/venv/bin/python" -m pip install -q "$SRC"
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"

echo "== configuration in $ETC"
install -d -m 0750 -o root -g cccd-edge "$ETC"
if [ -n "$CONFIG" ]; then
  install -m 0640 -o root -g cccd-edge "$CONFIG" "$ETC/edge.toml"
elif [ ! -f "$ETC/edge.toml" ]; then
  install -m 0640 -o root -g cccd-edge "$SRC/systemd/edge.toml.example" "$ETC/edge.toml"
  echo "   wrote $ETC/edge.toml from the example: set facility_code, reader_id and [mqtt]"
fi
if [ -n "$KEY_FILE" ]; then
  install -m 0600 -o cccd-edge -g cccd-edge "$KEY_FILE" "$ETC/pseudonym.key"
fi

echo "== systemd unit"
install -m 0644 "$SRC/systemd/cccd-edge.service" "$UNIT_DIR/cccd-edge.service"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable pcscd.socket cccd-edge.service
  if [ "$START" -eq 1 ] && [ -f "$ETC/pseudonym.key" ]; then
    systemctl restart cccd-edge.service
    systemctl --no-pager status cccd-edge.service || true
  else
    echo "   not started: put the deployment key in $ETC/pseudonym.key (mode 0600), then: systemctl start cccd-edge"
  fi
else
  echo "   systemd is not running here: unit installed, not enabled"
fi
echo "done"
