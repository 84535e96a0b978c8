"""``cccd-edge init``: a new desk's configuration and secrets, written for the technician.

Writes, into one directory (``/etc/cccd-edge`` by default):

* ``edge.toml`` — the complete settings file, every section present and commented (the
  same text as ``systemd/edge.toml.example``, which is this template rendered for the
  example desk; a test keeps them equal);
* ``pseudonym.key`` — 32 random bytes, mode 0600, *unless* the deployment's key is given
  with ``--pseudonym-key FILE`` (every reader of a deployment must share one key, or the
  same citizen gets a different pseudonym at each desk);
* ``his.token`` — the local HIS API token, mode 0600 (the HIS sends the file's text as
  its Bearer token).

Nothing existing is overwritten: a key file never (the deployment depends on it), the
config only with ``--force``. Each file written is printed on one line.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pydantic import TypeAdapter, ValidationError

from contract.topics import reader_username as contract_reader_username
from edge.events import FacilityCode, ReaderId
from edge.settings_base import ConfigError, read_secret_file, write_secret_file

TEMPLATE = """\
# {config_dir}/edge.toml — the desk agent's settings, written by `cccd-edge init`.
# Check an installed desk with `cccd-edge doctor --config {config_dir}/edge.toml`.
# Every key can be overridden by an environment variable: CCCD_EDGE_<KEY>, nested keys
# joined by "__" (CCCD_EDGE_MQTT__PASSWORD, e.g. in {config_dir}/env). Unknown keys are
# refused by name.

facility_code = "{facility}"          # the health facility's code (5 digits)
reader_id = "{reader}"             # this desk, unique within the facility
# The deployment's pseudonym key: the SAME file on every reader of the deployment, mode 0600.
# `cccd-edge init --pseudonym-key FILE` copies it; without it init makes a new one (a new deployment).
pseudonym_key_file = "{config_dir}/pseudonym.key"
state_dir = "{state_dir}"     # the outbox (events not yet stored by the server)
debounce_seconds = 30.0              # one check-in per card per window
heartbeat_seconds = 60.0

[mqtt]
url = "{broker}"
# The credentials `cccd-server reader add --facility {facility} --reader {reader}` prints:
username = "{username}"
# password = "..."                   # better: CCCD_EDGE_MQTT__PASSWORD in {config_dir}/env (0600)
ca_file = "{config_dir}/ca.crt"      # the CA that signed the broker's certificate (mqtts)
# cert_file = "{config_dir}/client.crt"   # mutual TLS, if the broker asks for it
# key_file = "{config_dir}/client.key"

[outbox]
max_inflight = 20                    # publishes awaiting the broker's answer at once
alarm_depth = 50000                  # raise the alarm when this many events wait

# QR inputs: any number of [[qr_sources]], each with a kind.
[[qr_sources]]
kind = "camera"
# A device index (0), /dev/videoN, a video file, a stream URL, or a folder of images
# (a folder replays its images: demos and tests).
device = "0"
width = 1280
height = 720
fps = 15
still_gate = true                    # skip decoding while the desk is empty and still

# A handheld scanner in USB serial (CDC) mode: keeps the Vietnamese letters.
# [[qr_sources]]
# kind = "serial"
# device = "/dev/ttyACM0"
# baudrate = 9600

# A scanner in keyboard (HID) mode loses "ữ", "Đ"...: prefer serial; the desk says so when it happens.
# [[qr_sources]]
# kind = "hid"
# device = "/dev/input/by-id/usb-Scanner-event-kbd"

[chip]
enabled = true                       # read the chip on a PC/SC reader (pcscd)
# reader = "ACR1252.*PICC"           # reader slot name pattern (regex or plain text, any case);
#                                    # default: the contactless slot; never a SAM slot
# max_response = 1024                # largest card answer in bytes the reader carries (64-65536);
#                                    # default: learned from the reader (shrinks when refused)
trust_paths = ["{config_dir}/trust"] # CSCA / document-signer certificates and master lists
read_face = true
clone_check = true                   # Chip / Active Authentication
wait_seconds = 20.0                  # after a QR scan, how long the card is awaited (countdown on screen)
timeout = 5.0                        # seconds per command before the reader is given up

[screen]
enabled = true
host = "127.0.0.1"                   # loopback: the kiosk browser on this machine
port = 8081
history_enabled = false              # today's check-ins on the screen (kept until midnight)
clear_after_seconds = 120.0
technician_mode = false              # true while setting up the camera: the aiming view at /screen/aim
# A desk PC on the LAN: allow it explicitly, with a token and TLS (refused otherwise).
# allow_lan = true
# host = "0.0.0.0"
# names = ["desk-1.clinic.lan"]
# token_file = "{config_dir}/screen.token"
# tls_cert_file = "{config_dir}/screen.crt"
# tls_key_file = "{config_dir}/screen.key"

