"""Passive authentication of real EF.SODs (12 countries) and specimen sets."""

from __future__ import annotations

import pytest

from edge.trust import CheckStatus, TrustLevel, TrustStore, parse_sod, verify_passive
from tests.trust.conftest import COUNTRIES, covered_dgs, emrtd, read, reading_date

SPECIMENS = ["bsi_tr03105_5_refdataset", "jmrtd_bsi2008", "jmrtd_loes2006", "pymrtd_etsi"]


@pytest.mark.parametrize("cc", COUNTRIES)
def test_real_sod_verifies_up_to_its_single_csca_certificate(cc, sod_vectors):
    entry = sod_vectors[f"gmrtd_pa_{cc}"]
    store = TrustStore([emrtd(entry["csca"])])
    assert store.counts["cscas"] == 1
    r = verify_passive(read(entry["sod"]), trust_store=store, at=reading_date(entry))
    assert r.check("signature").status is CheckStatus.PASSED
    assert r.check("chain").codes == ["chain_anchored"]
    assert r.check("validity").status is CheckStatus.PASSED
    assert r.level is TrustLevel.CHIP_VERIFIED
    assert r.verified
    # what vectors.json says about the SOD
    assert r.details["hash_algorithm"] == entry["expected"]["dg_hash_algorithm"]
    assert r.details["ds_serial"] == entry["expected"]["ds_serial_hex"]


# The Indonesian CSCA this DS chains to ("CN=CSCA, O=DIT SISTIK") is in neither
# master list (they carry only Indonesia's "CSCAProd" keys): unanchored there.
IN_MASTER_LISTS = [cc for cc in COUNTRIES if cc != "ID"]


@pytest.mark.parametrize("cc", IN_MASTER_LISTS)
def test_real_sod_verifies_up_to_the_german_master_list(cc, sod_vectors, de_store):
    entry = sod_vectors[f"gmrtd_pa_{cc}"]
    r = verify_passive(read(entry["sod"]), trust_store=de_store, at=reading_date(entry))
    assert r.check("chain").codes == ["chain_anchored"], r.to_dict()
    assert r.level is TrustLevel.CHIP_VERIFIED


@pytest.mark.parametrize("cc", IN_MASTER_LISTS)
def test_real_sod_verifies_up_to_the_dutch_master_list(cc, sod_vectors, nl_store):
    entry = sod_vectors[f"gmrtd_pa_{cc}"]
    r = verify_passive(read(entry["sod"]), trust_store=nl_store, at=reading_date(entry))
    assert r.check("chain").codes == ["chain_anchored"], r.to_dict()
    assert r.level is TrustLevel.CHIP_VERIFIED


@pytest.mark.parametrize("store_fixture", ["de_store", "nl_store"])
def test_indonesian_sod_is_unanchored_with_master_lists_lacking_its_csca(store_fixture, sod_vectors, request):
    entry = sod_vectors["gmrtd_pa_ID"]
    r = verify_passive(read(entry["sod"]), trust_store=request.getfixturevalue(store_fixture), at=reading_date(entry))
    assert r.check("signature").status is CheckStatus.PASSED
    assert r.check("chain").codes == ["csca_not_found"]
    assert r.level is TrustLevel.CHIP_DATA_UNANCHORED


@pytest.mark.parametrize("entry_id", SPECIMENS)
def test_specimen_data_group_hashes_match_and_signature_verifies(entry_id, sod_vectors):
    entry = sod_vectors[entry_id]
    dgs = covered_dgs(entry)
    assert dgs
    sod = parse_sod(read(entry["sod"]))
    assert {str(n): h.hex().upper() for n, h in sod.dg_hashes.items()} == entry["expected"]["dg_hashes"]
    r = verify_passive(sod, dgs, at=reading_date(entry))
    assert r.check("data_group_hashes").status is CheckStatus.PASSED
    assert set(r.check("data_group_hashes").details["data_groups"].values()) == {"match"}
    assert r.check("signature").codes == ["signature_valid"]
    # No CSCA is published for the specimens: signature fine, not anchored.
    assert r.level is TrustLevel.CHIP_DATA_UNANCHORED


def test_bsi2008_signature_with_explicit_brainpool_p224_parameters_verifies(sod_vectors):
    entry = sod_vectors["jmrtd_bsi2008"]
    r = verify_passive(read(entry["sod"]), covered_dgs(entry), at=reading_date(entry))
    assert r.details["signature_algorithm"] == "ecdsa-sha1"
    assert r.check("signature").status is CheckStatus.PASSED


def test_specimen_sod_verifies_with_the_ds_pinned(sod_vectors):
    entry = sod_vectors["bsi_tr03105_5_refdataset"]
    store = TrustStore(pinned_document_signers=[emrtd(entry["ds_cert"])])
    r = verify_passive(read(entry["sod"]), covered_dgs(entry), trust_store=store, at=reading_date(entry))
    assert r.check("chain").codes == ["pinned_document_signer"]
    assert r.level is TrustLevel.CHIP_VERIFIED


@pytest.mark.parametrize("entry_id", ["jmrtd_nz2013", "gmrtd_pa_NZ"])
def test_indefinite_length_nz_sod_parses_and_verifies(entry_id, sod_vectors):
    entry = sod_vectors[entry_id]
    raw = read(entry["sod"])
    assert raw[4:6] == b"\x30\x80"  # BER indefinite length inside tag 77
    r = verify_passive(raw, at=reading_date(entry))
    assert r.check("signature").codes == ["signature_valid"]
