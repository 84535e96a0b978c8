"""Each way passive authentication must fail, with the reason it must give."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import x509

from edge.trust import CheckStatus, TrustLevel, TrustStore, parse_sod, verify_passive
from tests.trust import synth
from tests.trust.conftest import covered_dgs, emrtd, read, reading_date


def _flip(data: bytes, index: int) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def test_data_group_not_covered_by_the_sod_is_rejected_bsi_dg15(sod_vectors):
    entry = sod_vectors["bsi_tr03105_5_refdataset"]
    dgs = covered_dgs(entry)
    dgs[15] = read(entry["dgs"]["15"])
    r = verify_passive(read(entry["sod"]), dgs, at=reading_date(entry))
    check = r.check("data_group_hashes")
    assert check.status is CheckStatus.FAILED
    assert check.codes == ["dg_not_in_sod"]
    assert check.reason.detail == "DG15"
    assert check.details["data_groups"]["1"] == "match"
    assert r.level is TrustLevel.INVALID


def test_flipped_byte_in_a_data_group_is_a_hash_mismatch(sod_vectors):
    entry = sod_vectors["jmrtd_loes2006"]
    dgs = covered_dgs(entry)
    dgs[1] = _flip(dgs[1], 10)
    r = verify_passive(read(entry["sod"]), dgs, at=reading_date(entry))
    assert r.check("data_group_hashes").codes == ["dg_hash_mismatch"]
    assert r.check("data_group_hashes").reason.detail == "DG1"
    assert r.level is TrustLevel.INVALID


@pytest.mark.parametrize("cc", ["FR", "UK", "AT"])  # PKCS#1 v1.5, ECDSA named, ECDSA explicit
def test_flipped_byte_in_the_sod_signature_is_rejected(cc, sod_vectors):
    entry = sod_vectors[f"gmrtd_pa_{cc}"]
    sod = parse_sod(read(entry["sod"]))
    sig = sod.signer_info["signature"].native
    raw = read(entry["sod"])
    pos = raw.rindex(sig) + len(sig) // 2
    r = verify_passive(_flip(raw, pos), trust_store=TrustStore([emrtd(entry["csca"])]), at=reading_date(entry))
    assert r.check("signature").status is CheckStatus.FAILED
    assert r.check("signature").codes == ["signature_invalid"]
    assert r.level is TrustLevel.INVALID


def test_altered_security_object_fails_the_message_digest(sod_vectors):
    entry = sod_vectors["gmrtd_pa_DE"]
    raw = read(entry["sod"])
    sod = parse_sod(raw)
    h = next(iter(sod.dg_hashes.values()))
    pos = raw.index(h)
    r = verify_passive(_flip(raw, pos), at=reading_date(entry))
    assert r.check("signature").codes == ["message_digest_mismatch"]
    assert r.level is TrustLevel.INVALID


@pytest.mark.parametrize("cc", ["DE", "FR"])
def test_document_signer_outside_its_validity_at_reading_date(cc, sod_vectors):
    entry = sod_vectors[f"gmrtd_pa_{cc}"]
    store = TrustStore([emrtd(entry["csca"])])
    ds = x509.Certificate.load(read(entry["ds_cert"]))
    after = ds["tbs_certificate"]["validity"]["not_after"].native + timedelta(days=1)
    before = ds["tbs_certificate"]["validity"]["not_before"].native - timedelta(days=1)
    r = verify_passive(read(entry["sod"]), trust_store=store, at=after)
    assert r.check("validity").status is CheckStatus.FAILED
    assert "ds_expired" in r.check("validity").codes
    assert r.level is TrustLevel.CHIP_DATA_UNANCHORED
    r = verify_passive(read(entry["sod"]), trust_store=store, at=before)
    assert "ds_not_yet_valid" in r.check("validity").codes
    assert not r.verified


def test_document_signer_checked_against_another_countrys_csca(sod_vectors):
    entry = sod_vectors["gmrtd_pa_FR"]
    store = TrustStore([emrtd("gmrtd_pa/DE_CSCA.cer"), emrtd("gmrtd_pa/UK_CSCA.cer")])
    r = verify_passive(read(entry["sod"]), trust_store=store, at=reading_date(entry))
    assert r.check("signature").status is CheckStatus.PASSED
    assert r.check("chain").status is CheckStatus.FAILED
    assert r.check("chain").codes == ["csca_not_found"]
    assert r.level is TrustLevel.CHIP_DATA_UNANCHORED
    assert not r.verified


def test_ds_certificate_claiming_a_csca_it_was_not_signed_by_is_invalid():
    pki = synth.make_pki()
    attacker_key, _ = synth.make_csca("attacker")
    # Same issuer name and authority key identifier as the real DS, wrong signing key.
    ds_key, forged_ds = synth.make_ds(pki.csca_key, pki.csca, signing_key=attacker_key)
    sod = synth.make_sod(ds_key, forged_ds, {1: synth.DG1})
    store = TrustStore.from_certificates(cscas=[pki.csca_der])
    r = verify_passive(sod, {1: synth.DG1}, trust_store=store, at=synth.T0 + timedelta(days=10))
    assert r.check("signature").status is CheckStatus.PASSED
    assert r.check("chain").codes == ["ds_certificate_signature_invalid"]
    assert r.level is TrustLevel.INVALID


def test_revoked_document_signer_is_invalid_and_unrevoked_is_verified():
    pki = synth.make_pki()
    sod = synth.make_sod(pki.ds_key, pki.ds, {1: synth.DG1, 2: synth.DG2})
    store = TrustStore.from_certificates(cscas=[pki.csca_der])
    at = synth.T0 + timedelta(days=10)
    revoked = synth.make_crl(pki.csca_key, pki.csca, [pki.ds.serial_number])
    r = verify_passive(sod, {1: synth.DG1}, trust_store=store, at=at, crls=[revoked])
    assert r.check("revocation").codes == ["revoked"]
    assert r.level is TrustLevel.INVALID
    clean = synth.make_crl(pki.csca_key, pki.csca, [12345])
    r = verify_passive(sod, {1: synth.DG1}, trust_store=store, at=at, crls=[clean])
    assert r.check("revocation").codes == ["not_revoked"]
    assert r.level is TrustLevel.CHIP_VERIFIED


def test_crl_not_signed_by_the_csca_is_ignored_with_a_reason():
    pki = synth.make_pki()
    other_key, other = synth.make_csca()  # same name "CSCA Test", other key
    sod = synth.make_sod(pki.ds_key, pki.ds, {1: synth.DG1})
    store = TrustStore.from_certificates(cscas=[pki.csca_der])
    fake = synth.make_crl(other_key, other, [pki.ds.serial_number])
    r = verify_passive(sod, trust_store=store, at=synth.T0 + timedelta(days=10), crls=[fake])
    assert r.check("revocation").codes == ["crl_signature_invalid"]
    assert r.level is TrustLevel.CHIP_VERIFIED


def test_outdated_crl_does_not_count_as_checked():
    pki = synth.make_pki()
    sod = synth.make_sod(pki.ds_key, pki.ds, {1: synth.DG1})
    store = TrustStore.from_certificates(cscas=[pki.csca_der])
    old = synth.make_crl(pki.csca_key, pki.csca, [], next_update_days=5)
    r = verify_passive(sod, trust_store=store, at=synth.T0 + timedelta(days=10), crls=[old])
    assert r.check("revocation").codes == ["crl_outdated"]


def test_sod_without_certificate_uses_the_ds_supplied_separately():
    pki = synth.make_pki()
    sod = synth.make_sod(pki.ds_key, pki.ds, {1: synth.DG1}, include_cert=False)
    at = synth.T0 + timedelta(days=10)
    r = verify_passive(sod, at=at)
    assert r.check("signature").codes == ["ds_certificate_missing"]
    assert r.level is TrustLevel.INVALID
    r = verify_passive(sod, at=at, ds_certificate=pki.ds_der)
    assert r.check("signature").codes == ["signature_valid"]
    # ... or found among the pinned DS certificates of the store
    store = TrustStore.from_certificates(pinned_document_signers=[pki.ds_der])
    r = verify_passive(sod, at=at, trust_store=store)
    assert r.check("chain").codes == ["pinned_document_signer"]
    assert r.level is TrustLevel.CHIP_VERIFIED


def test_unparsable_sod_is_a_failed_signature_check():
    r = verify_passive(b"\x77\x03\x01\x02\x03")
    assert r.check("signature").codes == ["sod_unparsable"]
    assert r.level is TrustLevel.INVALID


def test_unsupported_data_group_hash_algorithm_is_reported_not_raised():
    import dataclasses

    pki = synth.make_pki()
    sod = parse_sod(synth.make_sod(pki.ds_key, pki.ds, {1: synth.DG1}))
    odd = dataclasses.replace(sod, hash_algorithm="md5")
    r = verify_passive(odd, {1: synth.DG1}, at=synth.T0 + timedelta(days=10))
    assert r.check("data_group_hashes").codes == ["unsupported_algorithm"]
    assert r.check("data_group_hashes").status is CheckStatus.NOT_CHECKED


@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_data_group_hashes_with_each_sha_algorithm(hash_name):
    pki = synth.make_pki()
    dgs = {1: synth.DG1, 2: synth.DG2}
    sod = synth.make_sod(pki.ds_key, pki.ds, dgs, hash_name=hash_name)
    r = verify_passive(sod, dgs, at=synth.T0 + timedelta(days=10))
    assert r.details["hash_algorithm"] == hash_name
    assert r.check("data_group_hashes").codes == ["dg_hashes_match"]
    r = verify_passive(sod, {1: synth.DG1, 2: _flip(synth.DG2, 2)}, at=synth.T0 + timedelta(days=10))
    assert r.check("data_group_hashes").codes == ["dg_hash_mismatch"]


def test_sod_parser_is_strict_der_apart_from_indefinite_lengths():
    from edge.trust import SODParseError, parse_sod
    from tests.trust.conftest import read

    sod = read("gmrtd_pa/FR_EF_SOD.bin")
    parse_sod(sod)
    with pytest.raises(SODParseError, match="bytes after the object"):
        parse_sod(sod + b"\x00")
    # The same object with its outer length in a longer form than needed (82 -> 83 00 ..): not DER.
    assert sod[1] == 0x82
    longer = sod[:1] + b"\x83\x00" + sod[2:]
    with pytest.raises(SODParseError, match="shortest form"):
        parse_sod(longer)
    parse_sod(read("gmrtd_pa/NZ_EF_SOD.bin"))  # BER indefinite lengths stay accepted (real NZ passports)
