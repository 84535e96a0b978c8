"""ICAO 9303-11 Appendix D reproduced: BAC (D.1-D.3) and secure messaging (D.4)."""

from __future__ import annotations

import pytest

from edge.icao import bac
from edge.icao.apdu import CommandApdu, ResponseApdu
from edge.icao.crypto import TDES
from edge.icao.errors import AuthenticationError, SecureMessagingError
from edge.icao.sm import SmContext, max_plain_response
from tests.chip.fixed_random import FixedRandom
from tests.chip.testdata import h, vectors


def test_bac_key_seed_and_keys_match_d2() -> None:
    v = vectors()["bac"]
    assert bac.key_seed(v["mrz_information"]) == h(v["kseed"])
    assert bac.derive_keys(h(v["kseed"])) == (h(v["kenc"]), h(v["kmac"]))
    extra = vectors()["bac_extra"][0]
    assert bac.key_seed(extra["mrz_information"]) == h(extra["kseed"])


def test_bac_terminal_sends_d3_apdus_and_derives_session_keys_and_ssc() -> None:
    v = vectors()["bac"]
    sent: list[bytes] = []
    answers = {
        h(v["get_challenge_apdu"]): h(v["get_challenge_response"]),
        h(v["external_authenticate_apdu"]): h(v["external_authenticate_response"]),
    }

    def send(cmd: CommandApdu) -> ResponseApdu:
        raw = cmd.to_bytes()
        sent.append(raw)
        return ResponseApdu.from_bytes(answers[raw])

    term = bac.BacTerminal(v["mrz_information"], FixedRandom(h(v["rnd_ifd"]), h(v["k_ifd"])))
    ctx = term.run(send)
    assert sent == [h(v["get_challenge_apdu"]), h(v["external_authenticate_apdu"])]
    assert (ctx.ks_enc, ctx.ks_mac) == (h(v["ks_enc"]), h(v["ks_mac"]))
    assert ctx.ssc_bytes() == h(v["ssc"])


def test_bac_card_answers_d3_challenge_and_cryptogram() -> None:
    v = vectors()["bac"]
    card = bac.BacCard(v["mrz_information"], FixedRandom(h(v["rnd_ic"]), h(v["k_ic"])))
    assert card.get_challenge() == h(v["rnd_ic"])
    resp, ctx = card.external_authenticate(h(v["external_authenticate_cmd_data"]))
    assert resp == h(v["external_authenticate_resp_data"])
    assert (ctx.ks_enc, ctx.ks_mac, ctx.ssc_bytes()) == (h(v["ks_enc"]), h(v["ks_mac"]), h(v["ssc"]))


def test_bac_card_rejects_a_wrong_key() -> None:
    v = vectors()["bac"]
    wrong = v["mrz_information"][:-7] + "9406246"  # another expiry date
    card = bac.BacCard(wrong, FixedRandom(h(v["rnd_ic"])))
    card.get_challenge()
    with pytest.raises(AuthenticationError):
        card.external_authenticate(h(v["external_authenticate_cmd_data"]))


def _ctx() -> SmContext:
    c = vectors()["sm_common"]
    return SmContext(TDES, h(c["ks_enc"]), h(c["ks_mac"]), int(c["ssc_initial"], 16))


def test_sm_terminal_reproduces_every_d4_command_and_response() -> None:
    ctx = _ctx()
    for ex in vectors()["sm_examples"]:
        plain = CommandApdu.from_bytes(h(ex["unprotected_apdu"]))
        protected = ctx.protect_command(plain)
        assert ctx.ssc_bytes() == h(ex["ssc_for_command"]), ex["name"]
        assert protected.to_bytes() == h(ex["protected_apdu"]), ex["name"]
        resp = ctx.unprotect_response(h(ex["response_apdu"]))
        assert ctx.ssc_bytes() == h(ex["ssc_for_response"])
        assert resp.to_bytes() == h(ex["unprotected_response"]), ex["name"]


def test_sm_card_side_reproduces_d4_responses() -> None:
    # The card unwraps the terminal's protected command and wraps its answer;
    # its output must be the response printed in D.4 (MAC input with padding,
    # per the erratum for D.4.3).
    ctx = _ctx()
    for ex in vectors()["sm_examples"]:
        cmd = ctx.unprotect_command(CommandApdu.from_bytes(h(ex["protected_apdu"])))
        assert cmd.to_bytes() == h(ex["unprotected_apdu"]), ex["name"]
        resp = ResponseApdu.from_bytes(h(ex["unprotected_response"]))
        assert ctx.protect_response(resp) == h(ex["response_apdu"]), ex["name"]


def test_sm_response_with_a_wrong_mac_raises() -> None:
    ex = vectors()["sm_examples"][1]
    ctx = _ctx()
    ctx.protect_command(CommandApdu.from_bytes(h(ex["unprotected_apdu"])))
    ctx.ssc = int(ex["ssc_for_command"], 16)
    bad = bytearray(h(ex["response_apdu"]))
    bad[-3] ^= 0x01
    with pytest.raises(SecureMessagingError):
        ctx.unprotect_response(bytes(bad))


@pytest.mark.parametrize(
    "raw",
    ["990290009000", "8E08FA855A5D4C50A8ED99029000" + "9000", "87FF01" + "9000", "8E" ],
    ids=["no-mac", "object-after-mac", "truncated-do87", "no-sw"],
)
def test_sm_malformed_responses_raise_secure_messaging_error(raw: str) -> None:
    with pytest.raises(SecureMessagingError):
        _ctx().unprotect_response(h(raw))


def test_sm_extra_vectors_aes_and_3des() -> None:
    from edge.icao.crypto import AES128

    for ex in vectors()["sm_extra_non_icao"]:
        spec = AES128 if ex.get("alg") == "AES" else TDES
        ctx = SmContext(spec, h(ex["ks_enc"]), h(ex["ks_mac"]), int(ex["ssc_before"], 16))
        if "protected_apdu" in ex:
            plain = CommandApdu.from_bytes(h(ex["unprotected_apdu"]))
            assert ctx.protect_command(plain).to_bytes() == h(ex["protected_apdu"])
        elif "response_apdu" in ex:
            resp = ctx.unprotect_response(h(ex["response_apdu"]))
            assert resp.data == h(ex["expected_data"])
            assert resp.sw == int(ex["expected_sw"], 16)


def test_max_plain_response_fits_short_le() -> None:
    assert max_plain_response(256, 16) == 223  # 0xDF for AES
    assert max_plain_response(256, 8) == 231
