"""Run a real pcscd with the vpcd virtual readers, for tests and the demo.

`PcscdService` starts `pcscd -f` as a child process, waits until the vpcd
reader is listed, and stops it by its PID. It can be killed and started
again (to test clients that must survive a pcscd restart).

pcscd and vpcd are machine-global (socket /run/pcscd/pcscd.comm, TCP ports
35963/35964), so a service holds an exclusive file lock
(/tmp/cccd-pcscd.lock) from `start()` to `close()`: two test sessions wait
for each other instead of fighting over the daemon.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["LOCK_PATH", "VPCD_READER_0", "VPCD_READER_1", "PcscdService", "ServiceUnavailable"]

PCSCD_BINARY = "/usr/sbin/pcscd"
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
RUN_DIR = Path("/run/pcscd")
LOCK_PATH = "/tmp/cccd-pcscd.lock"
VPCD_READER_0 = "Virtual PCD 00 00"
VPCD_READER_1 = "Virtual PCD 00 01"


class ServiceUnavailable(RuntimeError):
    """pcscd or vpcd is not installed/usable here (tests skip on this)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_readers_once() -> list[str] | None:
    """Reader names from a fresh PC/SC context; None when pcscd does not answer."""
    from smartcard import scard  # pyscard: only needed once a daemon runs

    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return None
    try:
        hr, readers = scard.SCardListReaders(ctx, [])
        if hr == scard.SCARD_S_SUCCESS:
            return list(readers)
        if hr == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        return None
    finally:
        scard.SCardReleaseContext(ctx)


class PcscdService:
    """A pcscd child process with vpcd; use as a context manager or start/stop/close."""

    def __init__(
        self,
        *,
        binary: str = PCSCD_BINARY,
        lock_path: str = LOCK_PATH,
        log_path: str | os.PathLike[str] | None = None,
        debug: bool = False,
        ready_reader: str = VPCD_READER_0,
    ) -> None:
        self.binary = binary
        self.lock_path = lock_path
        self.log_path = log_path
        self.debug = debug
        self.ready_reader = ready_reader
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None

    # ------------------------------------------------------------ checks
    def check(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise ServiceUnavailable(f"{self.binary} not found (apt install pcscd)")
        if not VPCD_CONF.exists():
            raise ServiceUnavailable(f"{VPCD_CONF} missing (apt install vsmartcard-vpcd)")
        if os.geteuid() != 0:
            try:
                owner = RUN_DIR.stat().st_uid
            except FileNotFoundError:
                raise ServiceUnavailable(f"{RUN_DIR} missing: run `install -d -o $USER {RUN_DIR}` as root once")
            if owner != os.geteuid():
                raise ServiceUnavailable(f"{RUN_DIR} is not owned by this user")

    # ------------------------------------------------------------ lifecycle
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _acquire_lock(self, timeout: float) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise ServiceUnavailable(f"{self.lock_path} held by another pcscd session")
                time.sleep(0.2)
        self._lock_fd = fd

    def _clear_stale_files(self) -> None:
        pid_file = RUN_DIR / "pcscd.pid"
        try:
            other = int(pid_file.read_text().strip() or "0")
        except (FileNotFoundError, ValueError):
            other = 0
        if other and _pid_alive(other):
            raise ServiceUnavailable(f"another pcscd (pid {other}) is running outside the lock")
        for name in ("pcscd.pid", "pcscd.comm"):
            try:
                (RUN_DIR / name).unlink()
            except FileNotFoundError:
                pass

    def start(self, timeout: float = 15.0, lock_timeout: float = 600.0) -> PcscdService:
        """Start pcscd and wait until `ready_reader` is listed."""
        self.check()
        self._acquire_lock(lock_timeout)
        if self.pid is not None:
            return self
        self._clear_stale_files()
        args = [self.binary, "-f"] + (["-d"] if self.debug else [])
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceUnavailable(f"pcscd exited with {self._proc.returncode}")
            readers = list_readers_once()
            if readers and self.ready_reader in readers:
                return self
            time.sleep(0.05)
        self.stop()
        raise ServiceUnavailable(f"pcscd did not list {self.ready_reader!r} in time")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pcscd (SIGTERM, then SIGKILL); keeps the lock for a restart."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """Crash pcscd (SIGKILL): leaves stale socket/pid files, as a real crash does."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self, *, crash: bool = False, timeout: float = 15.0) -> PcscdService:
        self.kill() if crash else self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Stop pcscd and release the lock."""
        try:
            self.stop()
        finally:
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> PcscdService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
