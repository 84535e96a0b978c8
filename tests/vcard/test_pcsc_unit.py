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


DUAL = [
    "ACS ACR1281 1S Dual Reader [ACR1281 1S Dual Reader ICC] 00 00",
    "ACS ACR1281 1S Dual Reader [ACR1281 1S Dual Reader SAM] 00 01",
    "ACS ACR1281 1S Dual Reader [ACR1281 1S Dual Reader PICC] 00 02",
]


def test_reader_kinds_from_the_names_real_drivers_give():
    from reader_drivers.pcsc import reader_kind

    assert [reader_kind(r) for r in DUAL] == ["contact", "sam", "contactless"]
    assert reader_kind("ACS ACR122U PICC Interface 00 00") == "contactless"
    assert reader_kind("HID Global OMNIKEY 5422CL Smartcard Reader 01 00") == "contactless"
    assert reader_kind("HID Global OMNIKEY 5422 Smartcard Reader 00 00") == "contact"
    assert reader_kind("Identiv uTrust 3700 F CL Reader 00 00") == "contactless"
    assert reader_kind("Virtual PCD 00 00") == "contactless"
    assert reader_kind("Gemalto PC Twin Reader 00 00") == "unknown"


def test_select_reader_takes_the_contactless_slot_never_the_sam_or_contact_slot_listed_first():
    import pytest

    from reader_drivers.pcsc import ReaderNotFoundError, reader_matcher, select_reader

    assert select_reader(DUAL) == DUAL[2]
    assert select_reader(DUAL, "acr1281") == DUAL[2]  # plain text, any case; contactless first
    assert select_reader(DUAL, r"\bICC\]") == DUAL[0]  # a pattern naming the contact slot gets it
    with pytest.raises(ReaderNotFoundError, match="SAM"):
        select_reader(DUAL, "SAM")  # a SAM slot is never read, even when named
    with pytest.raises(ReaderNotFoundError, match="readers: none"):
        select_reader([])
    assert select_reader(["Gemalto PC Twin Reader 00 00"]) == "Gemalto PC Twin Reader 00 00"
    accept = reader_matcher("Dual Reader [")  # not a valid regex: taken as text
    assert [accept(r) for r in DUAL] == [True, False, True]
