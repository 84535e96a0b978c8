"""PC/SC end to end: real pcscd + vpcd, a card object on the vpcd link, pyscard on top.

Needs /usr/sbin/pcscd and vsmartcard-vpcd; the pcscd fixture is private to the
run (its own socket, reader.conf and card ports: simulators.services_pcsc), so a
system pcscd does not matter. Timeouts are generous upper bounds for waiting,
never assertions about speed.
"""

from __future__ import annotations

import logging
import queue
import threading

import pytest
from smartcard import scard

from reader_drivers.pcsc import CardObserver, CardRemovedError, PcscTransport, TransportError, list_readers
from simulators.services_pcsc import VPCD_READER_0
from simulators.vcard.lds_builder import EF_CARD_ACCESS
from simulators.vcard.plain_card import DEFAULT_ATR, PlainFileCard, atr_with_tck
from simulators.vcard.vpcd import VpcdLink

pytestmark = pytest.mark.services

WAIT = 20.0  # upper bound for any event; a healthy run takes well under a second


class Events:
    """Observer callbacks into a queue."""

    def __init__(self) -> None:
        self.q: queue.Queue[tuple[str, str, bytes]] = queue.Queue()

    def on_insert(self, reader: str, atr: bytes) -> None:
        self.q.put(("insert", reader, atr))

    def on_remove(self, reader: str) -> None:
        self.q.put(("remove", reader, b""))

    def next(self, kind: str, reader: str = VPCD_READER_0) -> bytes:
        while True:
            try:
                got_kind, got_reader, atr = self.q.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no {kind} event for {reader}")
            if got_reader == reader:
                assert got_kind == kind, f"expected {kind}, got {got_kind}"
                return atr


def _wait_reader_empty(reader: str = VPCD_READER_0) -> None:
    """Start each test from an empty reader: pcscd notices a closed vpcd link only on its next poll."""
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hr == scard.SCARD_S_SUCCESS
    try:
        state = scard.SCARD_STATE_UNAWARE
        for _ in range(int(WAIT / 0.5)):
            hr, result = scard.SCardGetStatusChange(ctx, 500, [(reader, state)])
            if hr == scard.SCARD_S_SUCCESS:
                state = result[0][1] & ~scard.SCARD_STATE_CHANGED
                if state & scard.SCARD_STATE_EMPTY:
                    return
        pytest.fail("reader never became empty")
    finally:
        scard.SCardReleaseContext(ctx)


@pytest.fixture
def observed(pcscd):
    _wait_reader_empty()
    events = Events()
    observer = CardObserver(events.on_insert, events.on_remove, poll_timeout=0.5).start()
    yield events, observer
    observer.stop()
    assert not observer.alive


@pytest.fixture
def card_link(pcscd, profile):
    card = PlainFileCard(profile.files)
    link = VpcdLink(card).start()
    yield card, link
    card.hold.set()
    link.stop()


def _connect_when_present(observed) -> PcscTransport:
    events, _ = observed
    events.next("insert")
    return PcscTransport(VPCD_READER_0, timeout=10.0)


def test_pyscard_lists_the_virtual_reader(pcscd):
    assert VPCD_READER_0 in list_readers()


