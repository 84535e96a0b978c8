"""TrustLevel ordering and the rules deciding the level from the checks."""

from __future__ import annotations

import json

import pytest

from edge.trust.levels import TrustLevel
from edge.trust.result import REASONS, Check, CheckName, CheckStatus, Reason, TrustResult, decide_level

P, F, NC = CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.NOT_CHECKED


def test_trust_level_values_are_the_event_contract_strings_in_order():
    assert [lv.value for lv in TrustLevel] == [
        "invalid", "qr_only", "chip_data_unanchored", "chip_verified", "chip_verified_clone_checked",
    ]  # fmt: skip
    assert [lv.rank for lv in TrustLevel] == [0, 1, 2, 3, 4]
    assert TrustLevel("chip_verified") is TrustLevel.CHIP_VERIFIED
    assert isinstance(TrustLevel.QR_ONLY, str)


def test_trust_level_compares_by_rank_not_alphabetically():
    assert TrustLevel.INVALID < TrustLevel.QR_ONLY < TrustLevel.CHIP_DATA_UNANCHORED
    assert TrustLevel.CHIP_DATA_UNANCHORED < TrustLevel.CHIP_VERIFIED < TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert TrustLevel.QR_ONLY > TrustLevel.INVALID  # alphabetically "qr_only" > "invalid" too, so:
    assert TrustLevel.CHIP_VERIFIED > TrustLevel.QR_ONLY  # "chip..." < "qr..." as strings
    assert max(TrustLevel) is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    assert sorted([TrustLevel.QR_ONLY, TrustLevel.INVALID, TrustLevel.CHIP_VERIFIED])[0] is TrustLevel.INVALID
    assert TrustLevel.CHIP_VERIFIED >= TrustLevel.CHIP_VERIFIED
    with pytest.raises(TypeError):
        TrustLevel.INVALID < 3  # noqa: B015
    assert json.dumps({"level": TrustLevel.QR_ONLY}) == '{"level": "qr_only"}'


def _checks(**statuses: tuple[CheckStatus, str]) -> dict[CheckName, Check]:
    out = {CheckName(k): Check.make(s, code) for k, (s, code) in statuses.items()}
    if statuses.get("data_group_hashes", (None,))[0] is P:  # DG14/DG15 keys authenticated
        out[CheckName.DATA_GROUP_HASHES] = Check.make(
            P, "dg_hashes_match", data_groups={"1": "match", "14": "match", "15": "match"}
        )
    return out


VERIFIED = {
    "data_group_hashes": (P, "dg_hashes_match"),
    "signature": (P, "signature_valid"),
    "chain": (P, "chain_anchored"),
    "validity": (P, "within_validity"),
    "revocation": (NC, "no_crl"),
}


def test_anchored_valid_not_revoked_is_chip_verified():
    assert decide_level(_checks(**VERIFIED)) is TrustLevel.CHIP_VERIFIED


@pytest.mark.parametrize("clone", ["chip_authentication", "active_authentication"])
def test_chip_or_active_authentication_passed_adds_clone_checked(clone):
    code = "ca_passed" if clone == "chip_authentication" else "aa_passed"
    assert decide_level(_checks(**VERIFIED, **{clone: (P, code)})) is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED


@pytest.mark.parametrize(
    "name,code",
    [
        ("data_group_hashes", "dg_hash_mismatch"),
        ("signature", "signature_invalid"),
        ("chip_authentication", "ca_failed"),
        ("active_authentication", "aa_failed"),
        ("revocation", "revoked"),
        ("crosscheck", "name_mismatch"),
    ],
)
def test_any_failed_hash_signature_clone_check_revocation_or_crosscheck_is_invalid(name, code):
    # a passed clone check elsewhere does not rescue it
    other = "chip_authentication" if name == "active_authentication" else "active_authentication"
    other_code = "ca_passed" if other == "chip_authentication" else "aa_passed"
    checks = _checks(**{**VERIFIED, other: (P, other_code), name: (F, code)})
    assert decide_level(checks) is TrustLevel.INVALID


@pytest.mark.parametrize("clone,dg", [("chip_authentication", "14"), ("active_authentication", "15")])
def test_clone_check_counts_only_when_its_key_data_group_was_hash_verified(clone, dg):
    code = "ca_passed" if clone == "chip_authentication" else "aa_passed"
    checks = _checks(**VERIFIED, **{clone: (P, code)})
    groups = {"1": "match", "14": "match", "15": "match"}
    del groups[dg]
    checks[CheckName.DATA_GROUP_HASHES] = Check.make(P, "dg_hashes_match", data_groups=groups)
    assert decide_level(checks) is TrustLevel.CHIP_VERIFIED


def test_signature_fine_but_no_anchor_is_unanchored_even_with_clone_check():
    checks = _checks(**{**VERIFIED, "chain": (F, "csca_not_found")}, chip_authentication=(P, "ca_passed"))
    assert decide_level(checks) is TrustLevel.CHIP_DATA_UNANCHORED
    checks = _checks(**{**VERIFIED, "validity": (F, "ds_expired")})
    assert decide_level(checks) is TrustLevel.CHIP_DATA_UNANCHORED


def test_no_chip_data_is_qr_only_with_a_qr_and_invalid_without():
    assert decide_level({}, qr_present=True) is TrustLevel.QR_ONLY
    assert decide_level({}) is TrustLevel.INVALID


def test_result_with_check_and_json_shape():
    r = TrustResult(_checks(**VERIFIED)).with_check("active_authentication", Check.make(P, "aa_passed"))
    assert r.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    d = json.loads(json.dumps(r.to_dict()))
    assert d["level"] == "chip_verified_clone_checked"
    assert d["checks"]["crosscheck"]["status"] == "not_checked"
    assert d["checks"]["signature"]["reasons"][0]["code"] == "signature_valid"
    assert d["checks"]["signature"]["reasons"][0]["vi"]


def test_every_reason_has_english_and_vietnamese_text():
    for code, (en, vi) in REASONS.items():
        assert en and vi and en != vi, code
        assert Reason.of(code).code == code
