"""Drill: power cuts that drop unsynced writes (issue 16 item 7), not just a kill -9.

A kill -9 keeps the kernel's page cache, so it cannot show a missing fsync. Here the desk's
state directory (outbox, debounce memory, key) lives on :mod:`simulators.lazyfs`, a FUSE
filesystem that holds every write in its own cache until fsync and drops all of it on
``cut``. The desk is the real agent as the drills build it (``drill_desk``: the shipped
broker over TLS, receipts on) in its own process, fed through the desk flow; the ledger is
what ``CheckInService.record_checkin`` returned — the call before the screen says
"recorded". At seeded random moments the power is cut (unsynced data gone, the disk dead),
the desk is killed, the filesystem is mounted again and the desk restarted; at the end every
event the screen called recorded must have been stored exactly once, and the database must
pass ``PRAGMA integrity_check`` after every cut.

Controls, so the drill cannot pass vacuously: a file written without fsync is gone after a
cut while a synced one stays, and the outbox with ``synchronous=OFF`` (or ``NORMAL``, which
in WAL mode syncs only at checkpoints) loses events the screen called recorded, where the
shipped ``FULL`` loses none.

The desk process: ``python -m tests.drills.test_power_cut CONFIG_JSON`` (see :func:`_desk_main`).
A longer run: ``CCCD_POWER_CUTS=40 .venv/bin/python -m pytest -s --timeout 1400 -k random_points
tests/drills/test_power_cut.py`` (about 10 s per cut).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]
FACILITY, READER = "34001", "desk-1"
CUTS = int(os.environ.get("CCCD_POWER_CUTS", "8"))  # a longer run: CCCD_POWER_CUTS=40
# How each cut is chosen: at a random moment (all unsynced pages lost, or a random share of them
# written back first), or by the filesystem itself just before a chosen fsync of the WAL (a
# commit) or of the database file (a checkpoint).
MODES = ("time", "time+writeback", "commit", "checkpoint")
SEED = 16_07


def _fuse_usable() -> str | None:
    """Why FUSE cannot be used here, or None."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse in this kernel or container"
    if not (shutil.which("fusermount3") or shutil.which("fusermount")):
        return "fusermount3 missing (apt-get install fuse3)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: libfuse3 not found by ctypes
        return f"mfusepy/libfuse3 not loadable: {exc}"
    return None


@pytest.fixture()
def lazy_root():
    reason = _fuse_usable()
    if reason:
        pytest.skip(f"lazy filesystem not available: {reason}")
    # Not under pytest's tmp dir: that path is long, and the control socket's path must stay short.
    root = Path(tempfile.mkdtemp(prefix="cccd-lazyfs-"))
    yield root
    if os.path.ismount(root / "mnt"):  # a test that failed half-way: never delete through the mount
        subprocess.run([shutil.which("fusermount3") or "fusermount", "-u", "-z", str(root / "mnt")], check=False)
    shutil.rmtree(root, ignore_errors=True)


# -- the page-cache rules, without FUSE -------------------------------------------------------------

def test_lazy_core_keeps_only_what_was_fsynced(tmp_path):
    from simulators.lazyfs import LazyCore

    core = LazyCore(tmp_path)
    for name in ("synced", "unsynced", "shrunk"):
        core.open(f"/{name}", os.O_CREAT | os.O_RDWR, 0o644)
    core.write("/synced", b"a" * 10_000, 0)
    core.fsync("/synced")
    core.write("/synced", b"b" * 100, 5000)  # after the fsync: lost
    core.write("/unsynced", b"c" * 5000, 0)
    core.write("/shrunk", b"d" * 9000, 0)
    core.fsync("/shrunk")
    core.truncate("/shrunk", 10)  # a lazy size change: lost too
    assert core.read("/synced", 10, 4995) == b"aaaaabbbbb"
    assert core.read("/shrunk", 100, 0) == b"d" * 10
    dropped = core.cut()
    assert dropped["files_dropped"] == 3
    with pytest.raises(OSError):
        core.read("/synced", 1, 0)  # the disk is dead until remounted
    assert (tmp_path / "synced").read_bytes() == b"a" * 10_000
    assert (tmp_path / "unsynced").read_bytes() == b""
    assert (tmp_path / "shrunk").read_bytes() == b"d" * 9000