def test_insert_transmit_remove(observed, card_link, profile, caplog):
    caplog.set_level(logging.DEBUG)
    events, _ = observed
    _card, link = card_link
    assert events.next("insert") == DEFAULT_ATR
    with PcscTransport(VPCD_READER_0, timeout=10.0) as t:
        assert t.protocol == "T=1" and t.atr == DEFAULT_ATR
        assert t.extended_length is True  # from the ATR's card capabilities
        assert t.transmit(bytes.fromhex("00A4020C020101")) == b"\x90\x00"
        dg1 = profile.files[0x0101]
        assert len(dg1) < 256
        assert t.transmit(bytes.fromhex("00B0000000")) == dg1 + b"\x62\x82"  # end of file before Le
        # DG2 in extended-length chunks: whole face record back, byte for byte.
        assert t.transmit(bytes.fromhex("00A4020C020102")) == b"\x90\x00"
        dg2 = profile.files[0x0102]
        got = b""
        while len(got) < len(dg2):
            resp = t.transmit(bytes([0, 0xB0, len(got) >> 8, len(got) & 0xFF, 0, 0x10, 0]))
            assert resp[-2:] in (b"\x90\x00", b"\x62\x82")
            got += resp[:-2]
        assert got == dg2
        assert t.transmit(bytes.fromhex("00A4020C020103")) == b"\x69\x82"
        assert t.transmit(bytes.fromhex("00A4020C023F00")) == b"\x6D\x00"
    # The APDU trace has headers and status words, never file contents.
    traced = "\n".join(r.getMessage() for r in caplog.records)
    assert "INS=B0" in traced and "SW=9000" in traced
    mrz_text = profile.mrz.split("\n")[0]
    assert mrz_text not in traced and profile.can not in traced
    assert profile.files[0x0101][:16].hex().upper() not in traced.upper()
    link.remove()
    events.next("remove")
    link.insert()
    assert events.next("insert") == DEFAULT_ATR


@pytest.mark.parametrize("card_supports", [True, False])
def test_extended_length_probe_when_the_atr_is_silent(pcscd, observed, profile, card_supports):
    silent_atr = atr_with_tck(bytes.fromhex("3B8180018031"))  # historical: 31 (not compact-TLV)
    card = PlainFileCard({EF_CARD_ACCESS: profile.files[EF_CARD_ACCESS]}, atr=silent_atr, extended_length=card_supports)
    with VpcdLink(card), _connect_when_present(observed) as t:
        assert t.extended_length is card_supports


def test_card_pulled_mid_transmit_raises_card_removed(observed, card_link):
    card, link = card_link
    with _connect_when_present(observed) as t:
        card.hold.clear()

        def pull() -> None:
            card.in_hold.wait(WAIT)
            link.remove()

        puller = threading.Thread(target=pull)
        puller.start()
        with pytest.raises(CardRemovedError):
            t.transmit(bytes.fromhex("00EE0000"))
        puller.join()
        with pytest.raises(TransportError):
            t.transmit(bytes.fromhex("00A4020C02011C"))  # the connection stays dead
        card.hold.set()


def test_transmit_timeout_is_a_transport_error(observed, card_link):
    card, _link = card_link
    with _connect_when_present(observed) as t:
        t.timeout = 0.3
        card.hold.clear()
        with pytest.raises(TransportError) as info:
            t.transmit(bytes.fromhex("00EE0000"))
        assert not isinstance(info.value, CardRemovedError)
        card.hold.set()


def test_observer_survives_pcscd_restart(pcscd, observed, card_link):
    events, observer = observed
    _card, link = card_link
    events.next("insert")
    contexts = observer.context_count
    pcscd.restart(crash=True)  # SIGKILL: stale socket, as in a real crash
    events.next("remove")  # handles died with the service
    events.next("insert")  # the link reconnects to the new vpcd; the observer to the new pcscd
    assert observer.context_count > contexts
    link.remove()
    events.next("remove")
    link.insert()
    events.next("insert")
    # a clean restart too
    pcscd.restart(crash=False)
    events.next("remove")
    events.next("insert")
    with PcscTransport(VPCD_READER_0, timeout=10.0) as t:
        assert t.transmit(bytes.fromhex("00A4020C02011C")) == b"\x90\x00"


def test_icao_terminal_reads_the_chip_over_pcsc(observed, profile):
    pytest.importorskip("simulators.vcard.card")
    session = pytest.importorskip("edge.icao.session")
    access = pytest.importorskip("edge.icao.access")
    from simulators.vcard.cli import make_card

    card, _ = make_card(profile)
    with VpcdLink(card), _connect_when_present(observed) as t:
        assert t.extended_length  # the probe (the card's ATR does not say)
        result = session.read_chip(t, [access.AccessKey("can", profile.can, "test")])
    assert result.access_method == "PACE-CAN"
    for fid, data in result.files.items():
        assert data == profile.files[fid], hex(fid)
    assert 0x0102 in result.files and not result.parse_errors
