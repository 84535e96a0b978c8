"""The vpcd link speaks vpcd's framing (checked against a fake vpcd; no pcscd needed)."""

from __future__ import annotations

import socket

import pytest

from simulators.vcard.plain_card import DEFAULT_ATR, PlainFileCard
from simulators.vcard.vpcd import VpcdLink


def _send(conn: socket.socket, payload: bytes) -> bytes:
    conn.sendall(len(payload).to_bytes(2, "big") + payload)
    n = int.from_bytes(_recv(conn, 2), "big")
    return _recv(conn, n)


def _recv(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


@pytest.fixture
def fake_vpcd():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    yield server
    server.close()


def test_framing_control_codes_and_apdus(fake_vpcd):
    card = PlainFileCard({0x011E: b"\x60\x03\x5F\x01\x00"})
    link = VpcdLink(card, port=fake_vpcd.getsockname()[1]).start()
    try:
        conn, _ = fake_vpcd.accept()
        conn.settimeout(10)
        assert _send(conn, b"\x04") == DEFAULT_ATR  # get ATR
        conn.sendall(b"\x00\x01\x01")  # power on: no answer expected
        assert _send(conn, bytes.fromhex("00A4020C02011E")) == b"\x90\x00"
        assert _send(conn, bytes.fromhex("00B0000000")) == b"\x60\x03\x5F\x01\x00\x62\x82"
        assert _send(conn, bytes.fromhex("00A4020C023F00")) == b"\x6D\x00"  # CCCD quirk
        assert _send(conn, bytes.fromhex("00A4020C020103")) == b"\x69\x82"  # DG3 needs EAC
        # A tap: remove closes the connection, insert connects again.
        link.remove()
        assert conn.recv(1) == b""
        conn.close()
        link.insert()
        conn2, _ = fake_vpcd.accept()
        conn2.settimeout(10)
        assert _send(conn2, b"\x04") == DEFAULT_ATR
        conn2.close()
    finally:
        link.stop()
    assert link.connections == 2


def test_link_reconnects_when_vpcd_drops_it(fake_vpcd):
    link = VpcdLink(PlainFileCard({}), port=fake_vpcd.getsockname()[1]).start()
    try:
        conn, _ = fake_vpcd.accept()
        conn.close()  # vpcd gone (pcscd restart)
        conn2, _ = fake_vpcd.accept()  # the card comes back by itself
        conn2.settimeout(10)
        assert _send(conn2, b"\x04") == DEFAULT_ATR
        conn2.close()
    finally:
        link.stop()


def test_card_failure_answers_6f00_and_keeps_the_link(fake_vpcd):
    class Broken(PlainFileCard):
        def transmit(self, apdu: bytes) -> bytes:
            raise RuntimeError("bug")

    link = VpcdLink(Broken({}), port=fake_vpcd.getsockname()[1]).start()
    try:
        conn, _ = fake_vpcd.accept()
        conn.settimeout(10)
        assert _send(conn, bytes.fromhex("00B0000000")) == b"\x6F\x00"
        assert _send(conn, b"\x04") == DEFAULT_ATR
        conn.close()
    finally:
        link.stop()


def test_power_transitions_reset_a_card_that_only_has_reset(fake_vpcd):
    class ResetOnly:
        def __init__(self) -> None:
            self.resets = 0

        def atr(self) -> bytes:
            return DEFAULT_ATR

        def reset(self) -> None:
            self.resets += 1

        def transmit(self, apdu: bytes) -> bytes:
            return b"\x90\x00"

    card = ResetOnly()
    link = VpcdLink(card, port=fake_vpcd.getsockname()[1]).start()
    try:
        conn, _ = fake_vpcd.accept()
        conn.settimeout(10)
        for code in (b"\x00", b"\x01", b"\x02"):  # off, on, reset: no answers
            conn.sendall(b"\x00\x01" + code)
        assert _send(conn, b"\x04") == DEFAULT_ATR  # ordered after the three controls
        assert card.resets == 3
        conn.close()
    finally:
        link.stop()
