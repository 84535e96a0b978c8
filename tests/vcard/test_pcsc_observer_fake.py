"""CardObserver logic against a scripted PC/SC service: reader unplug/replug and service loss.

vpcd's readers are static, so reader hot-plug cannot be shown with the real
pcscd here; this fake plays pcsc-lite's part (contexts, PnP pseudo-reader,
event counters, error codes) to check the observer's reactions.
"""

from __future__ import annotations

import queue
import threading

import pytest
from smartcard import scard as real

import reader_drivers.pcsc as pcsc

WAIT = 20.0
ATR = bytes.fromhex("3B8180018031")


class FakeScard:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.up = True
        self.readers: dict[str, bytes | None] = {}
        self.counters: dict[str, int] = {}
        self.pnp = 0
        self.generation = 0
        self.live: set[int] = set()

    def __getattr__(self, name: str):  # constants come from pyscard
        return getattr(real, name)

    # --- world changes (test side)
    def _changed(self) -> None:
        self.cond.notify_all()

    def plug(self, reader: str, atr: bytes | None = None) -> None:
        with self.cond:
            self.readers[reader] = atr
            self.counters[reader] = self.counters.get(reader, 0) + 1
            self.pnp += 1
            self._changed()

    def unplug(self, reader: str) -> None:
        with self.cond:
            del self.readers[reader]
            self.pnp += 1
            self._changed()

    def card(self, reader: str, atr: bytes | None) -> None:
        with self.cond:
            self.readers[reader] = atr
            self.counters[reader] += 1
            self._changed()

    def service(self, up: bool) -> None:
        with self.cond:
            self.up = up
            self.live.clear()  # every context dies with the daemon
            self._changed()

    # --- PC/SC API used by the observer
    def SCardEstablishContext(self, scope):
        with self.cond:
            if not self.up:
                return real.SCARD_E_NO_SERVICE, 0
            self.generation += 1
            self.live.add(self.generation)
            return real.SCARD_S_SUCCESS, self.generation

    def SCardReleaseContext(self, ctx):
        with self.cond:
            self.live.discard(ctx)
        return real.SCARD_S_SUCCESS

    def SCardCancel(self, ctx):
        with self.cond:
            self._changed()
        return real.SCARD_S_SUCCESS

    def SCardListReaders(self, ctx, groups):
        with self.cond:
            if ctx not in self.live:
                return real.SCARD_E_NO_SERVICE, []
            if not self.readers:
                return real.SCARD_E_NO_READERS_AVAILABLE, []
            return real.SCARD_S_SUCCESS, list(self.readers)

    def _event(self, reader: str) -> tuple[int, list[int]]:
        atr = self.readers[reader]
        bits = real.SCARD_STATE_PRESENT if atr else real.SCARD_STATE_EMPTY
        return bits | (self.counters[reader] << 16), list(atr or b"")

    def SCardGetStatusChange(self, ctx, timeout_ms, states):
        with self.cond:
            waited = False
            while True:
                if ctx not in self.live:
                    return (real.SCARD_E_NO_SERVICE if not self.up else real.SCARD_E_INVALID_HANDLE), []
                out, changed = [], False
                for reader, current in states:
                    if reader == pcsc.PNP_READER:
                        event, atr = self.pnp << 16, []
                    elif reader not in self.readers:
                        return real.SCARD_E_UNKNOWN_READER, []
                    else:
                        event, atr = self._event(reader)
                    if event != current & ~real.SCARD_STATE_CHANGED:
                        changed = True
                        event |= real.SCARD_STATE_CHANGED
                    out.append((reader, event, atr))
                if changed:
                    return real.SCARD_S_SUCCESS, out
                if waited:
                    return real.SCARD_E_TIMEOUT, []
                self.cond.wait(timeout_ms / 1000)
                waited = True


@pytest.fixture
def fake(monkeypatch):
    f = FakeScard()
    monkeypatch.setattr(pcsc, "scard", f)
    return f


def test_observer_follows_reader_unplug_replug_and_service_loss(fake):
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    observer = pcsc.CardObserver(
        lambda r, atr: events.put(("insert", r)),
        lambda r: events.put(("remove", r)),
        poll_timeout=0.2,
        backoff_initial=0.01,
        backoff_max=0.05,
    ).start()

    def expect(kind: str, reader: str = "R1") -> None:
        assert events.get(timeout=WAIT) == (kind, reader)

    try:
        fake.plug("R1")  # reader arrives empty: no event, PnP makes the observer list it
        fake.card("R1", ATR)
        expect("insert")
        assert observer.present() == {"R1": ATR}
        fake.unplug("R1")  # reader pulled out with the card in it
        expect("remove")
        fake.plug("R1", ATR)  # replugged with a card
        expect("insert")
        fake.service(False)  # pcscd stops
        expect("remove")
        fake.service(True)
        expect("insert")
        assert observer.context_count >= 2
        fake.card("R1", None)
        expect("remove")
        assert events.empty()
    finally:
        observer.stop()
    assert not observer.alive
