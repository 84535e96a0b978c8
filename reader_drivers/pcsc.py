"""PC/SC transport and card observer on pyscard (thin adapter, no protocol logic).

* `list_readers()` - reader names; `reader_kind(name)` - contactless / contact /
  sam / unknown from the name; `select_reader(readers, pattern)` and
  `reader_matcher(pattern)` - the contactless slot by name pattern, never a SAM.
* `PcscTransport` - one connection to the card in a reader; implements the
  `edge.icao.apdu.Transport` protocol: `transmit(apdu) -> response+SW` and
  `extended_length: bool`. Errors: `CardRemovedError` (card gone: ask for a
  new tap) and `TransportError` (anything else, incl. timeouts).
* `CardObserver` - background thread reporting card insertion/removal via
  SCardGetStatusChange. Unlike pyscard's CardMonitor it survives pcscd
  restarts and reader unplug/replug: it re-establishes its context on
  service loss, watches the PnP pseudo-reader for reader arrival, backs off.

Tracing: APDUs are logged at DEBUG as headers, lengths and status words only.
Data fields are never logged, except the file id / AID of a plain (non
secure-messaging) SELECT. So no key, CAN, MRZ or personal data reaches logs.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Literal

from smartcard import scard

from edge.icao.errors import CardRemovedError as IcaoCardRemovedError
from edge.icao.errors import TransportError as IcaoTransportError

__all__ = [
    "CardObserver",
    "CardRemovedError",
    "PcscTransport",
    "ReaderNotFoundError",
    "TransportError",
    "atr_extended_length",
    "describe_command",
    "describe_response",
    "list_readers",
    "reader_kind",
    "reader_matcher",
    "select_reader",
]


log = logging.getLogger(__name__)
trace = logging.getLogger(__name__ + ".apdu")

PNP_READER = "\\\\?PnP?\\Notification"


class TransportError(IcaoTransportError):
    """The exchange with the card failed (reader, service, timeout).

    A kind of the protocol layer's TransportError, so the core handles a failing
    PC/SC reader like any other failing transport."""


class CardRemovedError(TransportError, IcaoCardRemovedError):
    """The card left the reader (or lost power): the session is over."""


_REMOVED = "card removed"  # the _broken reason that keeps raising CardRemovedError

# SCardStatus dwState bits (pcsclite.h); pyscard does not export them.
_SCARD_ABSENT = 0x0002
_SCARD_PRESENT = 0x0004


def _u32(hr: int) -> int:
    return hr & 0xFFFFFFFF


def _err(hr: int) -> str:
    try:
        return f"{scard.SCardGetErrorMessage(hr)} (0x{_u32(hr):08X})"
    except Exception:  # pragma: no cover
        return f"0x{_u32(hr):08X}"


_SERVICE_LOST = {
    _u32(scard.SCARD_E_NO_SERVICE),
    _u32(scard.SCARD_E_SERVICE_STOPPED),
    _u32(scard.SCARD_E_INVALID_HANDLE),
    _u32(scard.SCARD_F_COMM_ERROR),
    _u32(scard.SCARD_F_INTERNAL_ERROR),
    _u32(scard.SCARD_E_NO_READERS_AVAILABLE),
}
_CARD_GONE = {
    _u32(scard.SCARD_W_REMOVED_CARD),
    _u32(scard.SCARD_E_NO_SMARTCARD),
    _u32(scard.SCARD_W_UNPOWERED_CARD),
    _u32(scard.SCARD_W_UNRESPONSIVE_CARD),
    _u32(scard.SCARD_E_READER_UNAVAILABLE),
    _u32(scard.SCARD_E_UNKNOWN_READER),
}


# ================================================================ readers
def list_readers() -> list[str]:
    """Reader names known to pcscd ([] when none). Raises TransportError if pcscd is unreachable."""
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        raise TransportError(f"no PC/SC service: {_err(hr)}")
    try:
        hr, readers = scard.SCardListReaders(ctx, [])
        if _u32(hr) == _u32(scard.SCARD_E_NO_READERS_AVAILABLE):
            return []
        if hr != scard.SCARD_S_SUCCESS:
            raise TransportError(f"cannot list readers: {_err(hr)}")
        return list(readers)
    finally:
        scard.SCardReleaseContext(ctx)


def wait_for_card(reader: str, present: bool = True, timeout: float = 20.0) -> bool:
    """Wait until pcscd reports `reader` with a card (or empty when `present` is
    False); False on timeout. pcscd notices a vanished card only on its next
    poll: wait for "empty" before serving another card, or a connect may race."""
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        raise TransportError(f"no PC/SC service: {_err(hr)}")
    want = scard.SCARD_STATE_PRESENT if present else scard.SCARD_STATE_EMPTY
    deadline = time.monotonic() + timeout
    try:
        state = scard.SCARD_STATE_UNAWARE
        while time.monotonic() < deadline:
            hr, result = scard.SCardGetStatusChange(ctx, 500, [(reader, state)])
            if hr == scard.SCARD_S_SUCCESS:
                state = result[0][1] & ~scard.SCARD_STATE_CHANGED
                if state & want:
                    return True
        return False
    finally:
        scard.SCardReleaseContext(ctx)


# ================================================================ reader selection
ReaderKind = Literal["contactless", "contact", "sam", "unknown"]

# Names PC/SC drivers give the slots of common readers, e.g. "ACS ACR122U PICC Interface 00 00",
# "ACS ACR1281 1S Dual Reader [... PICC] 00 00" / "[... ICC]" / "[... SAM]",
# "HID Global OMNIKEY 5422CL Smartcard Reader 01 00", "Identiv uTrust 3700 F CL Reader 00 00".
_SAM = re.compile(r"\bsam\b", re.IGNORECASE)
_CONTACTLESS = re.compile(r"picc|contactless|(?:\b|\d)cl\b|nfc|pn53\d|acr122|virtual pcd", re.IGNORECASE)
_CONTACT = re.compile(r"\bicc\b|\bcontact\b|smart ?card reader", re.IGNORECASE)


class ReaderNotFoundError(TransportError):
    """No reader slot matches (the message lists the readers and their kinds)."""


def reader_kind(name: str) -> ReaderKind:
    """What a reader slot is, from its name (SAM first: a SAM slot is never read)."""
    if _SAM.search(name):
        return "sam"
    if _CONTACTLESS.search(name):
        return "contactless"
    if _CONTACT.search(name):
        return "contact"
    return "unknown"


def _pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(pattern), re.IGNORECASE)  # plain text: a substring


def reader_matcher(pattern: str | None = None) -> Callable[[str], bool]:
    """Whether a reader slot may be read: it matches ``pattern`` (a regular expression or
    plain text, any case) and is not a SAM slot; without a pattern, a contactless or
    unrecognised slot (never a contact or SAM slot)."""
    wanted = _pattern(pattern) if pattern else None

    def accept(name: str) -> bool:
        kind = reader_kind(name)
        if kind == "sam":
            return False
        if wanted is not None:
            return bool(wanted.search(name))
        return kind in ("contactless", "unknown")

    return accept


def select_reader(readers: list[str], pattern: str | None = None) -> str:
    """The slot to read: the first one :func:`reader_matcher` accepts, contactless first."""
    accept = reader_matcher(pattern)
    candidates = [r for r in readers if accept(r)]
    candidates.sort(key=lambda r: reader_kind(r) != "contactless")  # stable: listed order within a kind
    if not candidates:
        listed = ", ".join(f"{r!r} ({reader_kind(r)})" for r in readers) or "none"
        wanted = f"matching {pattern!r}" if pattern else "contactless"
        raise ReaderNotFoundError(f"no {wanted} reader (never a SAM slot); readers: {listed}")
    return candidates[0]


# ================================================================ tracing
def _apdu_lengths(apdu: bytes) -> tuple[int, int | None, int]:
    """(Lc, Le or None, data offset) for an ISO 7816-4 command APDU (cases 1-4, short/extended)."""
    body = apdu[4:]
    if not body:
        return 0, None, 4
    if len(body) == 1:
        return 0, body[0] or 256, 4
    if body[0] == 0 and len(body) >= 3:  # extended
        if len(body) == 3:
            return 0, int.from_bytes(body[1:3], "big") or 65536, 4
        lc = int.from_bytes(body[1:3], "big")
        rest = body[3 + lc :]
        le = (int.from_bytes(rest[-2:], "big") or 65536) if len(rest) >= 2 else None
        return lc, le, 7
    lc = body[0]
    rest = body[1 + lc :]
    return lc, (rest[0] or 256) if rest else None, 5


def describe_command(apdu: bytes) -> str:
    """Redacted description: header, Lc, Le; data only for a plain SELECT (file id / AID)."""
    if len(apdu) < 4:
        return f"malformed command ({len(apdu)} bytes)"
    cla, ins, p1, p2 = apdu[:4]
    lc, le, off = _apdu_lengths(apdu)
    text = f"CLA={cla:02X} INS={ins:02X} P1={p1:02X} P2={p2:02X} Lc={lc}"
    if le is not None:
        text += f" Le={le}"
    if cla & 0x0C:
        text += " SM"
    elif ins == 0xA4 and 0 < lc <= 16:
        text += f" [{apdu[off:off + lc].hex().upper()}]"
    return text


def describe_response(resp: bytes) -> str:
    if len(resp) < 2:
        return f"malformed response ({len(resp)} bytes)"
    return f"SW={resp[-2:].hex().upper()} len={len(resp) - 2}"


# ================================================================ ATR
def atr_extended_length(atr: bytes) -> bool | None:
    """Extended Lc/Le support from the ATR's card capabilities (compact-TLV tag 7), or None if not stated."""
    if len(atr) < 2:
        return None
    t0 = atr[1]
    k = t0 & 0x0F
    i = 2
    y = t0 >> 4
    while True:
        i += bin(y & 0x7).count("1")  # TA, TB, TC
        if y & 0x8:  # TD
            if i >= len(atr):
                return None
            td = atr[i]
            i += 1
            y = td >> 4
        else:
            break
    hist = atr[i : i + k]
    if not hist:
        return None
    if hist[0] == 0x80:
        tlvs = hist[1:]
    elif hist[0] == 0x00 and len(hist) >= 4:
        tlvs = hist[1:-3]
    else:
        return None
    j = 0
    while j < len(tlvs):
        tag, length = tlvs[j] >> 4, tlvs[j] & 0x0F
        value = tlvs[j + 1 : j + 1 + length]
        if tag == 0x7 and len(value) >= 3:
            return bool(value[2] & 0x40)
        j += 1 + length
    return None


