"""Real services on free loopback ports, for tests, benchmarks and the demo.

Each service is a context manager that starts the real program, waits until it answers
and stops it (by its PID) on exit; nothing outlives the process that started it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
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


class Mosquitto:
    """A private mosquitto broker on a free loopback port.

    ``extra_config`` lines are appended to the generated configuration (ACLs, password
    files, TLS listeners). Its persistence lives in its own directory, so a restart
    keeps the persistent sessions and queued messages, as a real broker does.
    """

    def __init__(self, port: int | None = None, extra_config: str = "", workdir: Path | None = None) -> None:
        self.port = port or free_port()
        self.extra_config = extra_config
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="cccd-mosquitto-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        # mosquitto drops to user "mosquitto" when started as root: it must read/write here.
        os.chmod(self.workdir, 0o777)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 100\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
            + self.extra_config
        )
        os.chmod(conf, 0o644)
        return conf

    def start(self) -> "Mosquitto":
        conf = self._write_config()
        self.log_path = self.workdir / "mosquitto.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [find_program(MOSQUITTO_CANDIDATES, "mosquitto"), "-c", str(conf)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {self.log_path.read_text()[-2000:]}")
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

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)
