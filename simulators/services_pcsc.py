"""Run a real pcscd with the vpcd virtual readers, private to the process that starts it.

Why a sandbox: pcsc-lite 1.9.9's daemon has its socket and pid file compiled in
(/run/pcscd/pcscd.comm and pcscd.pid; it ignores PCSCLITE_CSOCK_NAME, which only the client
library reads), and vpcd listens on all interfaces: its DEVICENAME is ``/dev/null:PORT``, and
any other host part switches it to the reversed mode, where pcscd connects out to the card
(and aborts whenever a card process exits). So a `PcscdService` runs pcscd in its own mount
and network namespaces (``unshare --mount --net``, with a user namespace when not root),
through this module's launcher (``python -m simulators.services_pcsc``):

- a private directory is bind-mounted over /run/pcscd: the socket is ``<dir>/run/pcscd.comm``,
  which this process's PC/SC clients (and the programs it starts) reach through
  ``PCSCLITE_CSOCK_NAME``;
- a private reader.conf (``pcscd -c FILE``) declares vpcd's two readers, listening inside the
  namespace, whose only interface is loopback: nothing outside can reach them;
- two free loopback ports of the host take the cards (`simulators.vcard.vpcd.VpcdLink`): the
  process that creates the sandbox listens on them for the sandbox's lifetime (so no other run
  can take them between two pcscd starts) and passes them to each launcher, which relays every
  card connection to vpcd inside the namespace.

A system pcscd, its readers and its ports are left alone, and several runs work at once.
`PcscSandbox.for_this_process` sets the environment (``PCSCLITE_CSOCK_NAME``, the card port
in ``CCCD_VPCD_PORT``); it must run before this process's first PC/SC call, because
libpcsclite reads the socket name only once.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VPCD_READER_0", "VPCD_READER_1", "PcscSandbox", "PcscdService", "ServiceUnavailable"]

PCSCD_BINARY = "/usr/sbin/pcscd"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")  # from vsmartcard-vpcd
SYSTEM_RUN_DIR = "/run/pcscd"
VPCD_READER_0 = "Virtual PCD 00 00"
VPCD_READER_1 = "Virtual PCD 00 01"
# Inside the sandbox's own network namespace vpcd keeps its usual ports: nothing collides there.
INNER_VPCD_PORT = 0x8C7B  # 35963 = reader 00 00, 35964 = reader 00 01

SANDBOX_DIR_ENV = "CCCD_PCSC_SANDBOX"
VPCD_PORT_ENV = "CCCD_VPCD_PORT"  # the host port of reader 00 00; reader 00 01 is the next one
CSOCK_ENV = "PCSCLITE_CSOCK_NAME"

READER_CONF = f"""\
# A private vpcd for one test run (simulators.services_pcsc): listens inside its own network namespace.
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x{INNER_VPCD_PORT:X}
LIBPATH      {VPCD_DRIVER}
CHANNELID    0x{INNER_VPCD_PORT:X}
"""


class ServiceUnavailable(RuntimeError):
    """pcscd or vpcd is not installed or cannot run here (tests skip on this; under CI they fail)."""


# The card ports a sandbox created by this process holds, listening, from creation to removal:
# no other run can take them between two pcscd starts (each launcher gets them passed).
_HELD_PORTS: dict[int, list[socket.socket]] = {}


def _hold_port_pair() -> int:
    """Listen on two adjacent free loopback ports p, p + 1 and keep them; returns p."""
    for _ in range(100):
        first = socket.socket()
        first.bind(("127.0.0.1", 0))
        port = int(first.getsockname()[1])
        second = socket.socket()
        try:
            if port >= 65535:
                raise OSError("no port above")
            second.bind(("127.0.0.1", port + 1))
        except OSError:
            first.close()
            second.close()
            continue
        for sock in (first, second):
            sock.listen(8)
        _HELD_PORTS[port] = [first, second]
        return port
    raise ServiceUnavailable("no two adjacent free loopback ports")


@dataclass(frozen=True)
class PcscSandbox:
    """Where a private pcscd lives: its directory (run dir and reader.conf) and its card ports."""

    directory: Path
    vpcd_port: int
    owned: bool = False  # created by this process: removed by `remove()`

    @property
    def run_dir(self) -> Path:
        return self.directory / "run"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "pcscd.comm"

    @property
    def reader_conf(self) -> Path:
        return self.directory / "reader.conf"

    @property
    def ports(self) -> tuple[int, int]:
        return self.vpcd_port, self.vpcd_port + 1

    def environment(self) -> dict[str, str]:
        return {SANDBOX_DIR_ENV: str(self.directory), VPCD_PORT_ENV: str(self.vpcd_port),
                CSOCK_ENV: str(self.socket_path)}

    @classmethod
    def create(cls) -> PcscSandbox:
        """A new sandbox (a fresh directory and free ports), without touching the environment."""
        # A short path: a Unix socket path holds at most 107 bytes.
        directory = Path(tempfile.mkdtemp(prefix="cccd-pcsc-"))
        (directory / "run").mkdir()
        return cls(directory, _hold_port_pair(), owned=True)

    @classmethod
    def for_this_process(cls) -> PcscSandbox:
        """The sandbox named by the environment, or a new one exported to it (and so to children)."""
        directory, port = os.environ.get(SANDBOX_DIR_ENV), os.environ.get(VPCD_PORT_ENV)
        if directory and port:
            sandbox = cls(Path(directory), int(port))
            sandbox.run_dir.mkdir(parents=True, exist_ok=True)
        else:
            sandbox = cls.create()
        os.environ.update(sandbox.environment())
        return sandbox

    def remove(self) -> None:
        if self.owned:
            for sock in _HELD_PORTS.pop(self.vpcd_port, []):
                sock.close()
            shutil.rmtree(self.directory, ignore_errors=True)


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
    """A private pcscd with vpcd (see the module docstring); a context manager, or start/stop/close.

    It can be stopped, crashed (SIGKILL) and started again, to test clients that must survive
    a pcscd restart; the sandbox (socket path, ports) stays the same across restarts.
    """

    def __init__(
        self,
        *,
        binary: str = PCSCD_BINARY,
        log_path: str | os.PathLike[str] | None = None,
        debug: bool = False,
        ready_reader: str = VPCD_READER_0,
        sandbox: PcscSandbox | None = None,
    ) -> None:
        self.binary = binary
        self.debug = debug
        self.ready_reader = ready_reader
        self.sandbox = sandbox or PcscSandbox.for_this_process()
        # pcscd's and the launcher's output: the reason when it cannot start
        self.log_path: str | os.PathLike[str] = log_path or self.sandbox.directory / "pcscd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ checks
    def check(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise ServiceUnavailable(f"{self.binary} not found (apt install pcscd)")
        if not VPCD_DRIVER.exists():
            raise ServiceUnavailable(f"{VPCD_DRIVER} missing (apt install vsmartcard-vpcd)")
        if shutil.which("unshare") is None:
            raise ServiceUnavailable("unshare (util-linux) not found: the private pcscd needs its own namespaces")

    # ------------------------------------------------------------ lifecycle
    @property
    def pid(self) -> int | None:
        """The launcher's pid (pcscd is its child and dies with it)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def ports(self) -> tuple[int, int]:
        """The loopback ports a card connects to: reader 00 00, reader 00 01."""
        return self.sandbox.ports

    def _daemon_pid(self) -> int:
        try:
            return int((self.sandbox.run_dir / "pcscd.pid").read_text().strip() or "0")
        except (FileNotFoundError, ValueError):
            return 0

    def _clear_stale_files(self, timeout: float = 5.0) -> None:
        """A crashed pcscd leaves its socket and pid file; wait for the process itself to be gone."""
        other = self._daemon_pid()
        deadline = time.monotonic() + timeout
        while other and _pid_alive(other):
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"the sandbox's previous pcscd (pid {other}) does not exit")
            time.sleep(0.05)
        for name in ("pcscd.pid", "pcscd.comm"):
            (self.sandbox.run_dir / name).unlink(missing_ok=True)

    def _listeners(self) -> tuple[list[socket.socket], bool]:
        """The card ports' listening sockets, and whether they are ours to close after passing
        them on: held for the sandbox's lifetime when this process created it, else bound now
        (a sandbox named by the environment, whose creator runs no pcscd of its own)."""
        held = _HELD_PORTS.get(self.sandbox.vpcd_port)
        if held is not None:
            return held, False
        listeners: list[socket.socket] = []
        try:
            for port in self.sandbox.ports:
                sock = socket.socket()
                listeners.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", port))
                sock.listen(8)
        except OSError as exc:
            for sock in listeners:
                sock.close()
            raise ServiceUnavailable(f"the sandbox's card ports {self.sandbox.ports} are taken: {exc}") from exc
        return listeners, True

    def _command(self, fds: list[int]) -> list[str]:
        unshare = shutil.which("unshare") or "unshare"
        as_user = ["--user", "--map-root-user"] if os.geteuid() != 0 else []
        pcscd = [self.binary, "-f", "-c", str(self.sandbox.reader_conf)] + (["-d"] if self.debug else [])
        return [unshare, *as_user, "--mount", "--net", "--", sys.executable, "-m", "simulators.services_pcsc",
                "--run-dir", str(self.sandbox.run_dir), "--listen-fds", ",".join(map(str, fds)), "--", *pcscd]

    def _log_tail(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def start(self, timeout: float = 15.0) -> PcscdService:
        """Start pcscd and wait until `ready_reader` is listed."""
        self.check()
        if self.pid is not None:
            return self
        self._clear_stale_files()
        self.sandbox.reader_conf.write_text(READER_CONF)
        listeners, passed_on = self._listeners()
        fds = [sock.fileno() for sock in listeners]
        try:
            with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
                self._proc = subprocess.Popen(self._command(fds), stdin=subprocess.PIPE, stdout=out,
                                              stderr=out, pass_fds=fds)
        finally:
            if passed_on:  # the launcher holds them now
                for sock in listeners:
                    sock.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise ServiceUnavailable(f"the private pcscd exited with {code}: {self._log_tail()}")
            readers = list_readers_once()
            if readers and self.ready_reader in readers:
                return self
            time.sleep(0.05)
        self.stop()
        raise ServiceUnavailable(f"pcscd did not list {self.ready_reader!r} in time: {self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pcscd cleanly (SIGTERM to the launcher, which passes it on)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdin is not None:
            proc.stdin.close()

    def kill(self) -> None:
        """Crash pcscd (SIGKILL): leaves stale socket and pid files, as a real crash does."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()  # pcscd gets SIGKILL too (its parent-death signal)
            proc.wait(10)
        if proc.stdin is not None:
            proc.stdin.close()

    def restart(self, *, crash: bool = False, timeout: float = 15.0) -> PcscdService:
        self.kill() if crash else self.stop()
        return self.start(timeout)

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> PcscdService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- the launcher
# Runs inside the new namespaces; everything below uses only the standard library.
_MS_BIND = 4096
_PR_SET_PDEATHSIG = 1
_SIOCGIFFLAGS, _SIOCSIFFLAGS = 0x8913, 0x8914
_IFF_UP = 0x1
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _loopback_up() -> None:
    """A new network namespace has its loopback interface down (``ip link set lo up``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        import fcntl

        ifreq = fcntl.ioctl(sock, _SIOCGIFFLAGS, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH22x", ifreq)[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _bind_run_dir(run_dir: str) -> None:
    """Mount the private run dir over /run/pcscd, in this mount namespace only."""
    libc = _libc()
    if not os.path.isdir(SYSTEM_RUN_DIR):
        try:
            os.makedirs(SYSTEM_RUN_DIR)
        except PermissionError:  # in a user namespace: a private /run to create it in
            if libc.mount(b"tmpfs", b"/run", b"tmpfs", 0, None) != 0:
                raise OSError(ctypes.get_errno(), "mount tmpfs on /run") from None
            os.makedirs(SYSTEM_RUN_DIR)
    if libc.mount(run_dir.encode(), SYSTEM_RUN_DIR.encode(), None, _MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bind-mount {run_dir} on {SYSTEM_RUN_DIR}: {os.strerror(err)}")


def _die_with_parent() -> None:
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            if _QUICKACK is not None:  # vpcd sends length and APDU apart: ACK at once (see vpcd.py)
                try:
                    src.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                except OSError:
                    pass
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _relay(card: socket.socket, inner_port: int) -> None:
    """One card connection: to vpcd inside the namespace, both ways, closed together."""
    deadline = time.monotonic() + 10
    while True:
        try:
            vpcd = socket.create_connection(("127.0.0.1", inner_port), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                card.close()
                return
            time.sleep(0.05)
    vpcd.settimeout(None)
    for sock in (card, vpcd):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(vpcd, card), daemon=True)
    back.start()
    _pump(card, vpcd)
    back.join()
    card.close()
    vpcd.close()


def _drop_closed_backlog(listener: socket.socket, inner_port: int) -> None:
    """Connections queued while no pcscd ran: relay the live ones, drop those already closed
    (a card link stopped meanwhile), which would otherwise blink a card in and out."""
    listener.setblocking(False)
    try:
        while True:
            try:
                card, _ = listener.accept()
            except BlockingIOError:
                return
            card.setblocking(False)
            try:
                gone = card.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            card.setblocking(True)
            if gone:
                card.close()
            else:
                threading.Thread(target=_relay, args=(card, inner_port), daemon=True).start()
    finally:
        listener.setblocking(True)


def _accept_loop(listener: socket.socket, inner_port: int) -> None:
    _drop_closed_backlog(listener, inner_port)
    while True:
        try:
            card, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_relay, args=(card, inner_port), daemon=True).start()


def launcher_main(argv: list[str] | None = None) -> int:
    """Inside ``unshare --mount --net``: loopback up, private /run/pcscd, pcscd, the card relays."""
    parser = argparse.ArgumentParser(prog="python -m simulators.services_pcsc")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--listen-fds", required=True, help="host-side listening sockets, reader 0 first")
    parser.add_argument("pcscd", nargs=argparse.REMAINDER, help="-- the pcscd command line")
    opts = parser.parse_args(argv)
    command = opts.pcscd[1:] if opts.pcscd[:1] == ["--"] else opts.pcscd
    _loopback_up()
    _bind_run_dir(opts.run_dir)
    daemon = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)  # noqa: PLW1509

    def finish(*_: object) -> None:
        if daemon.poll() is None:
            daemon.terminate()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)

    def parent_gone() -> None:  # our stdin closes when the process that started us dies
        while os.read(0, 1024):
            pass
        finish()

    threading.Thread(target=parent_gone, daemon=True).start()
    for offset, fd in enumerate(int(f) for f in opts.listen_fds.split(",")):
        listener = socket.socket(fileno=fd)
        threading.Thread(target=_accept_loop, args=(listener, INNER_VPCD_PORT + offset), daemon=True).start()
    while True:
        try:
            return daemon.wait()
        except InterruptedError:  # pragma: no cover - wait() retries EINTR itself
            continue


if __name__ == "__main__":
    sys.exit(launcher_main())
