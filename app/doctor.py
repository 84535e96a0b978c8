"""``cccd-edge doctor``: check an installed desk, one line per check, non-zero exit on a failure.

What a technician would check by hand, in order: the settings load; the key files exist
with mode 0600 and enough bytes; the trust paths load as the agent loads them
(:func:`edge.trust.store.load_trust_store`) and how many anchors they give;
the PC/SC readers (and which slot each is in); each QR input opens (a camera gives a
frame); the client certificate, if any, is this desk's, matches its key and has time left;
the broker answers with TLS and this desk's credentials; the clock is synchronised; the
outbox's disk has room. Each line is ``OK``, ``WARN`` (works, but look), ``FAIL`` (the desk
will not work as configured) or ``SKIP`` (not configured).

Nothing is changed and nothing is published: the broker check connects under its own
client id (so the running agent's session is not taken over) and disconnects.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, TextIO

from edge.config import CameraSource, EdgeSettings, HidSource, SerialSource
from edge.settings_base import ConfigError

Status = Literal["OK", "WARN", "FAIL", "SKIP"]
DEFAULT_CONFIG = Path("/etc/cccd-edge/edge.toml")
#: Below this the outbox may fill within a day of a long outage; below the warning, look soon.
MIN_FREE_BYTES = 50 * 1024 * 1024
WARN_FREE_BYTES = 500 * 1024 * 1024
#: A client certificate with less than this left gets a warning: time to book the renewal visit.
CERT_RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class CheckLine:
    status: Status
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status:<4} {self.name:<16} {self.detail}"


def _check_key(name: str, read: Callable[[], object], path: Path | None) -> CheckLine:
    if path is None:
        return CheckLine("SKIP", name, "not configured")
    try:
        read()
    except ConfigError as exc:
        return CheckLine("FAIL", name, str(exc))
    mode = path.stat().st_mode & 0o777
    return CheckLine("OK", name, f"{path} (mode {mode:04o})")


def check_trust(settings: EdgeSettings) -> Iterator[CheckLine]:
    if not settings.chip.enabled:
        yield CheckLine("SKIP", "trust", "the chip is not read at this desk")
        return
    if not settings.chip.trust_paths:
        yield CheckLine("WARN", "trust", "no trust path: chips reach at most chip_data_unanchored")
        return
    from edge.trust.store import TrustStoreError, load_trust_store

    # The loader the agent starts with: what it refuses (a missing path, no anchor) fails here too.
    try:
        store = load_trust_store([str(p) for p in settings.chip.trust_paths])
    except TrustStoreError as exc:
        yield CheckLine("FAIL", "trust", str(exc))
        return
    for report in store.reports:
        if not report.accepted:
            yield CheckLine("WARN", "trust", f"{report.path} not loaded: {report.reason or 'unreadable'}")
    counts = store.counts
    yield CheckLine("OK", "trust", f"{counts['cscas']} CSCA, {counts['document_signers']} pinned document signers, "
                                   f"{counts['crls']} CRLs from {len(store.reports)} files")


def check_readers(settings: EdgeSettings) -> CheckLine:
    if not settings.chip.enabled:
        return CheckLine("SKIP", "chip reader", "the chip is not read at this desk")
    from reader_drivers.pcsc import TransportError, list_readers, reader_matcher

    try:
        readers = list_readers()
    except TransportError as exc:
        return CheckLine("FAIL", "chip reader", f"pcscd is not reachable: {exc}")
    wanted = settings.chip.reader
    accept = reader_matcher(wanted)  # the agent's rule: the pattern (regex or text), never a SAM slot
    usable = [(i, r) for i, r in enumerate(readers) if accept(r)]
    if not usable:
        which = f" matching {wanted!r}" if wanted else " with a contactless slot"
        return CheckLine("FAIL", "chip reader", f"no PC/SC reader{which} (found: {readers or 'none'})")
    return CheckLine("OK", "chip reader", ", ".join(f"slot {i}: {r}" for i, r in usable))


def check_qr_sources(settings: EdgeSettings, *, timeout: float = 5.0) -> Iterator[CheckLine]:
    if not settings.qr_sources:
        yield CheckLine("WARN", "qr input", "no [[qr_sources]]: QR codes are read from nowhere")
        return
    for spec in settings.qr_sources:
        name = f"qr {spec.kind}"
        if isinstance(spec, CameraSource):
            yield _check_camera(spec, timeout)
        elif isinstance(spec, SerialSource | HidSource):
            ok = os.path.exists(spec.device)
            yield CheckLine("OK" if ok else "FAIL", name, f"{spec.device}" + ("" if ok else " does not exist"))


def _check_camera(spec: CameraSource, timeout: float) -> CheckLine:
    from reader_drivers.qr.camera import CameraSource as Camera

    try:
        camera = Camera(spec.device, width=spec.width, height=spec.height, fps=spec.fps, still_gate=False)
    except Exception as exc:  # a driver error of any kind is this check's finding
        return CheckLine("FAIL", "qr camera", f"{spec.device}: cannot open ({exc.__class__.__name__}: {exc})")
    try:
        frame = camera.frames.next_frame(timeout)
    except Exception as exc:  # the driver's end-of-frames or device error
        return CheckLine("FAIL", "qr camera", f"{spec.device}: no frame ({exc.__class__.__name__})")
    finally:
        camera.close()
    if frame is None:
        return CheckLine("FAIL", "qr camera", f"{spec.device}: no frame within {timeout:g} s")
    height, width = frame[1].shape[:2]
    return CheckLine("OK", "qr camera", f"{spec.device}: frames of {width}x{height}")


def check_client_cert(settings: EdgeSettings, *, now: datetime | None = None) -> CheckLine:
    """The desk's TLS client certificate (``[mqtt] cert_file``/``key_file``, issued by
    ``cccd-server reader add --cert``): readable, its key private (0600) and its own, its name
    this desk's broker username, and how long it has left."""
    mqtt = settings.mqtt
    if mqtt.cert_file is None or mqtt.key_file is None:
        return CheckLine("SKIP", "client cert", "not configured (the broker password is used)")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    from contract.topics import reader_username

    try:
        cert = x509.load_pem_x509_certificate(mqtt.cert_file.read_bytes())
        mqtt.check_client_key()
        key = serialization.load_pem_private_key(mqtt.key_file.read_bytes(), password=None)
    except ConfigError as exc:
        return CheckLine("FAIL", "client cert", str(exc))
    except (OSError, ValueError, TypeError) as exc:  # missing, unreadable, not PEM, an encrypted key
        return CheckLine("FAIL", "client cert", f"{mqtt.cert_file} / {mqtt.key_file}: {exc}")
    if key.public_key() != cert.public_key():
        return CheckLine("FAIL", "client cert", f"{mqtt.key_file} is not the key of {mqtt.cert_file}")
    names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    wanted = reader_username(settings.facility_code, settings.reader_id)
    if names != [wanted]:
        return CheckLine("FAIL", "client cert", f"issued to {names} but this desk is {wanted!r}: the broker would "
                                                "refuse its topics")
    now = now or datetime.now(UTC)
    left = cert.not_valid_after_utc - now
    detail = f"{wanted}, serial {cert.serial_number:x}, valid until {cert.not_valid_after_utc:%Y-%m-%d}"
    if now < cert.not_valid_before_utc:
        start = f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M}"
        return CheckLine("FAIL", "client cert", f"{detail}: not valid before {start} UTC (check the clock)")
    if left <= timedelta(0):
        return CheckLine("FAIL", "client cert", f"{detail}: EXPIRED, the broker refuses it (renew: reader add --cert)")
    if left < CERT_RENEW_BEFORE:
        return CheckLine("WARN", "client cert", f"{detail}: {left.days} days left, renew it (reader add --cert)")
    return CheckLine("OK", "client cert", f"{detail} ({left.days} days left)")