def test_lazy_core_rename_carries_unsynced_pages_and_a_lazy_truncate_hides_old_bytes(tmp_path):
    from simulators.lazyfs import LazyCore

    core = LazyCore(tmp_path)
    core.open("/tmp-file", os.O_CREAT | os.O_RDWR, 0o644)
    core.write("/tmp-file", b"x" * 6000, 0)
    core.fsync("/tmp-file")
    core.truncate("/tmp-file", 100)
    core.write("/tmp-file", b"y", 5000)  # grows again: 100..5000 must read as zeros, not old x's
    assert core.read("/tmp-file", 10, 100) == bytes(10)
    core.rename("/tmp-file", "/final")
    core.fsync("/final")
    data = (tmp_path / "final").read_bytes()
    assert len(data) == 5001 and data[:100] == b"x" * 100 and data[100:5000] == bytes(4900) and data[-1:] == b"y"


# -- the filesystem, mounted ------------------------------------------------------------------------

def test_lazyfs_mounted_loses_an_unsynced_file_and_keeps_a_synced_one(lazy_root):
    from simulators.lazyfs import LazyMount

    mount = LazyMount(lazy_root / "disk", lazy_root / "mnt").mount()
    try:
        with open(mount.mountpoint / "synced", "wb") as f:
            f.write(b"kept" * 1000)
            f.flush()
            os.fsync(f.fileno())
        (mount.mountpoint / "unsynced").write_bytes(b"gone" * 1000)  # closed, never fsynced
        assert (mount.mountpoint / "unsynced").read_bytes() == b"gone" * 1000  # readable before the cut
        report = mount.cut()
        with pytest.raises(OSError):
            (mount.mountpoint / "synced").read_bytes()
    finally:
        mount.unmount()
    print(f"\nlazyfs control: cut dropped {report['pages_dropped']} pages in {report['files_dropped']} files")
    mount.mount()
    try:
        assert (mount.mountpoint / "synced").read_bytes() == b"kept" * 1000
        assert (mount.mountpoint / "unsynced").read_bytes() == b""  # the name survives (metadata), not the data
    finally:
        mount.unmount()


def test_power_cut_right_after_cccd_edge_init_keeps_the_desks_files(lazy_root):
    """A technician runs ``cccd-edge init`` and unplugs the Pi: the settings and the keys must
    be whole after the power returns (an empty key file would stop the desk, and ``init``
    never overwrites a key file)."""
    from app.init_config import DeskIdentity, init_desk
    from edge.config import EdgeSettings
    from edge.settings_base import read_secret_file
    from simulators.lazyfs import LazyMount

    mount = LazyMount(lazy_root / "disk", lazy_root / "mnt").mount()
    config_dir = mount.mountpoint / "etc"
    try:
        init_desk(DeskIdentity(FACILITY, READER, config_dir=config_dir, state_dir=mount.mountpoint / "state"))
        before = {p.name: p.read_bytes() for p in config_dir.iterdir() if p.is_file()}
        mount.cut()
    finally:
        mount.unmount()
    after = {p.name: p.read_bytes() for p in (lazy_root / "disk" / "etc").iterdir() if p.is_file()}
    assert after == before
    settings = EdgeSettings.load(lazy_root / "disk" / "etc" / "edge.toml")
    assert settings.facility_code == FACILITY
    assert len(read_secret_file(lazy_root / "disk" / "etc" / "pseudonym.key")) == 32


# -- the desk process --------------------------------------------------------------------------------

class _BrokerSettings:
    """What ``drill_desk`` asks of a broker, from the parent's JSON (the broker lives there)."""

    def __init__(self, mqtt: dict[str, object]) -> None:
        self._mqtt = mqtt

    def reader_mqtt(self, facility: str, reader: str) -> dict[str, object]:
        return self._mqtt


