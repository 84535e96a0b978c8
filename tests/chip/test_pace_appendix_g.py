"""ICAO 9303-11 Appendix G (PACE GM) and I (PACE-CAM) reproduced byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from edge.icao import pace
from edge.icao.apdu import CommandApdu, ResponseApdu
from edge.icao.lds.security_infos import parse_security_infos
from edge.icao.sm import SmContext
from tests.chip.fixed_random import FixedRandom
from tests.chip.testdata import h, vectors


def _scripted(v: dict[str, Any], sent: list[bytes]) -> pace.SendPlain:
    script = {h(a["command"]): h(a["response"]) for a in v["apdus"]}

    def send(cmd: CommandApdu) -> ResponseApdu:
        raw = cmd.to_bytes()
        sent.append(raw)
        assert raw in script, f"unexpected command {raw.hex().upper()}"
        return ResponseApdu.from_bytes(script[raw])

    return send


def _terminal(v: dict[str, Any]) -> pace.PaceTerminal:
    info = parse_security_infos(h(v["ef_card_access"])).pace[0]
    assert info.parameter_id == v["parameter_id"]
    return pace.PaceTerminal(
        password=pace.password_key(pace.PASSWORD_MRZ, v["mrz_information"]),
        password_ref=pace.PASSWORD_MRZ,
        protocol=pace.PaceProtocol.from_oid(info.protocol),
        parameter_id=info.parameter_id,
        random=FixedRandom(h(v["sk_map_ifd"]), h(v["sk_dh_ifd"])),
    )


@pytest.mark.parametrize("name", ["ecdh_gm_brainpoolp256r1_G1", "dh_gm_1024_G2"])
def test_pace_terminal_sends_every_appendix_g_command_byte_for_byte(name: str) -> None:
    v = vectors()["pace"][name]
    sent: list[bytes] = []
    result = _terminal(v).run(_scripted(v, sent))
    assert sent == [h(a["command"]) for a in v["apdus"]]
    assert (result.sm.ks_enc, result.sm.ks_mac) == (h(v["ks_enc"]), h(v["ks_mac"]))
    assert result.sm.ssc == 0


@pytest.mark.parametrize("name", ["ecdh_gm_brainpoolp256r1_G1", "dh_gm_1024_G2"])
def test_pace_card_answers_appendix_g_commands_with_its_responses(name: str) -> None:
    v = vectors()["pace"][name]
    infos = parse_security_infos(h(v["ef_card_access"])).pace
    card = pace.PaceCard(
        passwords={pace.PASSWORD_MRZ: pace.password_key(pace.PASSWORD_MRZ, v["mrz_information"])},
        supported=infos,
        random=FixedRandom(h(v["nonce_s"]), h(v["sk_map_ic"]), h(v["sk_dh_ic"])),
        # G.2's chip also names its CVCA (tag 87) in the last step.
        car=b"DETESTCVCA00003" if name == "dh_gm_1024_G2" else None,
    )
    sm: SmContext | None = None
    for a in v["apdus"]:
        cmd = CommandApdu.from_bytes(h(a["command"]))
        expected = h(a["response"])
        if cmd.ins == 0x22:
            card.mse_set_at(cmd.data)
            assert expected == h("9000")
            continue
        data, sm = card.general_authenticate(cmd)
        assert data + b"\x90\x00" == expected, a["step"]
    assert sm is not None and (sm.ks_enc, sm.ks_mac) == (h(v["ks_enc"]), h(v["ks_mac"]))


def test_pace_cam_terminal_reproduces_appendix_i_and_verifies_chip_key() -> None:
    v = vectors()["pace"]["ecdh_cam_I"]
    from edge.icao import mrz

    info = parse_security_infos(h(v["ef_card_access"])).pace[0]
    mrzi = mrz.mrz_information(v["document_number"], v["date_of_birth"], v["date_of_expiry"])
    term = pace.PaceTerminal(
        pace.password_key(pace.PASSWORD_MRZ, mrzi), pace.PASSWORD_MRZ,
        pace.PaceProtocol.from_oid(info.protocol), info.parameter_id or 13,
        FixedRandom(h(v["sk_map_ifd"]), h(v["sk_dh_ifd"])),
    )
    sent: list[bytes] = []
    result = term.run(_scripted(v, sent))
    assert sent == [h(a["command"]) for a in v["apdus"]]
    assert result.chip_authentication_data == h(v["chip_authentication_data_ca_ic"])
    assert pace.verify_cam(result, h(v["static_pk_ic"]))
    assert not pace.verify_cam(result, h(vectors()["pace"]["ecdh_gm_brainpoolp256r1_G1"]["pk_dh_ic"]))


def test_pace_card_answers_6300_when_the_terminal_used_a_wrong_password() -> None:
    v = vectors()["pace"]["ecdh_gm_brainpoolp256r1_G1"]
    infos = parse_security_infos(h(v["ef_card_access"])).pace
    card = pace.PaceCard({pace.PASSWORD_CAN: b"123456"}, infos)

    def send(cmd: CommandApdu) -> ResponseApdu:
        try:
            if cmd.ins == 0x22:
                card.mse_set_at(cmd.data)
                return ResponseApdu(b"", 0x9000)
            data, _ = card.general_authenticate(cmd)
            return ResponseApdu(data, 0x9000)
        except pace.PaceCardError as e:
            return ResponseApdu(b"", e.sw)

    term = pace.PaceTerminal(
        b"654321", pace.PASSWORD_CAN, pace.PaceProtocol.from_oid(infos[0].protocol), 13
    )
    with pytest.raises(pace.PaceError) as err:
        term.run(send)
    assert err.value.sw == 0x6300
