"""A whole reading: passive authentication + AA/CA + QR cross-check -> one level."""

from __future__ import annotations

import os
from datetime import date, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.trust import (
    CheckName,
    IdentityFields,
    TrustLevel,
    TrustStore,
    crosscheck,
    sign_aa_challenge,
    verify_aa,
    verify_passive,
)
from edge.trust.ca import chip_authentication_check
from tests.trust import synth
from tests.trust.conftest import covered_dgs, emrtd, read, reading_date


def _dg15(key: ec.EllipticCurvePrivateKey) -> bytes:
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"\x6f" + bytes([len(spki)]) + spki


def test_reading_with_active_authentication_and_matching_qr_is_clone_checked():
    pki = synth.make_pki()
    aa_key = ec.generate_private_key(ec.SECP256R1())
    dgs = {1: synth.DG1, 15: _dg15(aa_key)}
    sod = synth.make_sod(pki.ds_key, pki.ds, dgs)
    store = TrustStore.from_certificates(cscas=[pki.csca_der])
    r = verify_passive(sod, dgs, trust_store=store, at=synth.T0 + timedelta(days=10))
    assert r.level is TrustLevel.CHIP_VERIFIED

    challenge = os.urandom(8)
    aa = verify_aa(dgs[15], challenge, sign_aa_challenge(aa_key, challenge))
    r = r.with_check(CheckName.ACTIVE_AUTHENTICATION, aa)
    assert r.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED

    person = IdentityFields("001099012345", "Nguyễn Văn An", date(1999, 2, 1), "M")
    mrz = IdentityFields("001099012345", "NGUYEN<<VAN<AN", date(1999, 2, 1), "M")
    ok = r.with_qr().with_check(CheckName.CROSSCHECK, crosscheck(person, mrz))
    assert ok.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    other = IdentityFields("001099012346", "Nguyễn Văn Bình", date(1999, 2, 1), "M")
    bad = r.with_qr().with_check(CheckName.CROSSCHECK, crosscheck(other, mrz))
    assert bad.level is TrustLevel.INVALID
    assert bad.check("crosscheck").codes == ["id_number_mismatch", "name_mismatch"]


def test_clone_check_failure_makes_an_anchored_reading_invalid():
    pki = synth.make_pki()
    dgs = {1: synth.DG1, 14: b"\x6e\x02\x31\x00"}
    sod = synth.make_sod(pki.ds_key, pki.ds, dgs)
    store = TrustStore.from_certificates(cscas=[pki.csca_der])
    r = verify_passive(sod, dgs, trust_store=store, at=synth.T0 + timedelta(days=10))
    assert r.with_check("chip_authentication", chip_authentication_check(True)).level is (
        TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    )
    assert r.with_check("chip_authentication", chip_authentication_check(False)).level is TrustLevel.INVALID


def test_bsi_aa_key_not_covered_by_the_sod_cannot_upgrade_the_level(sod_vectors):
    # The BSI DG15 answers AA correctly, but the SOD does not cover DG15.
    entry = sod_vectors["bsi_tr03105_5_refdataset"]
    store = TrustStore(pinned_document_signers=[emrtd(entry["ds_cert"])])
    r = verify_passive(read(entry["sod"]), covered_dgs(entry), trust_store=store, at=reading_date(entry))
    assert r.level is TrustLevel.CHIP_VERIFIED
    key = serialization.load_der_private_key(read("bsi_tr03105_5_refdataset/DG15_sk.pkcs8"), None)
    challenge = os.urandom(8)
    aa = verify_aa(read(entry["dgs"]["15"]), challenge, sign_aa_challenge(key, challenge))
    assert aa.codes == ["aa_passed"]
    assert r.with_check("active_authentication", aa).level is TrustLevel.CHIP_VERIFIED