def _desk_main(config: dict) -> None:
    """The desk, in its own process: the agent on the lazy filesystem, ``count`` scans through
    the desk flow, one ``recorded <event id>`` line per check-in that ``record_checkin``
    returned (before the screen says so), then it publishes until it is killed or, with
    ``drain``, until its outbox is empty."""
    from app.events import QrScanned
    from simulators.population import Population
    from tests.shipped_broker import drill_desk

    agent = drill_desk(Path(config["state"]), _BrokerSettings(config["mqtt"]), FACILITY, READER,
                       retry_after=1.0)
    if config.get("synchronous"):
        agent.outbox._db.execute(f"PRAGMA synchronous={config['synchronous']}")  # the controls only
    service = agent.service
    record = service.record_checkin

    def recorded(*args, **kwargs):
        event = record(*args, **kwargs)
        sys.stdout.write(f"recorded {event.event_id} {event.occurred_at.isoformat()}\n")
        sys.stdout.flush()
        return event

    service.record_checkin = recorded
    agent.start()
    print("ready", flush=True)
    population = Population(config["seed"])
    for i in range(config["offset"], config["offset"] + config["count"]):
        agent.events.put(QrScanned(population.citizen(i).qr_payload().encode(), source_id="drill"))
        time.sleep(config["gap"])
    while not agent.events.empty():
        time.sleep(0.01)
    print("scanned", flush=True)
    if config.get("drain"):
        drained = agent.publisher.wait_drained(120)
        agent.stop()
        print("drained" if drained else "not-drained", flush=True)
        return
    while True:
        time.sleep(1)