# ================================================================ transport
_SELECT_CARD_ACCESS = bytes.fromhex("00A4020C02011C")
_READ_BINARY_EXTENDED = bytes.fromhex("00B00000000000")  # extended Le = 65536


class PcscTransport:
    """A connection to the card in `reader` (T=1 preferred, T=0 accepted)."""

    def __init__(
        self,
        reader: str,
        *,
        timeout: float = 5.0,
        probe_extended: bool = True,
        removal_grace: float = 1.5,
        exclusive: bool = False,
    ) -> None:
        self.reader = reader
        self.timeout = timeout
        self.removal_grace = removal_grace
        self._broken: str | None = None
        self._lock = threading.Lock()
        hr, self._ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise TransportError(f"no PC/SC service: {_err(hr)}")
        share = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
        self._share = share
        self.resets = 0  # card resets acknowledged (SCARD_W_RESET_CARD) on this connection
        hr, self._card, proto = scard.SCardConnect(
            self._ctx, reader, share, scard.SCARD_PROTOCOL_T1 | scard.SCARD_PROTOCOL_T0
        )
        if hr != scard.SCARD_S_SUCCESS:
            scard.SCardReleaseContext(self._ctx)
            if _u32(hr) in _CARD_GONE:
                raise CardRemovedError(f"no card in {reader!r}: {_err(hr)}")
            raise TransportError(f"cannot connect to {reader!r}: {_err(hr)}")
        self.protocol = "T=1" if proto == scard.SCARD_PROTOCOL_T1 else "T=0"
        self._pci = scard.SCARD_PCI_T1 if proto == scard.SCARD_PROTOCOL_T1 else scard.SCARD_PCI_T0
        hr, _name, _state, _proto, atr = scard.SCardStatus(self._card)
        self.atr = bytes(atr) if hr == scard.SCARD_S_SUCCESS else b""
        log.debug("connected to %r (%s)", reader, self.protocol)
        self.extended_length = self._detect_extended_length(probe_extended)

    # ------------------------------------------------------------ public
    def transmit(self, apdu: bytes) -> bytes:
        """Send a command APDU, return the response including SW1SW2."""
        if self._broken == _REMOVED:
            raise CardRemovedError("card removed (earlier in this connection)")
        if self._broken:
            raise TransportError(f"connection unusable: {self._broken}")
        trace.debug("> %s", describe_command(apdu))
        hr, resp = self._exchange(apdu)
        if _u32(hr) == _u32(scard.SCARD_W_RESET_CARD):
            # Another application (or a field glitch the reader reports) reset the card: acknowledge
            # it and send again. The card has lost any secure-messaging session and says so (6988),
            # which the reading session recovers from.
            self.resets += 1
            hr = scard.SCardReconnect(self._card, self._share, scard.SCARD_PROTOCOL_T1 | scard.SCARD_PROTOCOL_T0,
                                      scard.SCARD_LEAVE_CARD)[0]
            if hr == scard.SCARD_S_SUCCESS:
                hr, resp = self._exchange(apdu)
        if hr != scard.SCARD_S_SUCCESS:
            self._raise_for(hr)
        out = bytes(resp)
        trace.debug("< %s", describe_response(out))
        if len(out) < 2:
            # No status word: the card vanished mid-exchange (vpcd reports
            # success with an empty answer when its card socket closes).
            self._raise_for(scard.SCARD_E_NOT_TRANSACTED, "response without status word")
        return out

    def _exchange(self, apdu: bytes) -> tuple[int, list[int]]:
        done: Future[tuple[int, list[int]]] = Future()

        def work() -> None:
            try:
                with self._lock:
                    done.set_result(scard.SCardTransmit(self._card, self._pci, list(apdu)))
            except BaseException as exc:  # pragma: no cover - pyscard bug
                done.set_exception(exc)

        # SCardTransmit cannot be interrupted: run it aside and stop waiting on timeout.
        threading.Thread(target=work, name="pcsc-transmit", daemon=True).start()
        try:
            return done.result(self.timeout)
        except TimeoutError:
            self._broken = "timeout"
            raise TransportError(f"no answer from the card within {self.timeout} s") from None

    def card_present(self) -> bool:
        hr, _r, state, _p, _a = scard.SCardStatus(self._card)
        if hr != scard.SCARD_S_SUCCESS:
            return False
        return bool(state & _SCARD_PRESENT) and not state & _SCARD_ABSENT

    def close(self, reset: bool = True) -> None:
        """Disconnect; by default reset the card so no secure-messaging session outlives us."""
        card, self._card = self._card, None
        ctx, self._ctx = self._ctx, None
        # Never reset over a wedged channel (after a timeout/failed exchange):
        # the reset then races the late answer and can confuse the reader.
        disposition = scard.SCARD_RESET_CARD if reset and not self._broken else scard.SCARD_LEAVE_CARD

        def release() -> None:
            with self._lock:  # waits for a hung SCardTransmit, if any
                if card is not None:
                    scard.SCardDisconnect(card, disposition)
                if ctx is not None:
                    scard.SCardReleaseContext(ctx)

        if self._lock.acquire(blocking=False):
            self._lock.release()
            release()
        else:
            # A transmit is still stuck in pcscd (after a timeout): don't hang the caller.
            threading.Thread(target=release, name="pcsc-close", daemon=True).start()

    def __enter__(self) -> PcscTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals
    def _raise_for(self, hr: int, what: str | None = None) -> None:
        code = _u32(hr)
        if code in _CARD_GONE:
            self._broken = _REMOVED
            raise CardRemovedError(f"card removed: {_err(hr)}")
        # A card pulled mid-exchange often shows first as "not transacted";
        # the reader notices the removal a moment later.
        deadline = time.monotonic() + self.removal_grace
        while True:
            hs, _r, state, _p, _a = scard.SCardStatus(self._card)
            if _u32(hs) in _CARD_GONE or (hs == scard.SCARD_S_SUCCESS and not state & _SCARD_PRESENT):
                self._broken = _REMOVED
                raise CardRemovedError(f"card removed: {_err(hr)}")
            if _u32(hs) in _SERVICE_LOST:
                self._broken = "PC/SC service lost"
                raise TransportError(f"PC/SC service lost: {_err(hs)}")
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self._broken = what or "transmit failed"
        raise TransportError(f"transmit failed: {what or _err(hr)}")

    def _detect_extended_length(self, probe: bool) -> bool:
        """A hint for the reading session, which corrects it (an ATR may claim what the
        reader cannot carry: the session's response sizer shrinks on the refusal)."""
        from_atr = atr_extended_length(self.atr)
        if from_atr is not None:
            return from_atr
        if self.protocol != "T=1" or not probe:
            return False  # T=0 carries no extended APDUs without ENVELOPE
        # Probe: EF.CardAccess is readable without authentication; an extended
        # READ BINARY either works or is refused (6700 etc.). Any failure = no.
        try:
            if self.transmit(_SELECT_CARD_ACCESS)[-2:] != b"\x90\x00":
                return False
            resp = self.transmit(_READ_BINARY_EXTENDED)
            return resp[-2:] in (b"\x90\x00", b"\x62\x82") and len(resp) > 2
        except TransportError as exc:
            log.debug("extended-length probe failed: %s", exc)
            if isinstance(exc, CardRemovedError):
                raise
            self._broken = None
            return False


