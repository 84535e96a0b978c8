"""VirtualCard command behaviour (CCCD quirks, SM rules) and APDU accounting."""

from __future__ import annotations

import math

import pytest

from edge.icao import access, pace
from edge.icao.apdu import CommandApdu, ResponseApdu
from edge.icao.channel import Channel
from edge.icao.files import read_file, select_application
from edge.icao.lds.tags import EF_CARD_ACCESS, dg_fid
from edge.icao.session import ChipSession
from edge.icao.sm import max_plain_response
from simulators.vcard.card import DEFAULT_ATR, VirtualCard
from simulators.vcard.inprocess import InProcessTransport
from tests.chip import citizen


def _card(**kw: object) -> VirtualCard:
    return VirtualCard(citizen.card_files().files, citizen.CAN, citizen.MRZ_INFORMATION, **kw)  # type: ignore[arg-type]


def _sw(resp: bytes) -> int:
    return int.from_bytes(resp[-2:], "big")


def test_select_mf_answers_6d00_and_card_access_is_readable_by_file_id() -> None:
    card = _card()
    assert _sw(card.transmit(bytes.fromhex("00A4000C023F00"))) == 0x6D00
    ch = Channel(InProcessTransport(card))
    assert read_file(ch, EF_CARD_ACCESS) == bytes.fromhex("31143012060A04007F0007020204020202010202010D")
    assert card.atr() == DEFAULT_ATR and DEFAULT_ATR[0] == 0x3B


def test_application_files_need_access_control() -> None:
    card = _card()
    assert _sw(card.transmit(bytes.fromhex("00A4020C020101"))) == 0x6A82  # app not selected
    assert _sw(card.transmit(bytes.fromhex("00A4040C07A0000002471001"))) == 0x9000
    assert _sw(card.transmit(bytes.fromhex("00A4020C020101"))) == 0x9000
    assert _sw(card.transmit(bytes.fromhex("00B0000004"))) == 0x6982


def test_plain_command_after_sm_answers_6988_and_drops_the_session() -> None:
    card = _card()
    session = ChipSession(InProcessTransport(card))
    session.authenticate([access.key_from_can(citizen.CAN)])
    assert card.sm is not None
    assert _sw(card.transmit(bytes.fromhex("00A4020C020101"))) == 0x6988
    assert card.sm is None
    # The terminal learns it clearly: the card has dropped the session.
    from edge.icao.errors import SecureMessagingError

    with pytest.raises(SecureMessagingError, match="6988"):
        read_file(session.channel, dg_fid(1))


def test_badly_maced_command_answers_6988() -> None:
    card = _card()
    session = ChipSession(InProcessTransport(card))
    session.authenticate([access.key_from_can(citizen.CAN)])
    assert session.sm is not None
    protected = session.sm.protect_command(CommandApdu(0, 0xB0, 0, 0, ne=4)).to_bytes()
    tampered = protected[:-3] + bytes((protected[-3] ^ 1,)) + protected[-2:]
    assert card.transmit(tampered) == b"\x69\x88" and card.sm is None


def test_vectors_can_drive_the_card_with_injected_randomness() -> None:
    # The card's PACE answers are deterministic given its random source.
    from tests.chip.fixed_random import FixedRandom
    from tests.chip.testdata import h, vectors

    v = vectors()["pace"]["ecdh_gm_brainpoolp256r1_G1"]
    card = VirtualCard({}, None, v["mrz_information"], card_access=h(v["ef_card_access"]),
                       random=FixedRandom(h(v["nonce_s"]), h(v["sk_map_ic"]), h(v["sk_dh_ic"])))
    for a in v["apdus"]:
        assert card.transmit(h(a["command"])) == h(a["response"]), a["step"]
    assert card.sm is not None and card.sm.ks_enc == h(v["ks_enc"])


