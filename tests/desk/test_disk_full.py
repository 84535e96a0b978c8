"""A full disk is loud and holds nobody back: the scan is written before the screen says
"recorded"; when it cannot be, the screen says "not recorded — disk full, call the
technician", and the next patient is served as soon as space is back.

Two real ways for the outbox to fill: SQLite's own page limit (any machine), and a real
1 MB tmpfs filled to the last byte (needs the right to mount; skipped otherwise).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from contract.catalogue import CATALOGUE
from edge.checkin import CheckInService
from edge.desk.flow import DeskFlow
from edge.desk.hub import DeskHub
from edge.outbox import Outbox
from simulators.population import Population

PEOPLE = Population(23)
DISK_FULL_VI = "Chưa ghi nhận — ổ đĩa đầy, gọi kỹ thuật viên"


def flow_over(outbox: Outbox) -> DeskFlow:
    service = CheckInService("34001", "desk-1", os.urandom(32), outbox)
    return DeskFlow(service, DeskHub(clear_after_seconds=0), chip_reader=None)


def assert_disk_full_screen(flow: DeskFlow) -> None:
    view = flow.hub.current()
    assert view.state == "not_recorded" and view.write_failed and not view.checkin_recorded
    assert view.reason.code == "outbox.disk_full"
    assert CATALOGUE["outbox.disk_full"].vi.startswith(DISK_FULL_VI)
    assert view.next_step.code == "next.call_technician"
    assert view.handed_to_his  # the patient was read fine: the HIS still gets them
    assert flow.write_failure is not None and flow.write_failure[0] == "outbox.disk_full"
    assert flow.pending is None  # the failed visit holds nobody back
    assert flow.hub.status()["write_alarm"]["code"] == "outbox.disk_full"  # the footer's alarm


def test_sqlite_full_shows_not_recorded_and_the_next_patient_is_recorded_once_space_is_back(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite")
    flow = flow_over(outbox)
    flow.on_qr(PEOPLE.citizen(1).qr_payload().encode())
    assert flow.hub.current().state == "recorded"
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: SQLITE_FULL
    for i in range(2, 40):  # fill what is left in the last pages
        flow.on_qr(PEOPLE.citizen(i).qr_payload().encode())
        if flow.hub.current().write_failed:
            break
    assert_disk_full_screen(flow)
    recorded = outbox.depth()

    outbox._db.execute("PRAGMA max_page_count = 1073741823")  # space is back
    flow.on_qr(PEOPLE.citizen(99).qr_payload().encode())
    assert flow.hub.current().state == "recorded" and flow.write_failure is None
    assert flow.hub.status()["write_alarm"] is None
    assert outbox.depth() == recorded + 1


@pytest.fixture
def tiny_fs(tmp_path: Path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def fill(path: Path) -> None:
    """Write zeros until the filesystem refuses one more byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)


def test_a_real_full_filesystem_shows_not_recorded_and_recovers(tiny_fs):
    outbox = Outbox(tiny_fs / "outbox.sqlite")
    flow = flow_over(outbox)
    flow.on_qr(PEOPLE.citizen(1).qr_payload().encode())
    assert flow.hub.current().state == "recorded"
    filler = tiny_fs / "filler"
    fill(filler)
    for i in range(2, 200):
        flow.on_qr(PEOPLE.citizen(i).qr_payload().encode())
        if flow.hub.current().write_failed:
            break
    assert_disk_full_screen(flow)

    filler.unlink()
    flow.on_qr(PEOPLE.citizen(500).qr_payload().encode())
    assert flow.hub.current().state == "recorded" and flow.write_failure is None
    outbox.close()
