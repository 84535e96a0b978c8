"""USB serial (CDC) scanner, driven through a pseudo-terminal: the real pyserial path."""

from __future__ import annotations

import os
import pty
import time
import tty

import pytest
import serial

from reader_drivers.qr.serial_scanner import SerialScanner
from reader_drivers.qr.source import SourceClosed

PAYLOAD = "034303012345||Nguyễn Thị B|21032003|Nữ|Thôn E, Xã F, Huyện G, Thái Bình|14082021"


@pytest.fixture
def pty_pair():
    master, slave = pty.openpty()
    tty.setraw(slave)  # a CDC ACM device has no line discipline translating CR to LF
    name = os.ttyname(slave)
    yield master, name
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_reads_utf8_payloads_intact_with_terminator_and_bom(pty_pair):
    master, name = pty_pair
    scanner = SerialScanner(name, baudrate=115200, terminator=b"\r\n")
    try:
        os.write(master, b"\xef\xbb\xbf" + PAYLOAD.encode() + b"\r\n")
        # the second scan arrives in pieces, as USB packets do
        data = PAYLOAD.encode()
        os.write(master, data[:20])
        first = scanner.read(timeout=5)
        os.write(master, data[20:] + b"\r\n")
        second = scanner.read(timeout=5)
    finally:
        scanner.close()
    assert first is not None and second is not None
    assert first.data == second.data == PAYLOAD.encode()
    assert first.text == PAYLOAD
    assert first.timestamp.tzinfo is not None and first.source_id == f"serial:{name}"
    assert not first.flags
    assert PAYLOAD not in repr(first) and "Nguyễn" not in repr(first)  # no personal data in reprs


def test_configurable_terminator_and_timeout(pty_pair):
    master, name = pty_pair
    scanner = SerialScanner(name, terminator="\n")
    try:
        assert scanner.read(timeout=0.2) is None  # nothing scanned yet
        os.write(master, b"ABC\nDEF\n")
        assert scanner.read(timeout=5).data == b"ABC"
        assert scanner.read(timeout=5).data == b"DEF"
    finally:
        scanner.close()
    with pytest.raises(SourceClosed):
        scanner.read(timeout=0.1)


def test_folded_letters_from_a_misconfigured_scanner_are_flagged(pty_pair):
    master, name = pty_pair
    scanner = SerialScanner(name)
    try:
        os.write(master, b"034303012345||Nguyen Thi B|21032003|Nu|Thon E, Xa F, Thai Binh|14082021\r")
        payload = scanner.read(timeout=5)
    finally:
        scanner.close()
    assert payload.flags.get("diacritics_lost") is True


class FlakyPort:
    """A serial port that is unplugged after its first scan, then plugged back in."""

    opened = 0

    def __init__(self, script: list[bytes | Exception]) -> None:
        self.script = script
        self.in_waiting = 0

    def read(self, n: int) -> bytes:
        if not self.script:
            time.sleep(0.01)
            return b""
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        pass


def test_unplugged_scanner_is_reopened_with_backoff():
    ports = [
        FlakyPort([b"AAA\r", b"BB", serial.SerialException("device reports readiness to read but returned no data")]),
        serial.SerialException("could not open port"),  # still unplugged
        FlakyPort([b"CCC\r"]),
    ]

    def factory(port, **kwargs):
        item = ports.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    scanner = SerialScanner("/dev/ttyACM9", serial_factory=factory, backoff=0.01, max_backoff=0.05)
    got = [scanner.read(timeout=5), scanner.read(timeout=5)]
    scanner.close()
    assert [p.data for p in got] == [b"AAA", b"CCC"]  # the half scan "BB" died with the device
    assert scanner.stats["disconnects"] == 1 and scanner.stats["open_failures"] == 1
    assert scanner.stats["opens"] == 2


def test_real_pty_hangup_then_reconnect(pty_pair):
    """Closing the pty's master end is the kernel's view of an unplugged CDC device."""
    master, name = pty_pair
    scanner = SerialScanner(name, backoff=0.01, max_backoff=0.05)
    try:
        os.write(master, b"ONE\r")
        assert scanner.read(timeout=5).data == b"ONE"
        os.close(master)
        assert scanner.read(timeout=0.5) is None  # gone: no data, no crash
        assert scanner.stats["disconnects"] >= 1
    finally:
        scanner.close()
