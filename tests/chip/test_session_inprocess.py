"""Full reads of a VirtualCard through the in-process transport."""

from __future__ import annotations

from datetime import date

import pytest

from edge.icao import access
from edge.icao.lds.tags import EF_SOD, dg_fid
from edge.icao.session import DEFAULT_FILES, AccessDeniedError, ChipSession, read_chip
from simulators.vcard.card import VirtualCard
from simulators.vcard.inprocess import InProcessTransport
from tests.chip import citizen

ALL = (*DEFAULT_FILES, dg_fid(3), dg_fid(11))


def _card(**kw: object) -> tuple[VirtualCard, citizen.CardFiles]:
    cf = citizen.card_files()
    card = VirtualCard(cf.files, citizen.CAN, citizen.MRZ_INFORMATION, **kw)  # type: ignore[arg-type]
    return card, cf


def _check_contents(result, cf: citizen.CardFiles) -> None:  # type: ignore[no-untyped-def]
    for fid, data in cf.files.items():
        assert result.files[fid] == data
    assert result.dg1.mrz.personal_id == citizen.PERSONAL_ID
    assert result.dg13.full_name == citizen.NAME
    assert result.dg13.date_of_birth == "15/04/1988"
    assert (result.dg13.father, result.dg13.mother, result.dg13.spouse) == (
        "Trần Văn Bình", "Lê Thị Cúc", None)
    assert result.dg2.image.data == cf.jpeg
    assert (result.dg2.image.image_type, result.dg2.image.width) == ("jpeg", 240)
    assert result.com.data_groups == [1, 2, 3, 13, 14, 15]
    assert result.sod.data_groups == [1, 2, 13]
    assert result.parse_errors == {}


def test_pace_can_reads_every_file_and_records_dg3_denied_and_dg11_absent() -> None:
    card, cf = _card()
    result = read_chip(InProcessTransport(card), [access.key_from_can(citizen.CAN)], ALL)
    assert result.access_method == "PACE-CAN"
    _check_contents(result, cf)
    assert result.file_status[dg_fid(3)].startswith("6982")
    assert result.file_status[dg_fid(11)].startswith("6A82")
    assert dg_fid(14) in result.file_status  # not on this synthetic card
    assert result.apdu_count > 0 and result.bytes_received > len(cf.jpeg)
    assert {"card_access", "access", "DG2", "total"} <= set(result.timings)


def test_pace_mrz_from_typed_mrz_lines() -> None:
    card, cf = _card()
    keys = access.keys_from_mrz(citizen.MRZ_LINES)
    result = read_chip(InProcessTransport(card), keys)
    assert result.access_method == "PACE-MRZ"
    _check_contents(result, cf)


def test_bac_from_qr_candidates_when_the_first_expiry_is_wrong() -> None:
    card, cf = _card(card_access=None)  # no EF.CardAccess: BAC only
    keys = access.keys_from_qr(citizen.PERSONAL_ID, citizen.DOB, [date(2048, 4, 15), citizen.EXPIRY])
    result = read_chip(InProcessTransport(card), keys)
    assert result.access_method == "BAC"
    assert result.access_key_source == "qr expiry candidate 2"
    assert [(a.method, a.ok, a.sw) for a in result.attempts] == [("BAC", False, 0x6300), ("BAC", True, None)]
    _check_contents(result, cf)


def test_pace_with_a_wrong_can_falls_through_to_the_mrz_key() -> None:
    card, _cf = _card()
    keys = [access.key_from_can("000000"), *access.keys_from_mrz(citizen.MRZ_LINES)]
    result = read_chip(InProcessTransport(card), keys)
    assert result.access_method == "PACE-MRZ"
    assert result.attempts[0].sw == 0x6300


def test_all_keys_wrong_raises_access_denied_and_the_card_slows_down() -> None:
    slept: list[float] = []
    card, _ = _card(card_access=None, sleep=slept.append)
    keys = access.keys_from_qr("092188004320", citizen.DOB, [date(2030, 1, 1), None, date(2031, 1, 1)])
    with pytest.raises(AccessDeniedError) as e:
        read_chip(InProcessTransport(card), keys)
    assert len(e.value.attempts) == 4 and not any(a.ok for a in e.value.attempts)
    assert slept == [0.5, 1.0]  # failures 3 and 4 are delayed, growing
    assert card.failed_attempts == 4
    assert "0921" not in repr(keys)


@pytest.mark.parametrize(
    "card_access_hex",
    [
        "31143012060A04007F0007020204020402010202010F",  # ECDH-GM AES-256, secp384r1
        "31143012060A04007F0007020204020302010202010B",  # ECDH-GM AES-192, brainpoolP224r1
        "31143012060A04007F00070202040201020102020108",  # ECDH-GM 3DES, secp192r1
        "31143012060A04007F00070202040102020102020100",  # DH-GM AES-128, 1024-bit group
    ],
    ids=["aes256-secp384r1", "aes192-brainpoolP224r1", "3des-secp192r1", "dh1024-aes128"],
)
def test_pace_other_cipher_suites_and_groups_read_dg1(card_access_hex: str) -> None:
    card, cf = _card(card_access=bytes.fromhex(card_access_hex))
    result = read_chip(InProcessTransport(card), [access.key_from_can(citizen.CAN)], [dg_fid(1)])
    assert result.access_method == "PACE-CAN"
    assert result.files[dg_fid(1)] == cf.files[dg_fid(1)]


def test_short_length_reader_reads_the_same_bytes() -> None:
    card, cf = _card()
    result = read_chip(InProcessTransport(card, extended_length=False), [access.key_from_can(citizen.CAN)])
    _check_contents(result, cf)


def test_session_exposes_sm_and_transmit_secure_for_ca_and_aa_hooks() -> None:
    from edge.icao.apdu import CommandApdu
    from edge.icao.outcome import AuthOutcome, AuthProtocol, AuthStatus

    card, _ = _card()
    seen: list[int] = []

    def hook(session: ChipSession, result) -> None:  # type: ignore[no-untyped-def]
        assert session.sm is not None
        resp = session.transmit_secure(CommandApdu(0x00, 0x88, 0x00, 0x00, bytes(8), ne=256))
        seen.append(resp.sw)
        result.active_authentication = AuthOutcome.not_performed(
            AuthProtocol.ACTIVE_AUTHENTICATION, "not supported", resp.sw)

    result = ChipSession(InProcessTransport(card)).run(
        [access.key_from_can(citizen.CAN)], [EF_SOD], post_read=[hook])
    assert seen == [0x6D00]
    aa = result.active_authentication
    assert aa is not None and aa.status is AuthStatus.NOT_PERFORMED and aa.sw == 0x6D00 and not aa.performed
