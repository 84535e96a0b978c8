"""Handheld QR scanner in USB serial (CDC ACM) mode, through pyserial.

Serial mode is the mode to use at a desk: the scanner sends the symbol's bytes as they
are, so Vietnamese names arrive intact (keyboard mode cannot type them). Each scan ends
with a terminator (``\\r``, ``\\n`` or ``\\r\\n`` depending on the scanner's setup;
configurable). When the scanner is unplugged the port is reopened with backoff.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Any

import serial

from reader_drivers.qr.source import ScannedPayload, SourceBase, SourceClosed, utc_now
from reader_drivers.qr.text_checks import diacritics_lost

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"


class SerialScanner(SourceBase):
    """A QrSource on a serial port: one payload per terminator-delimited line."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        terminator: bytes | str = b"\r",
        strip_bom: bool = True,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        max_length: int = 4096,
        source_id: str | None = None,
        serial_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        term = terminator.encode() if isinstance(terminator, str) else terminator
        if not term:
            raise ValueError("terminator must not be empty")
        self.terminator = term
        self.strip_bom = strip_bom
        self.backoff, self.max_backoff = backoff, max_backoff
        self.max_length = max_length
        self.source_id = source_id or f"serial:{port}"
        self._factory = serial_factory or serial.serial_for_url
        self._serial: Any | None = None
        self._buffer = bytearray()
        self._ready: collections.deque[bytes] = collections.deque()
        self._delay = backoff
        self._next_open = 0.0
        self.stats: dict[str, int] = collections.Counter()
        self._ensure_open()  # open now so nothing sent before the first read() is lost

    def _ensure_open(self) -> bool:
        if self._serial is not None:
            return True
        if time.monotonic() < self._next_open:
            return False
        try:
            self._serial = self._factory(self.port, baudrate=self.baudrate, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            self.stats["open_failures"] += 1
            log.warning("scanner %s unavailable (%s); retrying in %.1f s", self.port, type(exc).__name__, self._delay)
            self._next_open = time.monotonic() + self._delay
            self._delay = min(self.max_backoff, self._delay * 2)
            return False
        self.stats["opens"] += 1
        self._delay = self.backoff
        return True

    def _drop_port(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # closing a vanished device may fail: it is gone either way
                pass
        self._serial = None
        self._buffer.clear()  # a half-received scan is lost with the device
        self.stats["disconnects"] += 1
        self._next_open = time.monotonic() + self._delay

    def read(self, timeout: float | None = None) -> ScannedPayload | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            if self.closed:
                raise SourceClosed(self.source_id)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            if not self._ensure_open():
                time.sleep(0.02)
                continue
            port = self._serial
            assert port is not None
            try:
                chunk = port.read(max(1, port.in_waiting or 1))
            except (serial.SerialException, OSError, TypeError):
                log.warning("scanner %s disconnected", self.port)
                self._drop_port()
                continue
            if chunk:
                self._feed(chunk)
        data = self._ready.popleft()
        flags: dict[str, object] = {}
        text = _strict(data)
        if text is not None and diacritics_lost(text):
            flags["diacritics_lost"] = True  # a scanner set up to fold letters to ASCII
        payload = ScannedPayload(data, utc_now(), self.source_id, flags)
        log.info("qr read source=%s len=%d sha256=%s", self.source_id, len(data), payload.digest)
        return payload

    def _feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while True:
            index = self._buffer.find(self.terminator)
            if index < 0:
                break
            line = bytes(self._buffer[:index])
            del self._buffer[: index + len(self.terminator)]
            line = line.strip(b"\r\n")  # "\r\n" senders when the terminator is "\r" or "\n"
            if self.strip_bom and line.startswith(UTF8_BOM):
                line = line[len(UTF8_BOM) :]
            if line:
                self._ready.append(line)
        if len(self._buffer) > self.max_length:  # noise or a wrong terminator: do not grow forever
            self.stats["overflows"] += 1
            self._buffer.clear()

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:
                pass
            self._serial = None
        super().close()


def _strict(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