# ================================================================ observer
InsertCallback = Callable[[str, bytes], None]
RemoveCallback = Callable[[str], None]


class CardObserver:
    """Reports card insertion (reader, ATR) and removal (reader) from a background thread.

    Survives pcscd restarts (context re-established on service loss; cards
    known present are reported removed, and re-reported inserted once the
    service is back) and reader unplug/replug (PnP notification).
    """

    def __init__(
        self,
        on_insert: InsertCallback,
        on_remove: RemoveCallback,
        *,
        reader_filter: Callable[[str], bool] | None = None,
        poll_timeout: float = 1.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 2.0,
    ) -> None:
        self.on_insert = on_insert
        self.on_remove = on_remove
        self.reader_filter = reader_filter or (lambda name: True)
        self.poll_timeout_ms = int(poll_timeout * 1000)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._stop = threading.Event()
        self._ctx: int | None = None
        self._ctx_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._present: dict[str, bytes] = {}
        self.context_count = 0  # contexts established so far (diagnostics/tests)

    # ------------------------------------------------------------ control
    def start(self) -> CardObserver:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pcsc-observer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._ctx_lock:
            if self._ctx is not None:
                scard.SCardCancel(self._ctx)  # wakes SCardGetStatusChange
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def present(self) -> dict[str, bytes]:
        """Readers that hold a card now (reader -> ATR)."""
        return dict(self._present)

    def __enter__(self) -> CardObserver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ loop
    def _emit_insert(self, reader: str, atr: bytes) -> None:
        self._present[reader] = atr
        try:
            self.on_insert(reader, atr)
        except Exception:
            log.exception("on_insert callback failed")

    def _emit_remove(self, reader: str) -> None:
        if self._present.pop(reader, None) is None:
            return
        try:
            self.on_remove(reader)
        except Exception:
            log.exception("on_remove callback failed")

    def _drop_context(self) -> None:
        with self._ctx_lock:
            ctx, self._ctx = self._ctx, None
        if ctx is not None:
            try:
                scard.SCardReleaseContext(ctx)
            except Exception:  # pragma: no cover
                pass
        for reader in list(self._present):
            self._emit_remove(reader)  # handles died with the context/service

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._drop_context()

    def _loop(self) -> None:
        backoff = self.backoff_initial
        states: dict[str, int] = {}
        pnp_state = scard.SCARD_STATE_UNAWARE
        readers_dirty = True
        while not self._stop.is_set():
            if self._ctx is None:
                hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                if hr != scard.SCARD_S_SUCCESS:
                    log.debug("PC/SC service unavailable (%s); retry in %.1f s", _err(hr), backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.backoff_max)
                    continue
                with self._ctx_lock:
                    self._ctx = ctx
                self.context_count += 1
                log.info("PC/SC context established")
                states, pnp_state, readers_dirty = {}, scard.SCARD_STATE_UNAWARE, True
            ctx = self._ctx

            if readers_dirty:
                hr, readers = scard.SCardListReaders(ctx, [])
                code = _u32(hr)
                if code == _u32(scard.SCARD_E_NO_READERS_AVAILABLE):
                    readers = []
                elif hr != scard.SCARD_S_SUCCESS:
                    log.info("PC/SC service lost while listing readers (%s)", _err(hr))
                    self._lose(backoff)
                    backoff = min(backoff * 2, self.backoff_max)
                    continue
                readers = [r for r in readers if self.reader_filter(r)]
                for gone in set(self._present) - set(readers):
                    self._emit_remove(gone)  # reader unplugged with a card in it
                states = {r: states.get(r, scard.SCARD_STATE_UNAWARE) for r in readers}
                readers_dirty = False

            query = [*states.items(), (PNP_READER, pnp_state)]
            hr, result = scard.SCardGetStatusChange(ctx, self.poll_timeout_ms, query)
            code = _u32(hr)
            if code in (_u32(scard.SCARD_E_TIMEOUT), _u32(scard.SCARD_E_CANCELLED)):
                continue
            if code in (_u32(scard.SCARD_E_UNKNOWN_READER), _u32(scard.SCARD_E_READER_UNAVAILABLE)):
                readers_dirty = True
                self._stop.wait(0.05)
                continue
            if hr != scard.SCARD_S_SUCCESS:
                log.info("PC/SC service lost (%s); reconnecting", _err(hr))
                self._lose(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            backoff = self.backoff_initial

            for reader, event, atr in result:
                if reader == PNP_READER:
                    if event & scard.SCARD_STATE_CHANGED:
                        readers_dirty = True
                    pnp_state = event & ~scard.SCARD_STATE_CHANGED
                    continue
                if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
                    readers_dirty = True  # reader vanished between list and wait
                    self._emit_remove(reader)
                    continue
                previous = states.get(reader, scard.SCARD_STATE_UNAWARE)
                states[reader] = event & ~scard.SCARD_STATE_CHANGED
                present = bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_UNAVAILABLE
                if present:
                    # pcscd counts card events in the high word: a jump of 2+
                    # while still present is a remove+insert we slept through.
                    missed = ((event >> 16) - (previous >> 16)) & 0xFFFF >= 2 and previous != scard.SCARD_STATE_UNAWARE
                    if reader in self._present and missed:
                        self._emit_remove(reader)
                    if reader not in self._present:
                        self._emit_insert(reader, bytes(atr))
                elif reader in self._present:
                    self._emit_remove(reader)

    def _lose(self, backoff: float) -> None:
        self._drop_context()
        self._stop.wait(backoff)
