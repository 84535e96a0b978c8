"""Connect a card object to a running vpcd (vsmartcard's virtual reader in pcscd).

The card is anything with `atr() -> bytes` and `transmit(apdu: bytes) -> bytes`
(optionally `power_on()`, `power_off()`, `reset()`; a card with only `reset()`
gets it on every power transition, so a new PC/SC connection finds no stale
secure-messaging session). The link is a TCP client
of vpcd (127.0.0.1:35963 is reader "Virtual PCD 00 00", 35964 is "... 00 01").

Protocol (tooling.md): every message is a 2-byte big-endian length and a
payload; a 1-byte payload is a control code (0 power off, 1 power on,
2 reset, 4 get ATR -> answered with the ATR); anything longer is a command
APDU answered with the response APDU.

A connected socket is an inserted card; `remove()` closes the connection and
`insert()` reconnects: a card tap. The link reconnects on its own when vpcd
goes away (pcscd restart) while the card is "inserted". Nothing here logs
APDU contents.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Protocol

__all__ = ["VPCD_HOST", "VPCD_PORT", "CardLike", "VpcdLink"]

log = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963

CTRL_OFF = 0
CTRL_ON = 1
CTRL_RESET = 2
CTRL_ATR = 4


class CardLike(Protocol):
    def atr(self) -> bytes: ...

    def transmit(self, apdu: bytes) -> bytes: ...


_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class _Closed(Exception):
    pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise _Closed()
        buf += chunk
    return bytes(buf)


class VpcdLink:
    """Serve `card` to vpcd from a background thread until `stop()`."""

    def __init__(
        self,
        card: CardLike,
        host: str = VPCD_HOST,
        port: int | None = None,
        *,
        inserted: bool = True,
        retry_initial: float = 0.05,
        retry_max: float = 1.0,
    ) -> None:
        self.card = card
        self.host = host
        # None: a private pcscd's card port (simulators.services_pcsc exports it), else vpcd's default
        self.port = int(os.environ.get("CCCD_VPCD_PORT", VPCD_PORT)) if port is None else port
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._stop = threading.Event()
        self._inserted = threading.Event()
        if inserted:
            self._inserted.set()
        self.connected = threading.Event()
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.connections = 0  # how many times vpcd accepted us (for tests/diagnostics)

    # ------------------------------------------------------------ control
    def start(self) -> VpcdLink:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"vpcd-link-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._inserted.set()  # wake a removed link so it can exit
        self._drop_socket()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def remove(self) -> None:
        """Pull the card: close the connection and stay out until `insert()`."""
        self._inserted.clear()
        self._drop_socket()

    def insert(self) -> None:
        """Put the card (back) on the reader."""
        self._inserted.set()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self.connected.wait(timeout)

    def serve_forever(self) -> None:
        """Blocking variant for a CLI: run in the calling thread until `stop()` from elsewhere."""
        self._run()

    def __enter__(self) -> VpcdLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ internals
    def _drop_socket(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            try:
                # shutdown wakes the serving thread blocked in recv(); close follows there.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self) -> None:
        delay = self._retry_initial
        while not self._stop.is_set():
            if not self._inserted.is_set():
                self._inserted.wait()
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError:
                # vpcd not there (pcscd down or restarting): back off and retry.
                self._stop.wait(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if not self._inserted.is_set() or self._stop.is_set():
                    sock.close()
                    continue
                self._sock = sock
            self.connections += 1
            self.connected.set()
            log.debug("vpcd link on port %d: card inserted", self.port)
            try:
                self._serve(sock)
            except (_Closed, OSError):
                pass
            finally:
                with self._lock:
                    self._sock = None
                self.connected.clear()
                try:
                    sock.close()
                except OSError:
                    pass
                log.debug("vpcd link on port %d: connection closed", self.port)
            delay = self._retry_initial
            if self._inserted.is_set() and not self._stop.is_set():
                self._stop.wait(delay)  # vpcd closed on us: don't spin

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            # vpcd writes the 2-byte length and the APDU in two sends without
            # TCP_NODELAY: Nagle holds the APDU until our ACK, which delayed ACK
            # sends ~40 ms late. Ask for immediate ACKs (Linux resets the flag
            # after use, hence every time).
            if _QUICKACK is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                except OSError:
                    pass
            length = int.from_bytes(_recv_exact(sock, 2), "big")
            payload = _recv_exact(sock, length) if length else b""
            if len(payload) == 1:
                reply = self._control(payload[0])
                if reply is None:
                    continue
            else:
                reply = self._transmit(payload)
            if not self._inserted.is_set():
                raise _Closed()  # pulled while the card was working: no answer
            sock.sendall(len(reply).to_bytes(2, "big") + reply)

    def _control(self, code: int) -> bytes | None:
        hooks = {CTRL_OFF: ("power_off", "reset"), CTRL_ON: ("power_on", "reset"), CTRL_RESET: ("reset",)}.get(code)
        if hooks is not None:
            # Any power transition ends the card's session; cards with only
            # reset() get that for power on/off too.
            for name in hooks:
                fn = getattr(self.card, name, None)
                if callable(fn):
                    fn()
                    break
            return None
        if code == CTRL_ATR:
            return bytes(self.card.atr())
        log.debug("vpcd link: unknown control code %d", code)
        return None

    def _transmit(self, apdu: bytes) -> bytes:
        try:
            return bytes(self.card.transmit(apdu))
        except Exception:  # a card bug must not kill the link; no APDU data in the log
            log.exception("card object failed on INS %02X", apdu[1] if len(apdu) > 1 else 0)
            return b"\x6f\x00"
