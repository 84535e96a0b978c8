"""A lazy filesystem for power-cut drills: written data reaches the disk only on fsync.

Modelled on LazyFS (the FUSE filesystem database testers use to lose unsynced writes):
a FUSE passthrough over a backing directory that keeps every write in its own page cache
(4 KiB pages per file, and each file's logical size) until the file is fsynced or
fdatasynced; then that file's dirty pages and size go to the backing file, which is
fsynced. Closing a file does not sync it. The control socket's ``cut`` is the power cut:
every unsynced page and size change is dropped at one instant and every later operation
fails with EIO (a dead disk), until the filesystem is unmounted. Mounting it again over
the same backing directory shows exactly what a machine finds after the power returns.

Like LazyFS, metadata operations (create, mkdir, rename, unlink, chmod) are applied to
the backing directory at once, so they survive a cut without a directory fsync: the model
is harsh on file contents (the page cache) and kind on the directory tree. Truncation is
lazy like a write (it is a size change), so a cut can bring back a file's old length.

Why not the real thing: no device-mapper in this kernel (``dmsetup`` finds no
``/dev/mapper/control``), so neither dm-flakey nor dm-log-writes; LazyFS itself is not a
Debian or PyPI package. FUSE is in the kernel; this needs ``fuse3`` (fusermount3) and
``libfuse3-3`` from apt and ``mfusepy`` (ctypes bindings) from PyPI.

Run: ``python -m simulators.lazyfs BACKING MOUNTPOINT CONTROL_SOCKET`` (foreground), or
:class:`LazyMount` from a test, which starts that process and speaks to its socket.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

PAGE = 4096
_T = TypeVar("_T")


@dataclass
class _Trigger:
    """Cut the power just before the ``nth`` fsync of ``path`` (counted from when it was armed)."""

    path: str
    nth: int
    keep: float
    seed: int
    seen: int = 0


@dataclass
class _Node:
    """One file's unsynced state: dirty pages, its logical size, and how much of the backing
    file is still valid (a lazy truncate hides the backing bytes beyond it)."""

    fd: int  # the backing file, read-write (it follows a rename)
    size: int
    valid: int
    dirty: dict[int, bytearray] = field(default_factory=dict)


class LazyCore:
    """The page cache and its rules, over a backing directory, with no FUSE in it (so unit
    tests can drive it directly). Paths are the filesystem's own ("/a/b"). Thread-safe."""

    def __init__(self, backing: Path) -> None:
        self.backing = backing
        self._lock = threading.RLock()
        self._nodes: dict[str, _Node] = {}
        self._next_fh = 1
        self.cut_done = False
        self.stats = {"writes": 0, "fsyncs": 0, "pages_synced": 0, "pages_dropped": 0, "pages_kept": 0,
                      "files_dropped": 0}
        self.fsyncs_by_file: dict[str, int] = {}
        self._armed: _Trigger | None = None

    # -- plumbing
    def real(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    def _guard(self) -> None:
        if self.cut_done:
            raise OSError(errno.EIO, "the power is off")

    def locked(self, fn: Callable[[], _T]) -> _T:
        with self._lock:
            self._guard()
            return fn()

    def _node(self, path: str) -> _Node:
        node = self._nodes.get(path)
        if node is None:
            fd = os.open(self.real(path), os.O_RDWR)
            size = os.fstat(fd).st_size
            node = self._nodes[path] = _Node(fd=fd, size=size, valid=size)
        return node

    def _drop(self, path: str) -> None:
        node = self._nodes.pop(path, None)
        if node is not None:
            os.close(node.fd)

    def _backing_page(self, path: str, node: _Node, index: int) -> bytearray:
        """The page as the disk holds it, cut to what the logical file still has there."""
        start = index * PAGE
        page = bytearray(PAGE)
        valid = min(node.valid, node.size) - start
        if valid > 0:
            data = os.pread(node.fd, min(PAGE, valid), start)
            page[: len(data)] = data
        return page

    # -- files
    def open(self, path: str, flags: int, mode: int | None = None) -> int:
        def run() -> int:
            # Creation and permission checks on the backing file now; data goes through the node.
            wanted = flags & ~(os.O_TRUNC | os.O_APPEND)  # sizes and appends are ours to track
            os.close(os.open(self.real(path), wanted, 0o644 if mode is None else mode))
            if flags & os.O_TRUNC:
                self._truncate(path, 0)
            self._node(path)
            self._next_fh += 1
            return self._next_fh
        return self.locked(run)

    def size(self, path: str) -> int | None:
        with self._lock:
            node = self._nodes.get(path)
            return None if node is None else node.size

    def read(self, path: str, size: int, offset: int) -> bytes:
        def run() -> bytes:
            node = self._node(path)
            end = min(offset + size, node.size)
            out = bytearray()
            pos = offset
            while pos < end:
                index, within = divmod(pos, PAGE)
                page = node.dirty.get(index)
                if page is None:
                    page = self._backing_page(path, node, index)
                take = min(PAGE - within, end - pos)
                out += page[within: within + take]
                pos += take
            return bytes(out)
        return self.locked(run)

    def write(self, path: str, data: bytes, offset: int) -> int:
        def run() -> int:
            node = self._node(path)
            pos, view = offset, memoryview(data)
            while view:
                index, within = divmod(pos, PAGE)
                page = node.dirty.get(index)
                if page is None:
                    page = node.dirty[index] = self._backing_page(path, node, index)
                take = min(PAGE - within, len(view))
                page[within: within + take] = view[:take]
                view = view[take:]
                pos += take
            node.size = max(node.size, offset + len(data))
            self.stats["writes"] += 1
            return len(data)
        return self.locked(run)

    def _truncate(self, path: str, length: int) -> None:
        node = self._node(path)
        if length < node.size:
            last = length // PAGE
            for index in [i for i in node.dirty if i > last or (i == last and length % PAGE == 0)]:
                del node.dirty[index]
            if length % PAGE:
                page = node.dirty.get(last)
                if page is None:
                    page = node.dirty[last] = self._backing_page(path, node, last)
                page[length % PAGE:] = bytes(PAGE - length % PAGE)
            node.valid = min(node.valid, length)
        node.size = length

    def truncate(self, path: str, length: int) -> None:
        self.locked(lambda: self._truncate(path, length))

    def fsync(self, path: str) -> None:
        """This file's dirty pages and size to the backing file, then its fsync."""
        def run() -> None:
            trigger = self._armed
            if trigger is not None and trigger.path == path:
                trigger.seen += 1
                if trigger.seen >= trigger.nth:
                    self._cut(trigger.keep, trigger.seed)  # this fsync never happens
                    raise OSError(errno.EIO, "the power went during this fsync")
            node = self._node(path)
            fd = node.fd
            if node.valid < os.fstat(fd).st_size:
                os.ftruncate(fd, node.valid)  # what a lazy truncate cut off goes first
            for index in sorted(node.dirty):
                start = index * PAGE
                if start < node.size:
                    os.pwrite(fd, bytes(node.dirty[index][: node.size - start]), start)
            os.ftruncate(fd, node.size)
            self.stats["pages_synced"] += len(node.dirty)
            node.dirty.clear()
            node.valid = node.size
            os.fsync(fd)
            self.stats["fsyncs"] += 1
            self.fsyncs_by_file[path] = self.fsyncs_by_file.get(path, 0) + 1
        self.locked(run)

    # -- the tree (applied to the backing directory at once)
    def rename(self, old: str, new: str) -> None:
        def run() -> None:
            os.rename(self.real(old), self.real(new))
            node = self._nodes.pop(old, None)
            self._drop(new)
            if node is not None:
                self._nodes[new] = node
            prefix = old.rstrip("/") + "/"  # a directory moved: its files' caches move with it
            for key in [k for k in self._nodes if k.startswith(prefix)]:
                self._nodes[new.rstrip("/") + "/" + key[len(prefix):]] = self._nodes.pop(key)
        self.locked(run)

    def unlink(self, path: str) -> None:
        def run() -> None:
            os.unlink(self.real(path))
            self._drop(path)
        self.locked(run)

    def unsynced(self) -> dict[str, int]:
        """Dirty pages per file (for the control socket and tests)."""
        with self._lock:
            return {p: len(n.dirty) for p, n in self._nodes.items() if n.dirty or n.size != n.valid}

    # -- the power cut
    def cut(self, keep: float = 0.0, seed: int = 0) -> dict[str, int]:
        """The power cut, at once: every later operation fails. ``keep`` is the chance that an
        unsynced page had already been written back by the kernel when the power went (a
        seeded random subset, in no order: a disk may persist any of them); the rest is lost."""
        with self._lock:
            return self._cut(keep, seed)

    def arm(self, path: str, nth: int, keep: float = 0.0, seed: int = 0) -> None:
        """Cut the power just before the ``nth`` fsync of ``path`` from now (mid-commit, mid-checkpoint)."""
        with self._lock:
            self._armed = _Trigger(path, nth, keep, seed)

    def _cut(self, keep: float, seed: int) -> dict[str, int]:
        if self.cut_done:
            return dict(self.stats)
        rng = random.Random(seed)
        for node in self._nodes.values():
            for index in sorted(node.dirty):
                start = index * PAGE
                if start < node.size and rng.random() < keep:
                    os.pwrite(node.fd, bytes(node.dirty[index][: node.size - start]), start)
                    self.stats["pages_kept"] += 1
                else:
                    self.stats["pages_dropped"] += 1
        self.stats["files_dropped"] = sum(1 for n in self._nodes.values() if n.dirty or n.size != n.valid)
        for path in list(self._nodes):
            self._drop(path)
        self.cut_done = True
        self._armed = None
        return dict(self.stats)


def _operations(core: LazyCore) -> object:
    """The FUSE operations over ``core`` (mfusepy's high-level API: paths, int handles)."""
    import mfusepy

    def errors(fn: Callable[..., _T]) -> Callable[..., _T]:
        def run(*args: object) -> _T:
            try:
                return fn(*args)
            except OSError as exc:
                raise mfusepy.FuseOSError(exc.errno or errno.EIO) from None
        return run

    class LazyOperations(mfusepy.Operations):  # type: ignore[misc]  # mfusepy is untyped
        use_ns = True

        @errors
        def getattr(self, path: str, fh: int | None = None) -> dict[str, int]:
            def run() -> dict[str, int]:
                st = os.lstat(core.real(path))
                attrs = {key: getattr(st, key) for key in ("st_mode", "st_nlink", "st_uid", "st_gid",
                                                           "st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
                attrs = {k.removesuffix("_ns"): v for k, v in attrs.items()}
                size = core.size(path)
                attrs["st_size"] = st.st_size if size is None else size
                attrs["st_blocks"] = (attrs["st_size"] + 511) // 512
                return attrs
            return core.locked(run)

        @errors
        def readdir(self, path: str, fh: int) -> list[str]:
            return core.locked(lambda: [".", "..", *os.listdir(core.real(path))])

        @errors
        def access(self, path: str, amode: int) -> int:
            return core.locked(lambda: 0 if os.access(core.real(path), amode) else -errno.EACCES)

        @errors
        def statfs(self, path: str) -> dict[str, int]:
            def run() -> dict[str, int]:
                st = os.statvfs(core.real(path))
                return {key: getattr(st, key) for key in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                                          "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}
            return core.locked(run)

        @errors
        def mkdir(self, path: str, mode: int) -> int:
            core.locked(lambda: os.mkdir(core.real(path), mode))
            return 0

        @errors
        def rmdir(self, path: str) -> int:
            core.locked(lambda: os.rmdir(core.real(path)))
            return 0

        @errors
        def chmod(self, path: str, mode: int) -> int:
            core.locked(lambda: os.chmod(core.real(path), mode))
            return 0

        @errors
        def chown(self, path: str, uid: int, gid: int) -> int:
            core.locked(lambda: os.chown(core.real(path), uid, gid))
            return 0

        @errors
        def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
            core.locked(lambda: os.utime(core.real(path), ns=times) if times else os.utime(core.real(path)))
            return 0

        @errors
        def rename(self, old: str, new: str) -> int:
            core.rename(old, new)
            return 0

        @errors
        def unlink(self, path: str) -> int:
            core.unlink(path)
            return 0

        @errors
        def create(self, path: str, mode: int, fi: object = None) -> int:
            return core.open(path, os.O_CREAT | os.O_RDWR, mode)

        @errors
        def open(self, path: str, flags: int) -> int:
            return core.open(path, flags)

        @errors
        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            return core.read(path, size, offset)

        @errors
        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            return core.write(path, data, offset)

        @errors
        def truncate(self, path: str, length: int, fh: int | None = None) -> int:
            core.truncate(path, length)
            return 0

        @errors
        def fsync(self, path: str, datasync: int, fh: int) -> int:
            core.fsync(path)
            return 0

        @errors
        def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
            def run() -> None:
                fd = os.open(core.real(path), os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            core.locked(run)
            return 0

        def flush(self, path: str, fh: int) -> int:
            return 0  # close(2) is not a sync: that is the point

        def release(self, path: str, fh: int) -> int:
            return 0  # the node keeps its backing fd (and its unsynced pages) after a close

    return LazyOperations()


def _serve_control(core: LazyCore, sock: socket.socket) -> None:
    """One JSON line per request: {"cmd": "cut", "keep": 0.5, "seed": 1} | {"cmd": "arm", "path":
    "/a.db-wal", "nth": 3, "keep": 0.0, "seed": 1} | {"cmd": "stats"}."""
    while True:
        conn, _ = sock.accept()
        with conn, conn.makefile("rwb") as stream:
            for line in stream:
                request = json.loads(line)
                cmd = request.get("cmd")
                keep, seed = float(request.get("keep", 0.0)), int(request.get("seed", 0))
                if cmd == "cut":
                    reply: dict[str, object] = {"ok": True, **core.cut(keep, seed)}
                elif cmd == "arm":
                    core.arm(str(request["path"]), int(request["nth"]), keep, seed)
                    reply = {"ok": True}
                elif cmd == "stats":
                    reply = {"ok": True, **core.stats, "fsyncs_by_file": dict(core.fsyncs_by_file),
                             "unsynced": core.unsynced(), "cut": core.cut_done}
                else:
                    reply = {"ok": False, "error": f"unknown command {cmd!r}"}
                stream.write(json.dumps(reply).encode() + b"\n")
                stream.flush()


def serve(backing: Path, mountpoint: Path, control: Path) -> None:
    """Mount the lazy filesystem (foreground) until it is unmounted."""
    import mfusepy

    core = LazyCore(backing)
    control.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(control))
    sock.listen(4)
    threading.Thread(target=_serve_control, args=(core, sock), daemon=True, name="lazyfs-control").start()
    # The kernel's own caches must not hide ours: no attribute or entry caching across the cut.
    mfusepy.FUSE(_operations(core), str(mountpoint), foreground=True, fsname="lazyfs", attr_timeout=0,
                 entry_timeout=0, negative_timeout=0)


def _fusermount() -> str:
    for name in ("fusermount3", "fusermount"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("fusermount3 not found: apt-get install fuse3")


class LazyMount:
    """The lazy filesystem as a process: mount ``backing`` at ``mountpoint``, cut the power, unmount."""

    def __init__(self, backing: Path, mountpoint: Path) -> None:
        self.backing, self.mountpoint = backing, mountpoint
        self.control = mountpoint.parent / f".{mountpoint.name}.lazyfs.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def mount(self, timeout: float = 15.0) -> LazyMount:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.log = self.mountpoint.parent / f".{self.mountpoint.name}.lazyfs.log"
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "simulators.lazyfs", str(self.backing), str(self.mountpoint),
                 str(self.control)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (os.path.ismount(self.mountpoint) and self.control.exists()):
            if self.proc.poll() is not None:
                raise RuntimeError(f"lazyfs exited with {self.proc.returncode}: see {self.log}")
            if time.monotonic() > deadline:
                raise TimeoutError("lazyfs did not mount")
            time.sleep(0.05)
        return self

    def request(self, cmd: str, **args: object) -> dict[str, object]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.control))
            sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            with sock.makefile("rb") as stream:
                reply: dict[str, object] = json.loads(stream.readline())
        return reply

    def cut(self, keep: float = 0.0, seed: int = 0) -> dict[str, object]:
        """The power cut: unsynced data gone at this instant (but a ``keep`` share of its pages,
        chosen by ``seed``), the disk dead until unmounted."""
        return self.request("cut", keep=keep, seed=seed)

    def arm(self, path: str, nth: int, keep: float = 0.0, seed: int = 0) -> None:
        """Cut the power just before the ``nth`` fsync of ``path`` (a path inside the mount)."""
        self.request("arm", path="/" + str(Path(path).relative_to(self.mountpoint)), nth=nth, keep=keep, seed=seed)

    def stats(self) -> dict[str, object]:
        return self.request("stats")

    def unmount(self) -> None:
        if self.proc is None:
            return
        # Lazy (-z): a process killed with the power may still hold files open for a moment.
        subprocess.run([_fusermount(), "-u", "-z", str(self.mountpoint)], check=False, capture_output=True)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> LazyMount:
        return self.mount()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.unmount()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python -m simulators.lazyfs BACKING MOUNTPOINT CONTROL_SOCKET")
    serve(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
