"""Real services on free loopback ports, for tests, benchmarks and the demo.

Each service is a context manager that starts the real program, waits until it answers
and stops it (by its PID) on exit; nothing outlives the process that started it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.tls import TlsFiles

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10000
_pick = random.Random()  # seeded from os.urandom: concurrent runs draw different ports


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = (int(n) for n in EPHEMERAL_RANGE_FILE.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing uses right now, for a service the test starts next.

    Drawn below the kernel's ephemeral range: the kernel gives those ports to outgoing
    connections, so on a busy machine one picked there (``bind(0)``) was taken by some client's
    connection before the service bound it ("address already in use", twice in a full run)."""
    low, _ = _ephemeral_ports()
    if low - _LOWEST_PORT >= 1000:
        for _ in range(200):
            port = _pick.randrange(_LOWEST_PORT, low)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # no room below: the kernel's choice
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answered on {host}:{port} within {timeout} s")


def find_program(candidates: tuple[str, ...], name: str) -> str:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} is not installed (run scripts/setup.sh)")


SHIPPED_BROKER_CONFIG = Path(__file__).resolve().parents[1] / "systemd" / "mosquitto-cccd.conf"
# Directives that belong to a listener in the template; the test's listeners replace them.
# (Written above every listener, a listener option configures mosquitto's default listener,
# which then also opens port 1883 on every interface.)
_LISTENER_KEYS = frozenset({"listener", "protocol", "cafile", "capath", "certfile", "keyfile", "tls_version",
                            "require_certificate", "use_identity_as_username", "use_subject_as_username",
                            "use_username_as_clientid", "crlfile"})
# Who may connect: set by the test's mode (anonymous, or the issued credentials and ACL).
_AUTH_KEYS = frozenset({"per_listener_settings", "allow_anonymous", "password_file", "acl_file"})


CERT_LISTENER = "listener 8884"  # the template's readers' listener with client certificates


def render_shipped_config(
    workdir: Path, *, ca_cert: Path, server_cert: Path, server_key: Path, tls_port: int, local_port: int,
    template: Path = SHIPPED_BROKER_CONFIG, cert_port: int | None = None, device_ca: Path | None = None,
    crl_file: Path | None = None,
) -> str:
    """The whole shipped file for a test host: only its paths (certificates, password and ACL
    files, persistence) move into ``workdir`` and its listeners onto loopback test ports;
    everything else (persistence, limits, identity, ACL mode) stays as shipped.

    ``cert_port`` (with the device CA's certificate and CRL that ``cccd-server ca init`` writes)
    serves the readers' client-certificate listener there; without it that listener is left
    out (it cannot start without a CA and a CRL), for a test that uses passwords only."""
    text = template.read_text()
    if cert_port is None:
        kept, skipping = [], False
        for line in text.splitlines(keepends=True):
            skipping = skipping or line.startswith(CERT_LISTENER)
            if skipping and not line.strip():
                skipping = False
            if not skipping:
                kept.append(line)
        text = "".join(kept)
    else:
        if device_ca is None or crl_file is None:
            raise ValueError("the certificate listener needs the device CA's certificate and its CRL")
        text = (text.replace("/etc/mosquitto/cccd/device-ca.crt", str(device_ca))
                    .replace("/etc/mosquitto/cccd/crl.pem", str(crl_file))
                    .replace(CERT_LISTENER, f"listener {cert_port} 127.0.0.1"))
    return (text
            .replace("/etc/mosquitto/cccd/ca.crt", str(ca_cert))
            .replace("/etc/mosquitto/cccd/server.crt", str(server_cert))
            .replace("/etc/mosquitto/cccd/server.key", str(server_key))
            .replace("/etc/mosquitto/cccd/", f"{workdir}/")
            .replace("/var/lib/mosquitto/", f"{workdir}/")
            .replace("listener 8883", f"listener {tls_port} 127.0.0.1")
            .replace("listener 1883 127.0.0.1", f"listener {local_port} 127.0.0.1"))


def shipped_tls_listener(template: Path = SHIPPED_BROKER_CONFIG) -> list[tuple[str, str]]:
    """The directives of the template's TLS listener (the readers' one), after its ``listener`` line."""
    block: list[tuple[str, str]] = []
    for raw in template.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        key, _, value = line.partition(" ")
        if key == "listener":
            if any(k == "certfile" for k, _ in block):
                break
            block = []
        elif key in _LISTENER_KEYS:
            block.append((key, value.strip()))
    return block if any(k == "certfile" for k, _ in block) else []