def test_bac_vectors_through_the_card() -> None:
    from tests.chip.fixed_random import FixedRandom
    from tests.chip.testdata import h, vectors

    v = vectors()["bac"]
    card = VirtualCard({}, None, v["mrz_information"], card_access=None,
                       random=FixedRandom(h(v["rnd_ic"]), h(v["k_ic"])))
    assert card.transmit(h(v["get_challenge_apdu"])) == h(v["get_challenge_response"])
    assert card.transmit(h(v["external_authenticate_apdu"])) == h(v["external_authenticate_response"])


def _dg2_read_count(card: VirtualCard, extended: bool, key: access.AccessKey) -> tuple[int, int]:
    session = ChipSession(InProcessTransport(card, extended_length=extended))
    session.authenticate([key])
    before = session.channel.stats.by_ins.get(0xB0, 0)
    session.read_files([dg_fid(2)])
    total = len(session.result.files[dg_fid(2)])
    return session.channel.stats.by_ins.get(0xB0, 0) - before, total


def test_20kb_dg2_takes_one_read_binary_with_extended_length() -> None:
    card = VirtualCard(citizen.card_files(20 * 1024).files, citizen.CAN, citizen.MRZ_INFORMATION)
    reads, total = _dg2_read_count(card, True, access.key_from_can(citizen.CAN))
    assert total > 20 * 1024
    assert reads == 1


@pytest.mark.parametrize("method", ["PACE-AES", "BAC-3DES"])
def test_20kb_dg2_without_extended_length_takes_ceil_total_over_le(method: str) -> None:
    files = citizen.card_files(20 * 1024).files
    if method == "BAC-3DES":
        card = VirtualCard(files, None, citizen.MRZ_INFORMATION, card_access=None)
        key = access.keys_from_mrz(citizen.MRZ_LINES)[0]
        le = max_plain_response(256, 8)
        assert le == 231
    else:
        card = VirtualCard(files, citizen.CAN, citizen.MRZ_INFORMATION)
        key = access.key_from_can(citizen.CAN)
        le = max_plain_response(256, 16)
        assert le == 0xDF
    reads, total = _dg2_read_count(card, False, key)
    assert reads == math.ceil(total / le)


def test_plain_reads_use_le_256_and_extended_65536() -> None:
    card = _card()
    ch = Channel(InProcessTransport(card, extended_length=False))
    read_file(ch, EF_CARD_ACCESS)
    assert ch.stats.by_ins[0xB0] == 1


def test_files_above_32k_use_odd_ins_read_binary() -> None:
    files = citizen.card_files(40 * 1024).files
    card = VirtualCard(files, citizen.CAN, citizen.MRZ_INFORMATION)
    session = ChipSession(InProcessTransport(card, extended_length=False))
    session.authenticate([access.key_from_can(citizen.CAN)])
    session.read_files([dg_fid(2)])
    assert session.result.files[dg_fid(2)] == files[dg_fid(2)]
    assert session.channel.stats.by_ins.get(0xB1, 0) > 0


def test_pace_mse_with_an_unknown_protocol_is_refused() -> None:
    card = _card()
    cmd = pace.mse_set_at(pace.PaceProtocol.from_oid("0.4.0.127.0.7.2.2.4.2.4"), pace.PASSWORD_CAN)
    assert _sw(card.transmit(cmd.to_bytes())) == 0x6A80
    assert ResponseApdu.from_bytes(card.transmit(bytes.fromhex("10860000027C0000"))).sw == 0x6985
    ch = Channel(InProcessTransport(card))
    select_application(ch)


def test_odd_ins_reads_above_32k_keep_the_response_size_on_a_short_reader() -> None:
    files = citizen.card_files(40 * 1024).files
    card = VirtualCard(files, citizen.CAN, citizen.MRZ_INFORMATION)
    session = ChipSession(InProcessTransport(card, extended_length=False))
    session.authenticate([access.key_from_can(citizen.CAN)])
    session.read_files([dg_fid(2)])
    assert session.result.files[dg_fid(2)] == files[dg_fid(2)]
    assert session.sizer.limit == 256 and not session.sizer.history  # the DO'53' wrapper is not a short answer