[his]
token_file = "{config_dir}/his.token" # the HIS API's Bearer token (the file's text), mode 0600
keyboard_wedge = false               # type the ID number into the HIS's focused field (uinput)
wedge_suffix = "enter"
"""


def reader_username(facility: str, reader: str) -> str:
    """The MQTT username `cccd-server reader add` issues: the contract's one rule."""
    return contract_reader_username(facility, reader)


@dataclass(frozen=True)
class DeskIdentity:
    facility: str
    reader: str
    broker: str = "mqtts://cccd-server.example:8883"
    config_dir: Path = Path("/etc/cccd-edge")
    state_dir: Path = Path("/var/lib/cccd-edge")


#: The desk ``systemd/edge.toml.example`` is written for.
EXAMPLE = DeskIdentity("34001", "desk-1")


def render_config(desk: DeskIdentity) -> str:
    """The complete, commented settings file for one desk."""
    return TEMPLATE.format(facility=desk.facility, reader=desk.reader, broker=desk.broker,
                           username=reader_username(desk.facility, desk.reader),
                           config_dir=desk.config_dir, state_dir=desk.state_dir)


def _write_new(path: Path, text: str, *, force: bool, mode: int = 0o644) -> bool:
    if path.exists() and not force:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return True


def init_desk(desk: DeskIdentity, *, pseudonym_key: Path | None = None, force: bool = False) -> list[str]:
    """Write the desk's files; one line per file saying what was done."""
    lines: list[str] = []
    config = desk.config_dir / "edge.toml"
    if _write_new(config, render_config(desk), force=force):
        lines.append(f"wrote {config}")
    else:
        lines.append(f"kept {config} (exists; --force rewrites it)")

    key_path = desk.config_dir / "pseudonym.key"
    if key_path.exists():
        lines.append(f"kept {key_path} (a key file is never overwritten)")
    elif pseudonym_key is not None:
        key = read_secret_file(pseudonym_key)  # checks its mode and length first
        write_secret_file(key_path, key)
        lines.append(f"wrote {key_path} (0600) from the deployment's key {pseudonym_key}")
    else:
        write_secret_file(key_path, secrets.token_bytes(32))
        lines.append(f"wrote {key_path} (0600): a NEW deployment key; copy this file to every reader "
                     "of the deployment, or use --pseudonym-key with the existing one")

    token_path = desk.config_dir / "his.token"
    if token_path.exists():
        lines.append(f"kept {token_path} (a key file is never overwritten)")
    else:
        write_secret_file(token_path, secrets.token_bytes(24))
        lines.append(f"wrote {token_path} (0600): give its text to the HIS as its Bearer token")
    (desk.config_dir / "trust").mkdir(parents=True, exist_ok=True)
    lines.append(f"trust certificates go in {desk.config_dir / 'trust'}")
    _sync_to_disk([config, key_path, token_path], desk.config_dir)
    return lines


def _sync_to_disk(files: list[Path], directory: Path) -> None:
    """fsync the desk's files and their folder: a Pi unplugged right after ``init`` otherwise
    comes back with empty key files (the power-cut drill found it), which ``init`` then keeps."""
    for path in [*files, directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def init_main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``cccd-edge init --facility CODE --reader ID``: write a desk's config, key and HIS token."""
    parser = argparse.ArgumentParser(
        prog="cccd-edge init",
        description="Write a complete commented edge.toml, a 0600 pseudonym key and a 0600 HIS token.")
    parser.add_argument("--facility", required=True, help="the health facility's code, e.g. 34001")
    parser.add_argument("--reader", required=True, help="this desk's id within the facility, e.g. desk-1")
    parser.add_argument("--broker", default=EXAMPLE.broker, help="the broker URL (mqtts://HOST:8883)")
    parser.add_argument("--dir", type=Path, default=EXAMPLE.config_dir, help="where to write (default %(default)s)")
    parser.add_argument("--state-dir", type=Path, default=EXAMPLE.state_dir, help="the outbox's directory")
    parser.add_argument("--pseudonym-key", type=Path, help="the deployment's existing key file, to copy")
    parser.add_argument("--force", action="store_true", help="rewrite an existing edge.toml (never a key)")
    args = parser.parse_args(argv)
    out, err = out or sys.stdout, err or sys.stderr
    try:
        TypeAdapter(FacilityCode).validate_python(args.facility)
        TypeAdapter(ReaderId).validate_python(args.reader)
    except ValidationError:
        err.write("cccd-edge init: --facility and --reader take letters, digits, '-' and '_' only\n")
        return 2
    try:
        desk = DeskIdentity(args.facility, args.reader, args.broker, args.dir, args.state_dir)
        lines = init_desk(desk, pseudonym_key=args.pseudonym_key, force=args.force)
    except (ConfigError, ValueError, OSError) as exc:
        err.write(f"cccd-edge init: {exc}\n")
        return 2
    for line in lines:
        out.write(f"{line}\n")
    out.write(f"next: cccd-edge doctor --config {args.dir / 'edge.toml'}\n")
    return 0