def check_broker(settings: EdgeSettings, *, timeout: float = 5.0) -> CheckLine:
    from contract.mqtt import make_client

    mqtt = settings.mqtt
    who = mqtt.username or (f"certificate {mqtt.cert_file}" if mqtt.cert_file else "anonymous")
    where = f"{mqtt.url} as {who}" + (" (TLS)" if mqtt.tls else "")
    if mqtt.tls and mqtt.ca_file is not None and not mqtt.ca_file.exists():
        return CheckLine("FAIL", "broker", f"{where}: ca_file {mqtt.ca_file} does not exist")
    answered = threading.Event()
    result: list[str] = []

    def on_connect(_client: object, _userdata: object, _flags: object, reason: object, _props: object) -> None:
        result.append(str(reason))
        answered.set()

    client = make_client(mqtt, f"doctor-{settings.facility_code}-{settings.reader_id}-{secrets.token_hex(3)}")
    client.on_connect = on_connect
    try:
        client.connect(mqtt.host, mqtt.port, keepalive=10)
        client.loop_start()
        if not answered.wait(timeout):
            return CheckLine("FAIL", "broker", f"{where}: no answer within {timeout:g} s")
    except (OSError, ValueError) as exc:  # refused, unreachable, TLS handshake or certificate failure
        return CheckLine("FAIL", "broker", f"{where}: {exc.__class__.__name__}: {exc}")
    finally:
        client.loop_stop()
        client.disconnect()
    if result[0] != "Success":
        return CheckLine("FAIL", "broker", f"{where}: refused ({result[0]})")
    return CheckLine("OK", "broker", f"{where}: connected")