class _Desk:
    """The desk process and its ledger (read from its stdout, which survives its kill)."""

    def __init__(self, state: Path, mqtt: dict[str, object], *, count: int, offset: int, gap: float = 0.01,
                 drain: bool = False, synchronous: str | None = None) -> None:
        config = {"state": str(state), "mqtt": mqtt, "count": count, "offset": offset, "gap": gap,
                  "drain": drain, "synchronous": synchronous, "seed": 167}
        self.recorded: list[str] = []
        self.occurred: dict[str, datetime] = {}
        self.lines: list[str] = []
        self._seen = threading.Condition()
        # Its log (every write refused after the cut) beside the mount, not on it.
        self.log = state.parent / f"desk-{offset}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.drills.test_power_cut", json.dumps(config)],
                                         cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                                         start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                word, _, rest = line.strip().partition(" ")
                if word == "recorded":
                    event_id, occurred = rest.split(" ")
                    self.recorded.append(event_id)
                    self.occurred[event_id] = datetime.fromisoformat(occurred)
                else:
                    self.lines.append(word)
                self._seen.notify_all()

    def wait_for(self, word: str, timeout: float = 60) -> None:
        with self._seen:
            if not self._seen.wait_for(lambda: word in self.lines or self.proc.poll() is not None, timeout):
                raise TimeoutError(f"the desk never said {word!r}")
        assert word in self.lines, (f"the desk exited ({self.proc.returncode}) before {word!r}: "
                                    + self.log.read_text(errors="replace")[-2000:])

    def wait_recorded(self, count: int, timeout: float = 60) -> None:
        with self._seen:
            self._seen.wait_for(lambda: len(self.recorded) >= count or self.proc.poll() is not None, timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(10)


def _outbox_on_disk(disk: Path) -> tuple[str, int, set[str]]:
    """What the disk holds after a cut, checked on a copy (opening it runs WAL recovery):
    ``PRAGMA integrity_check``, the outbox's depth and its event ids."""
    db = disk / FACILITY / READER / "outbox.sqlite"
    copy = Path(tempfile.mkdtemp(prefix="cccd-after-cut-"))
    try:
        for suffix in ("", "-wal"):  # the -shm index is rebuilt from the WAL, as after a real boot
            if Path(f"{db}{suffix}").exists():
                shutil.copy(f"{db}{suffix}", copy / f"outbox.sqlite{suffix}")
        if not (copy / "outbox.sqlite").exists():
            return "no database", 0, set()
        conn = sqlite3.connect(copy / "outbox.sqlite")
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            ids = {r[0] for r in conn.execute("SELECT event_id FROM outbox")} if "outbox" in tables else set()
        finally:
            conn.close()
        return integrity, len(ids), ids
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _outbox_path_is_where_the_drill_looks(tmp: Path) -> None:
    from edge.config import EdgeSettings

    settings = EdgeSettings.load(None, facility_code=FACILITY, reader_id=READER, pseudonym_key_file=tmp / "k",
                                 state_dir=tmp / FACILITY / READER)
    assert settings.outbox_path == tmp / FACILITY / READER / "outbox.sqlite"


# -- the drill ----------------------------------------------------------------------------------------

def _server_rows(db: Path) -> list[tuple[str, str]]:
    """(event id, citizen pseudonym) of every event the server stored (its audit table)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.execute("SELECT event_id, citizen_pseudonym FROM checkin_event"))
    finally:
        conn.close()


def test_power_cut_at_random_points_loses_no_recorded_checkin(lazy_root, tmp_path):
    from edge.domain.qr import VIETNAM_TZ
    from simulators.lazyfs import LazyMount
    from simulators.services import free_port
    from tests.processes import READ_TOKEN, ServerProcess
    from tests.shipped_broker import SERVER_PASSWORD, SERVER_USER, ShippedBroker

    _outbox_path_is_where_the_drill_looks(lazy_root)
    rng = random.Random(SEED)
    disk, mnt = lazy_root / "disk", lazy_root / "mnt"
    rows = []
    recorded: list[str] = []
    occurred: dict[str, datetime] = {}
    offset = 0
    with ShippedBroker([(FACILITY, READER)]) as broker:
        server_dir = tmp_path / "server"
        server_dir.mkdir()
        port = free_port()
        server = ServerProcess(server_dir, broker.local_url, port=port, config_text=(
            f'database_url = "sqlite:///{server_dir / "server.sqlite"}"\n'
            f'[mqtt]\nurl = "{broker.local_url}"\nclient_id = "drill-server"\n'
            f'username = "{SERVER_USER}"\npassword = "{SERVER_PASSWORD}"\n'
            f'[api]\nport = {port}\nread_tokens = ["{READ_TOKEN}"]\n[registry]\nauto_register = true\n'))
        server.start()
        mqtt = broker.reader_mqtt(FACILITY, READER)
        try:
            for cut in range(1, CUTS + 1):
                mode = MODES[(cut - 1) % len(MODES)]
                keep = 0.0 if mode == "time" else round(rng.uniform(0.2, 0.8), 2)
                mount = LazyMount(disk, mnt).mount()
                count = rng.randint(80, 160) if mode in ("time", "time+writeback", "commit") else 400
                outbox = mnt / FACILITY / READER / "outbox.sqlite"
                if mode == "commit":  # mid-commit: the WAL's fsync for one insert or delete never happens
                    mount.arm(Path(f"{outbox}-wal"), rng.randint(5, 120), keep, seed=cut)
                elif mode == "checkpoint":  # mid-checkpoint: pages copied into the database, not yet synced
                    mount.arm(outbox, 1, keep, seed=cut)
                desk = _Desk(mnt, mqtt, count=count, offset=offset, gap=0.01 if count < 200 else 0.004)
                offset += count
                fired = "-"
                try:
                    desk.wait_for("ready")
                    if mode.startswith("time"):
                        time.sleep(rng.uniform(0.1, 2.5))  # mid-scanning, mid-publishing, or mid-drain
                        dropped = mount.cut(keep, seed=cut)
                    else:
                        deadline = time.monotonic() + 60
                        while not mount.stats()["cut"] and desk.proc.poll() is None and time.monotonic() < deadline:
                            time.sleep(0.05)
                        fired = "yes" if mount.stats()["cut"] else "no"
                        dropped = mount.cut(keep, seed=cut)  # the trigger's cut, or one now if it never fired
                finally:
                    desk.kill()
                    mount.unmount()
                recorded += desk.recorded
                occurred.update(desk.occurred)
                try:
                    integrity, depth, _ids = _outbox_on_disk(disk)
                except sqlite3.DatabaseError as exc:
                    integrity, depth = f"{exc.__class__.__name__}: {exc}", -1
                if integrity != "ok":  # keep the evidence: the disk as the cut left it
                    shutil.copytree(disk, tmp_path / f"disk-after-cut-{cut}")
                rows.append((cut, mode, fired, keep, count, len(desk.recorded), dropped["pages_dropped"],
                             dropped["pages_kept"], depth, integrity))
                print("  cut " + " | ".join(str(v) for v in rows[-1]), flush=True)
                assert integrity == "ok", f"cut {cut} ({mode}): {integrity}"
            mount = LazyMount(disk, mnt).mount()
            started = time.monotonic()
            desk = _Desk(mnt, mqtt, count=0, offset=offset, drain=True)
            try:
                desk.wait_for("drained", 180)
                deadline = time.monotonic() + 30
                while set(recorded) - {e for e, _p in _server_rows(server.db)} and time.monotonic() < deadline:
                    time.sleep(0.1)
                recovery = time.monotonic() - started
            finally:
                desk.kill()
                mount.unmount()
            final_integrity, final_depth, _ = _outbox_on_disk(disk)
            server_rows = _server_rows(server.db)
            days = sorted({t.astimezone(VIETNAM_TZ).date().isoformat() for t in occurred.values()})
            body = server.get("/api/v1/usage", facility=FACILITY, **{"from": days[0], "to": days[-1]})
            counted = {d["day"]: d["checkins"] for d in body["days"] if d["checkins"]}
            absorbed = server.health()["ingest"].get("duplicates", 0)
        finally:
            server.stop()
    stored = {e for e, _p in server_rows}
    lost = set(recorded) - stored
    unconfirmed = stored - set(recorded)  # committed at the cut's instant, the desk killed before it said so
    doubled = len(server_rows) - len({p for _e, p in server_rows})  # one patient counted under two event ids
    expected = Counter(occurred[e].astimezone(VIETNAM_TZ).date().isoformat() for e in recorded)
    print(f"\npower-cut drill (lazyfs, seed {SEED}): cut | mode | trigger fired | share of unsynced pages kept | "
          "scans | recorded | pages dropped | pages kept | outbox after | integrity")
    for row in rows:
        print("  " + " | ".join(str(v) for v in row))
    print(f"  total: {len(recorded)} recorded, {len(stored)} stored by the real server, counted via its API per "
          f"day {counted}, {len(lost)} lost, {doubled} doubled, {len(unconfirmed)} stored but never shown "
          f"recorded, {absorbed} duplicate deliveries absorbed; after the drain: outbox {final_depth}, "
          f"integrity {final_integrity}, {recovery:.1f} s from the last restart to all stored")
    assert len(recorded) > 0 and sum(r[6] for r in rows) > 0  # scans happened and the cuts dropped data
    assert all(r[2] != "no" for r in rows), "an armed cut never fired: that point was not tested"
    assert lost == set()
    assert doubled == 0
    assert len(recorded) == len(set(recorded))
    assert sum(counted.values()) == len(stored) and len(unconfirmed) <= CUTS  # at most one per cut
    if not unconfirmed:
        assert counted == dict(expected)
    assert final_integrity == "ok" and final_depth == 0


@pytest.mark.parametrize("synchronous, may_lose", [("FULL", False), ("NORMAL", True), ("OFF", True)])
def test_power_cut_control_outbox_synchronous_setting(lazy_root, synchronous, may_lose):
    """Scans recorded, no receipts (the server mute), the power cut: FULL (the shipped setting)
    keeps every recorded event in the outbox; weaker settings lose some."""
    from simulators.lazyfs import LazyMount
    from tests.shipped_broker import ReceiptResponder, ShippedBroker

    disk, mnt = lazy_root / "disk", lazy_root / "mnt"
    with ShippedBroker([(FACILITY, READER)]) as broker:
        server = ReceiptResponder(broker.local_url)
        server.mute = True  # nothing leaves the outbox: what is in it after the cut is what survived
        mount = LazyMount(disk, mnt).mount()
        desk = _Desk(mnt, broker.reader_mqtt(FACILITY, READER), count=120, offset=0, gap=0.005,
                     synchronous=None if synchronous == "FULL" else synchronous)
        try:
            desk.wait_for("scanned", 120)
            desk.wait_recorded(120, 30)  # the last scan may still be in the desk thread
            dropped = mount.cut()
        finally:
            desk.kill()
            mount.unmount()
            server.close()
    integrity, depth, ids = _outbox_on_disk(disk)
    lost = set(desk.recorded) - ids
    print(f"\npower-cut control, synchronous={synchronous}: {len(desk.recorded)} recorded, {depth} in the outbox "
          f"after the cut, {len(lost)} lost, {dropped['pages_dropped']} pages dropped, integrity {integrity}")
    assert len(desk.recorded) == 120
    if may_lose:
        assert lost, f"synchronous={synchronous} lost nothing: the filesystem is not dropping unsynced writes"
    else:
        assert lost == set() and integrity == "ok"


if __name__ == "__main__":
    _desk_main(json.loads(sys.argv[1]))
