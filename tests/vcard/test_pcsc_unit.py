"""PC/SC adapter pieces that need no daemon: ATR capabilities, APDU trace redaction."""

from __future__ import annotations

from reader_drivers.pcsc import atr_extended_length, describe_command, describe_response
from simulators.vcard.plain_card import DEFAULT_ATR, atr_with_tck


def test_atr_card_capabilities():
    assert atr_extended_length(DEFAULT_ATR) is True
    assert atr_extended_length(atr_with_tck(bytes.fromhex("3B858001" "8073000080"))) is False
    # ATR with TA1/TB1/TC1 and no historical bytes: unknown
    assert atr_extended_length(bytes.fromhex("3B7096000000")) is None
    assert atr_extended_length(atr_with_tck(bytes.fromhex("3B818001" "80"))) is None
    # category 00: compact TLV then 3 status bytes
    assert atr_extended_length(atr_with_tck(bytes.fromhex("3B888001" "00730000C0" "009000"))) is True
    assert atr_extended_length(b"") is None


def test_trace_never_shows_data_fields():
    secret_mrz = b"0990123459990201524020113"
    mse = bytes([0x00, 0x22, 0xC1, 0xA4, len(secret_mrz)]) + secret_mrz
    text = describe_command(mse)
    assert secret_mrz.hex().upper() not in text and secret_mrz.decode() not in text
    assert text == f"CLA=00 INS=22 P1=C1 P2=A4 Lc={len(secret_mrz)}"
    sm = bytes.fromhex("0CB000000D9701008E08112233445566778800")
    assert describe_command(sm) == "CLA=0C INS=B0 P1=00 P2=00 Lc=13 Le=256 SM"
    # plain SELECT shows the file id (not personal)
    assert describe_command(bytes.fromhex("00A4020C02011C")).endswith("[011C]")
    assert describe_command(bytes.fromhex("00B00000000400")) == "CLA=00 INS=B0 P1=00 P2=00 Lc=0 Le=1024"
    ext4 = bytes.fromhex("00860000000003AABBCC0000")
    assert describe_command(ext4) == "CLA=00 INS=86 P1=00 P2=00 Lc=3 Le=65536"
    assert describe_response(b"secret-name\x90\x00") == "SW=9000 len=11"