def check_clock(run: Callable[[list[str]], str | None] | None = None) -> CheckLine:
    """NTP synchronisation as systemd-timesyncd reports it (a Pi has no real-time clock)."""
    run = run or _run
    answer = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if answer is not None:
        if answer.strip() == "yes":
            return CheckLine("OK", "clock", "synchronised (NTP)")
        return CheckLine("FAIL", "clock", "not synchronised: check systemd-timesyncd and the network "
                                          "(a wrong date counts check-ins on the wrong day)")
    if Path("/run/systemd/timesync/synchronized").exists():
        return CheckLine("OK", "clock", "synchronised (systemd-timesyncd)")
    return CheckLine("WARN", "clock", "cannot tell whether the clock is synchronised (no timedatectl)")


def _run(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def check_disk(settings: EdgeSettings) -> CheckLine:
    state = settings.state_dir
    probe = state if state.exists() else state.parent
    if not probe.exists():
        return CheckLine("FAIL", "outbox disk", f"{state} and its parent do not exist")
    if not os.access(probe, os.W_OK):
        return CheckLine("FAIL", "outbox disk", f"{probe} is not writable by this user")
    free = shutil.disk_usage(probe).free
    detail = f"{state}: {free / 1024 / 1024:.0f} MB free"
    if free < MIN_FREE_BYTES:
        return CheckLine("FAIL", "outbox disk", f"{detail} (below {MIN_FREE_BYTES // 1024 // 1024} MB)")
    return CheckLine("WARN" if free < WARN_FREE_BYTES else "OK", "outbox disk", detail)


def check_screen(settings: EdgeSettings) -> CheckLine:
    screen = settings.screen
    if not screen.enabled:
        return CheckLine("SKIP", "screen", "turned off")
    scheme = "https" if screen.tls_cert_file else "http"
    host = "127.0.0.1" if screen.host in ("0.0.0.0", "::") else screen.host
    where = f"{scheme}://{host}:{screen.port}/"
    return CheckLine("OK", "screen", where + (" (LAN, with token)" if screen.allow_lan else " (loopback only)"))


def run_checks(config: Path | None, *, timeout: float = 5.0) -> list[CheckLine]:
    """Every check, in order; a settings file that does not load stops there."""
    try:
        settings = EdgeSettings.load(config)
    except ConfigError as exc:
        return [CheckLine("FAIL", "config", str(exc))]
    lines = [CheckLine("OK", "config", f"{config or 'environment'}: {settings.facility_code}/{settings.reader_id}")]
    lines.append(_check_key("pseudonym key", settings.pseudonym_key, settings.pseudonym_key_file))
    lines.append(_check_key("his token", settings.his_token, settings.his.token_file))
    lines.append(_check_key("screen token", settings.screen_token, settings.screen.token_file))
    lines.append(check_screen(settings))
    lines.extend(check_trust(settings))
    lines.append(check_readers(settings))
    lines.extend(check_qr_sources(settings, timeout=timeout))
    lines.append(check_client_cert(settings))
    lines.append(check_broker(settings, timeout=timeout))
    lines.append(check_clock())
    lines.append(check_disk(settings))
    return lines


def doctor_main(argv: list[str], out: TextIO | None = None) -> int:
    """``cccd-edge doctor [--config FILE]``: check this desk; exit 1 if any check failed."""
    parser = argparse.ArgumentParser(
        prog="cccd-edge doctor",
        description="Check an installed desk: config, key modes, trust paths, readers, camera, broker, clock, disk.")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the settings file (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the camera and the broker")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    lines = run_checks(args.config, timeout=args.timeout)
    for line in lines:
        out.write(f"{line}\n")
    failed = [line for line in lines if line.status == "FAIL"]
    out.write(f"{len(failed)} failed, {sum(line.status == 'WARN' for line in lines)} to look at, "
              f"{sum(line.status == 'OK' for line in lines)} fine\n")
    out.flush()
    return 1 if failed else 0