def shipped_broker_settings(template: Path = SHIPPED_BROKER_CONFIG) -> list[tuple[str, str]]:
    """The template's broker-wide directives (persistence, queues, in-flight window...), in order,
    without its listeners and authentication: the part a test broker runs exactly as shipped."""
    settings: list[tuple[str, str]] = []
    for raw in template.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, value = line.partition(" ")
        if key not in _LISTENER_KEYS and key not in _AUTH_KEYS:
            settings.append((key, value.strip()))
    return settings


class Mosquitto:
    """A private mosquitto broker on a free loopback port, running the shipped configuration.

    The broker-wide settings come from ``systemd/mosquitto-cccd.conf`` as shipped (persistence,
    ``autosave_interval``, ``max_queued_messages``, ``max_inflight_messages``), with the paths
    pointing into the broker's own directory; only the listeners and who may connect are the
    test's. A test may override ``max_inflight``/``autosave_interval`` explicitly (say why).
    Its persistence lives in its own directory, so a restart keeps the persistent sessions and
    queued messages, as a real broker does. ``extra_config`` lines are appended (a TLS listener).
    """

    def __init__(
        self,
        port: int | None = None,
        extra_config: str = "",
        workdir: Path | None = None,
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        open_port: int | None = None,
        max_inflight: int | None = None,
        autosave_interval: int | None = None,
        tls: TlsFiles | None = None,
        require_certificate: bool | None = None,
    ) -> None:
        """``password_file``/``acl_file`` secure the main listener (no anonymous clients), as
        shipped; without them the broker lets anonymous clients in (a test-only setting).
        ``open_port`` adds a second listener without authentication or ACL on the same
        broker (per-listener settings): a stand-in for a bypassed or misconfigured ACL.
        ``tls`` adds the template's TLS listener (the readers' one) on ``tls_port`` with copies
        of these certificates; ``require_certificate`` overrides the template's choice (mutual TLS)."""
        self.port = port or free_port()
        self.extra_config = extra_config
        self.password_file = password_file
        self.acl_file = acl_file
        self.open_port = open_port
        self.tls = tls
        self.tls_port = free_port() if tls is not None else None
        self.require_certificate = require_certificate
        self.overrides = {k: str(v) for k, v in (("max_inflight_messages", max_inflight),
                                                  ("autosave_interval", autosave_interval)) if v is not None}
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="cccd-mosquitto-"))
        # A directory of its own goes with the broker object (or at exit), even when a test
        # uses start()/stop() rather than ``with``; a given workdir is the caller's.
        self._remove_dir = (weakref.finalize(self, shutil.rmtree, self.workdir, ignore_errors=True)
                            if workdir is None else None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def open_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.open_port}"

    def _copy_auth_files(self) -> tuple[Path | None, Path | None]:
        """Copy the password and ACL files to where user mosquitto can read them."""
        copies: list[Path | None] = []
        for src, name in ((self.password_file, "passwd"), (self.acl_file, "acl")):
            if src is None:
                copies.append(None)
                continue
            dst = self.workdir / name
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
            copies.append(dst)
        return copies[0], copies[1]

    def _access_lines(self, passwd: Path | None, acl: Path | None) -> list[str]:
        secured = [f"password_file {passwd}"] * (passwd is not None) + [f"acl_file {acl}"] * (acl is not None)
        if not secured:
            lines = ["per_listener_settings false", "allow_anonymous true", f"listener {self.port} 127.0.0.1"]
            return lines + ([f"listener {self.open_port} 127.0.0.1"] if self.open_port else [])
        if not self.open_port:  # as shipped: one policy for every listener
            return ["per_listener_settings false", "allow_anonymous false", *secured,
                    f"listener {self.port} 127.0.0.1"]
        return ["per_listener_settings true", f"listener {self.port} 127.0.0.1", "allow_anonymous false", *secured,
                f"listener {self.open_port} 127.0.0.1", "allow_anonymous true"]

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def _tls_lines(self) -> list[str]:
        if self.tls is None:
            return []
        # copied to where user mosquitto can read them, as the password and ACL files are
        given: dict[str, str] = {}
        for key, src in (("cafile", self.tls.ca_cert), ("certfile", self.tls.server_cert),
                         ("keyfile", self.tls.server_key)):
            dst = self.workdir / f"tls-{src.name}"
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
            given[key] = str(dst)
        if self.require_certificate is not None:
            given["require_certificate"] = "true" if self.require_certificate else "false"
        # The client id is the username, as shipped, once clients have usernames; an anonymous
        # test broker's clients have none (mosquitto would refuse them all).
        anonymous = self.password_file is None
        return [f"listener {self.tls_port} 127.0.0.1",
                *(f"{key} {given.get(key, value)}" for key, value in shipped_tls_listener()
                  if not (anonymous and key == "use_username_as_clientid"))]

    def render_config(self) -> str:
        """The configuration this broker runs: the shipped broker-wide settings, then its listeners."""
        passwd, acl = self._copy_auth_files()
        shipped = shipped_broker_settings()
        paths = {"persistence_location": f"{self.workdir}/"}
        lines = ["# rendered from systemd/mosquitto-cccd.conf by simulators.services.Mosquitto"]
        lines += [f"{key} {self.overrides.get(key, paths.get(key, value))}" for key, value in shipped]
        lines += [f"{k} {v}" for k, v in self.overrides.items() if k not in dict(shipped)]
        lines += ["log_dest stderr", "log_type error", "log_type warning"]
        lines += self._access_lines(passwd, acl)
        lines += self._tls_lines()
        return "\n".join(lines) + "\n" + self.extra_config

    def _write_config(self) -> Path:
        # mosquitto drops to user "mosquitto" when started as root: it must read/write here.
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o777)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.render_config())
        os.chmod(conf, 0o644)
        return conf

    def reload(self) -> None:
        """Re-read the password and ACL files (SIGHUP), as after ``cccd-server reader add``."""
        self._copy_auth_files()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)

    def kill(self) -> None:
        """Stop the broker abruptly (SIGKILL), as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def start(self) -> Mosquitto:
        conf = self._write_config()
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [find_program(MOSQUITTO_CANDIDATES, "mosquitto"), "-c", str(conf)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            wait_for_port(self.port)
            for extra in (self.open_port, self.tls_port):
                if extra:
                    wait_for_port(extra)
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {self.log_path.read_text()[-2000:]}") from exc
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        if self._remove_dir is not None:
            self._remove_dir()


POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def postgres_bin_dir() -> Path | None:
    """The directory of initdb and pg_ctl, or None when PostgreSQL is not installed."""
    import glob

    for path in sorted(glob.glob(POSTGRES_BIN_GLOB), reverse=True):
        if os.access(os.path.join(path, "initdb"), os.X_OK) and os.access(os.path.join(path, "pg_ctl"), os.X_OK):
            return Path(path)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


class Postgres:
    """A private PostgreSQL server on a free loopback port, in a temporary data directory.

    As root, initdb and the server run as user ``postgres`` (initdb refuses root).
    ``fsync=False`` is for tests; benchmarks keep fsync on.
    """

    def __init__(self, port: int | None = None, *, fsync: bool = False, database: str = "cccd") -> None:
        self.port = port or free_port()
        self.fsync = fsync
        self.database = database
        self.workdir = Path(tempfile.mkdtemp(prefix="cccd-postgres-"))
        self.datadir = self.workdir / "data"
        self.bindir = postgres_bin_dir()
        self._started = False

    @staticmethod
    def available() -> bool:
        return postgres_bin_dir() is not None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.workdir)

    def start(self) -> Postgres:
        if self.bindir is None:
            raise FileNotFoundError("PostgreSQL is not installed (apt install postgresql)")
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-A", "trust", "-E", "UTF8",
                  "--no-sync", "-U", "postgres")
        opts = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1"
        if not self.fsync:
            opts += " -c fsync=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", opts, "-l",
                  str(self.workdir / "postgres.log"), "-w", "start")
        self._started = True
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        return self

    def stop(self) -> None:
        if self._started and self.bindir is not None:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")
            self._started = False

    def __enter__(self) -> Postgres:
        try:
            return self.start()
        except BaseException:
            self.stop()
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
