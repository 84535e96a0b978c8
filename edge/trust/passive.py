"""Passive authentication (ICAO 9303 Part 11 §5.1, Part 12 PKI).

:func:`verify_passive` checks, in order: the data-group hashes against
EF.SOD; the messageDigest signed attribute and the SignerInfo signature with
the document-signer (DS) certificate; the DS certificate up to a CSCA of the
trust store (or a pinned DS); validity of DS and CSCA at the reading date; and
revocation when a CRL of that CSCA is available. It never raises on bad card
data: everything ends up as a check status in the :class:`TrustResult`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from asn1crypto import crl, x509

from edge.trust import _cms, _crypto
from edge.trust.errors import SODParseError, TrustError, UnsupportedAlgorithm
from edge.trust.result import Check, CheckName, CheckStatus, Reason, TrustResult
from edge.trust.sod import SOD, find_signer_certificate, names_match, parse_sod, require_signed
from edge.trust.store import TrustStore, fingerprint, load_certificates, load_crls, signed_by

P, F, NC, NA = CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.NOT_CHECKED, CheckStatus.NOT_APPLICABLE


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def check_data_groups(sod: SOD, data_groups: Mapping[int, bytes]) -> Check:
    """Hash each data group given and compare with EF.SOD."""
    if not data_groups:
        return Check.make(NC, "no_data_groups")
    per_dg: dict[str, str] = {}
    reasons: list[Reason] = []
    for n in sorted(data_groups):
        expected = sod.dg_hashes.get(n)
        if expected is None:
            per_dg[str(n)] = "not_in_sod"
            reasons.append(Reason.of("dg_not_in_sod", f"DG{n}"))
            continue
        actual = _crypto.digest(sod.hash_algorithm, data_groups[n])
        if hmac.compare_digest(actual, expected):
            per_dg[str(n)] = "match"
        else:
            per_dg[str(n)] = "mismatch"
            reasons.append(Reason.of("dg_hash_mismatch", f"DG{n}"))
    if reasons:
        return Check(F, tuple(reasons), {"data_groups": per_dg})
    return Check(P, (Reason.of("dg_hashes_match"),), {"data_groups": per_dg})


def _validity_reasons(cert: x509.Certificate, at: datetime, who: str) -> list[Reason]:
    v = cert["tbs_certificate"]["validity"]
    nb, na = v["not_before"].native, v["not_after"].native
    if at < nb:
        return [Reason.of(f"{who}_not_yet_valid", f"not before {nb.isoformat()}")]
    if at > na:
        return [Reason.of(f"{who}_expired", f"not after {na.isoformat()}")]
    return []


def _check_revocation(
    ds: x509.Certificate, csca: x509.Certificate | None, crls: list[crl.CertificateList], at: datetime
) -> Check:
    if csca is None:
        return Check.make(NC, "no_crl", "no CSCA to check a CRL with")
    usable = [c for c in crls if _same_issuer(c, ds)]
    if not usable:
        return Check.make(NC, "no_crl")
    good = [c for c in usable if signed_by(c, csca)]
    if not good:
        return Check.make(NC, "crl_signature_invalid")
    serial = ds.serial_number
    for c in good:
        for entry in c["tbs_cert_list"]["revoked_certificates"] or []:
            if entry["user_certificate"].native == serial:
                when = entry["revocation_date"].native
                return Check.make(F, "revoked", f"revoked on {when.isoformat() if when else '?'}")
    fresh = [
        c for c in good
        if c["tbs_cert_list"]["next_update"].native is None or at <= c["tbs_cert_list"]["next_update"].native
    ]
    if not fresh:
        return Check.make(NC, "crl_outdated")
    return Check.make(P, "not_revoked")


def _same_issuer(c: crl.CertificateList, ds: x509.Certificate) -> bool:
    return names_match(c.issuer, ds.issuer)


def _as_cert(c: bytes | x509.Certificate) -> x509.Certificate:
    return c if isinstance(c, x509.Certificate) else load_certificates(c)[0]


def _as_crl(c: bytes | crl.CertificateList) -> crl.CertificateList:
    return c if isinstance(c, crl.CertificateList) else load_crls(c)[0]


def verify_passive(
    sod: bytes | SOD,
    data_groups: Mapping[int, bytes] | None = None,
    *,
    trust_store: TrustStore | None = None,
    at: datetime | None = None,
    ds_certificate: bytes | x509.Certificate | None = None,
    crls: Iterable[bytes | crl.CertificateList] = (),
) -> TrustResult:
    """Passive authentication of one reading; see the module docstring.

    ``at`` is the reading date (default now, UTC if naive). ``ds_certificate``
    is used when EF.SOD carries none matching its SignerInfo. Card data never
    makes it raise; unparsable ``ds_certificate``/``crls`` given by the caller
    raise :class:`~edge.trust.errors.CertificateError`.
    """
    at = _utc(at)
    checks: dict[CheckName, Check] = {}
    details: dict[str, object] = {"at": at.isoformat()}

    try:
        sod = require_signed(sod) if isinstance(sod, SOD) else parse_sod(sod)
    except SODParseError as e:
        checks[CheckName.SIGNATURE] = Check.make(F, "sod_unparsable", str(e))
        return TrustResult(checks, details=details)

    details.update(
        hash_algorithm=sod.hash_algorithm,
        sod_data_groups=sorted(sod.dg_hashes),
        lds_version=sod.lds_version,
        signature_algorithm=_cms.signer_scheme_description(sod.signer_info),
    )
    try:
        checks[CheckName.DATA_GROUP_HASHES] = check_data_groups(sod, data_groups or {})
    except UnsupportedAlgorithm as e:
        checks[CheckName.DATA_GROUP_HASHES] = Check.make(NC, "unsupported_algorithm", str(e))

    # -- document signer and SOD signature ------------------------------------
    ds = find_signer_certificate(sod.signer_info, sod.certificates)
    if ds is None and ds_certificate is not None:
        ds = _as_cert(ds_certificate)
    if ds is None and trust_store is not None:
        ds = trust_store.find_document_signer(sod.signer_info)
    if ds is None:
        checks[CheckName.SIGNATURE] = Check.make(NC, "ds_certificate_missing")
        return TrustResult(checks, details=details)
    try:
        details.update(
            ds_subject=ds.subject.human_friendly,
            ds_issuer=ds.issuer.human_friendly,
            ds_serial=format(ds.serial_number, "X"),
            ds_not_before=ds["tbs_certificate"]["validity"]["not_before"].native.isoformat(),
            ds_not_after=ds["tbs_certificate"]["validity"]["not_after"].native.isoformat(),
            ds_sha256=fingerprint(ds),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        checks[CheckName.SIGNATURE] = Check.make(NC, "ds_certificate_missing", f"unreadable certificate: {e}")
        return TrustResult(checks, details=details)

    try:
        if not _cms.check_message_digest(sod.signer_info, sod.econtent):
            checks[CheckName.SIGNATURE] = Check.make(F, "message_digest_mismatch")
        elif not _cms.verify_signer(sod.signer_info, sod.econtent, ds):
            checks[CheckName.SIGNATURE] = Check.make(F, "signature_invalid")
        else:
            checks[CheckName.SIGNATURE] = Check.make(P, "signature_valid")
    except UnsupportedAlgorithm as e:
        checks[CheckName.SIGNATURE] = Check.make(NC, "unsupported_algorithm", str(e))
    except (TrustError, ValueError, TypeError, KeyError, ArithmeticError) as e:
        checks[CheckName.SIGNATURE] = Check.make(F, "signature_invalid", f"{type(e).__name__}: {e}")

    # -- chain ---------------------------------------------------------------
    # A CSCA chain is preferred to a pin (it also allows the CRL check). Among
    # CSCAs that verify the DS (re-issued CSCA certificates share a key), the
    # one valid at the reading date is chosen.
    csca: x509.Certificate | None = None
    if trust_store is None:
        checks[CheckName.CHAIN] = Check.make(NC, "no_trust_store")
    else:
        forged = False
        verifying: list[x509.Certificate] = []
        for cand, by_key_id in trust_store.issuer_candidates(ds):
            if signed_by(ds, cand):
                verifying.append(cand)
            else:
                forged = forged or by_key_id
        if verifying:
            csca = next((c for c in verifying if not _validity_reasons(c, at, "csca")), verifying[0])
            details.update(csca_subject=csca.subject.human_friendly, csca_sha256=fingerprint(csca))
            checks[CheckName.CHAIN] = Check.make(P, "chain_anchored", csca.subject.human_friendly)
        elif trust_store.is_pinned(ds):
            checks[CheckName.CHAIN] = Check.make(P, "pinned_document_signer")
        elif forged:
            checks[CheckName.CHAIN] = Check.make(F, "ds_certificate_signature_invalid")
        else:
            checks[CheckName.CHAIN] = Check.make(F, "csca_not_found", ds.issuer.human_friendly)

    # -- validity --------------------------------------------------------------
    reasons = _validity_reasons(ds, at, "ds")
    if csca is not None:
        reasons += _validity_reasons(csca, at, "csca")
    checks[CheckName.VALIDITY] = Check(F, tuple(reasons)) if reasons else Check.make(P, "within_validity")

    # -- revocation ----------------------------------------------------------------
    all_crls = [_as_crl(c) for c in crls]
    if trust_store is not None:
        all_crls += trust_store.crls_for(ds.issuer)
    checks[CheckName.REVOCATION] = _check_revocation(ds, csca, all_crls, at)

    return TrustResult(checks, details=details)
