"""Trust store: CSCA certificates, pinned document signers, master lists, CRLs.

Loads files or directories (recursively):

* certificates (``.cer .crt .der .pem``, PEM or DER, several per PEM file): a
  CA certificate (basicConstraints cA, or keyUsage keyCertSign) is a CSCA; any
  other certificate is a *pinned document signer* (a deployment may have only
  the DS certificates it was given);
* ICAO/BSI CSCA master lists (``.ml``, CMS SignedData of CscaMasterList): the
  list's own signature is verified with its signer certificate, and that signer
  must chain to a CSCA inside the list itself. A list failing any step is
  rejected with a reason and contributes nothing;
* CRLs (``.crl``, PEM or DER).

Indexes are immutable snapshots; :meth:`TrustStore.reload` builds a new one
from the same sources and swaps it in under a lock, so readers never see a
half-loaded store and no restart is needed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import cms, core, crl, pem, x509

from edge.trust import _cms, _crypto
from edge.trust.errors import CertificateError, MasterListError, TrustError, UnsupportedAlgorithm
from edge.trust.sod import econtent_bytes, find_signer_certificate, name_key, names_match

OID_CSCA_MASTER_LIST = "2.23.136.1.1.2"
CERT_SUFFIXES = {".cer", ".crt", ".der", ".pem"}
ML_SUFFIXES = {".ml"}
CRL_SUFFIXES = {".crl"}


class CscaMasterList(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """ICAO 9303 Part 12 §9: CscaMasterList ::= SEQUENCE { version, certList SET OF Certificate }."""

    class _CertSet(core.SetOf):  # type: ignore[misc]  # asn1crypto is untyped
        _child_spec = x509.Certificate

    _fields = [("version", core.Integer), ("cert_list", _CertSet)]  # noqa: RUF012 - asn1crypto's class-level spec


@dataclass(frozen=True)
class SourceReport:
    """What one file contributed (or why it was rejected)."""

    path: str
    kind: str  # certificate | master_list | crl
    accepted: bool
    cscas: int = 0
    document_signers: int = 0
    crls: int = 0
    reason: str | None = None  # machine code when rejected
    detail: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def is_ca_certificate(cert: x509.Certificate) -> bool:
    try:
        bc = cert.basic_constraints_value
        if bc is not None and bc["ca"].native:
            return True
        ku = cert.key_usage_value
        return ku is not None and "key_cert_sign" in ku.native
    except (ValueError, TypeError, KeyError):
        return False


def _key_id(cert: x509.Certificate) -> bytes | None:
    try:
        kid = cert.key_identifier
        return None if kid is None else bytes(kid)
    except (ValueError, TypeError, KeyError):
        return None


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        kid = cert.authority_key_identifier
        return None if kid is None else bytes(kid)
    except (ValueError, TypeError, KeyError):
        return None


def signed_by(cert: x509.Certificate | crl.CertificateList, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key verifies ``cert``'s signature (False on unsupported keys)."""
    try:
        return _crypto.verify_certificate_signature(cert, _crypto.load_public_key(issuer.public_key))
    except (UnsupportedAlgorithm, ValueError, TypeError, KeyError, ArithmeticError):
        return False


# --- parsing files -----------------------------------------------------------


def _der_blobs(data: bytes, pem_types: tuple[str, ...]) -> list[bytes]:
    if pem.detect(data):
        return [der for typ, _hdr, der in pem.unarmor(data, multiple=True) if typ in pem_types]
    return [data]


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """All certificates in a PEM or DER blob; raises CertificateError."""
    try:
        certs = []
        for der in _der_blobs(data, ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")):
            cert = x509.Certificate.load(der)
            _ = cert.native  # parse everything now
            certs.append(cert)
        return certs
    except Exception as e:  # asn1crypto raises assorted types on junk
        raise CertificateError(f"not a certificate: {type(e).__name__}: {e}") from None


def load_crls(data: bytes) -> list[crl.CertificateList]:
    try:
        out = []
        for der in _der_blobs(data, ("X509 CRL",)):
            c = crl.CertificateList.load(der)
            _ = c.native
            out.append(c)
        return out
    except Exception as e:
        raise CertificateError(f"not a CRL: {type(e).__name__}: {e}") from None


@dataclass(frozen=True)
class MasterList:
    certificates: tuple[x509.Certificate, ...]
    signer: x509.Certificate
    signer_issuer: x509.Certificate


def parse_master_list(data: bytes) -> MasterList:
    """Parse and verify a CSCA master list; raises MasterListError with a code.

    ``MasterListError.args[0]`` is the machine code, ``args[1]`` a detail.
    """
    try:
        ci = cms.ContentInfo.load(data)
        if ci["content_type"].native != "signed_data":
            raise MasterListError("master_list_unparsable", "not CMS SignedData")
        sd = ci["content"]
        if sd["encap_content_info"]["content_type"].dotted != OID_CSCA_MASTER_LIST:
            raise MasterListError("master_list_unparsable", "eContentType is not id-icao-cscaMasterList")
        econtent = econtent_bytes(sd)
        ml = CscaMasterList.load(econtent)
        certs = tuple(ml["cert_list"])
        for c in certs:
            _ = c["tbs_certificate"]["subject"].native  # force parsing of the list
        si = sd["signer_infos"][0]
        signers = [c.chosen for c in (sd["certificates"] or []) if c.name == "certificate"]
    except MasterListError:
        raise
    except Exception as e:
        raise MasterListError("master_list_unparsable", f"{type(e).__name__}: {e}") from None

    signer = find_signer_certificate(si, signers)
    if signer is None:
        raise MasterListError("master_list_signer_missing", "no certificate matches the SignerInfo")
    try:
        if not _cms.check_message_digest(si, econtent):
            raise MasterListError("master_list_digest_mismatch", "messageDigest does not match the content")
        if not _cms.verify_signer(si, econtent, signer):
            raise MasterListError("master_list_signature_invalid", "signature does not verify with its signer")
    except (UnsupportedAlgorithm, ValueError, TypeError, KeyError) as e:
        raise MasterListError("master_list_signature_invalid", f"cannot verify: {e}") from None

    aki = _authority_key_id(signer)
    for cand in certs:
        if aki is not None and _key_id(cand) not in (None, aki):
            continue
        if not names_match(cand.subject, signer.issuer):
            continue
        if signed_by(signer, cand):
            return MasterList(certs, signer, cand)
    raise MasterListError(
        "master_list_signer_not_anchored", "the list's signer does not chain to a CSCA in the list"
    )


# --- the store ----------------------------------------------------------------


@dataclass
class _Snapshot:
    cscas: list[x509.Certificate] = field(default_factory=list)
    pinned: list[x509.Certificate] = field(default_factory=list)
    crls: list[crl.CertificateList] = field(default_factory=list)
    reports: list[SourceReport] = field(default_factory=list)
    by_ski: dict[bytes, list[x509.Certificate]] = field(default_factory=dict)
    by_subject: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    pinned_fp: set[str] = field(default_factory=set)
    crls_by_issuer: dict[str, list[crl.CertificateList]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def add_csca(self, cert: x509.Certificate) -> bool:
        fp = fingerprint(cert)
        if fp in self._seen:
            return False  # the same CSCA from two master lists
        self._seen.add(fp)
        self.cscas.append(cert)
        ski = _key_id(cert)
        if ski is not None:
            self.by_ski.setdefault(ski, []).append(cert)
        self.by_subject.setdefault(name_key(cert.subject), []).append(cert)
        return True

    def add_pinned(self, cert: x509.Certificate) -> bool:
        fp = fingerprint(cert)
        if fp in self.pinned_fp:
            return False
        self.pinned_fp.add(fp)
        self.pinned.append(cert)
        return True

    def add_crl(self, c: crl.CertificateList) -> None:
        self.crls.append(c)
        self.crls_by_issuer.setdefault(name_key(c.issuer), []).append(c)


def _iter_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix.lower() in CERT_SUFFIXES | ML_SUFFIXES | CRL_SUFFIXES:
                yield p
    else:
        yield path


class TrustStore:
    """CSCAs, pinned document signers and CRLs, indexed for chain building."""

    def __init__(
        self,
        paths: Iterable[str | Path] = (),
        *,
        pinned_document_signers: Iterable[str | Path] = (),
    ) -> None:
        self._paths = [Path(p) for p in paths]
        self._pinned_paths = [Path(p) for p in pinned_document_signers]
        self._extra: list[tuple[str, x509.Certificate | crl.CertificateList]] = []
        self._lock = threading.Lock()
        self._snap = self._build()

    # construction ------------------------------------------------------------

    @classmethod
    def from_certificates(
        cls,
        cscas: Iterable[x509.Certificate | bytes] = (),
        pinned_document_signers: Iterable[x509.Certificate | bytes] = (),
        crls: Iterable[crl.CertificateList | bytes] = (),
    ) -> TrustStore:
        """A store from in-memory objects (DER bytes or asn1crypto objects)."""
        store = cls()
        for c in cscas:
            store._extra.append(("csca", c if isinstance(c, x509.Certificate) else load_certificates(c)[0]))
        for c in pinned_document_signers:
            store._extra.append(("pinned", c if isinstance(c, x509.Certificate) else load_certificates(c)[0]))
        for c in crls:
            store._extra.append(("crl", c if isinstance(c, crl.CertificateList) else load_crls(c)[0]))
        store.reload()
        return store

    def reload(self) -> None:
        """Re-read every source and swap the indexes in atomically."""
        snap = self._build()
        with self._lock:
            self._snap = snap

    def _build(self) -> _Snapshot:
        snap = _Snapshot()
        for root in self._paths:
            for p in _iter_files(root):
                snap.reports.append(self._load_file(snap, p, pinned=False))
        for root in self._pinned_paths:
            for p in _iter_files(root):
                snap.reports.append(self._load_file(snap, p, pinned=True))
        for kind, obj in self._extra:
            if kind == "csca":
                snap.add_csca(obj)
            elif kind == "pinned":
                snap.add_pinned(obj)
            else:
                snap.add_crl(obj)
        return snap

    @staticmethod
    def _load_file(snap: _Snapshot, path: Path, *, pinned: bool) -> SourceReport:
        suffix = path.suffix.lower()
        try:
            data = path.read_bytes()
        except OSError as e:
            return SourceReport(str(path), "unknown", False, reason="unreadable", detail=str(e))
        if suffix in ML_SUFFIXES:
            try:
                ml = parse_master_list(data)
            except MasterListError as e:
                code = e.args[0] if e.args else "master_list_unparsable"
                detail = e.args[1] if len(e.args) > 1 else None
                return SourceReport(str(path), "master_list", False, reason=code, detail=detail)
            n = sum(snap.add_csca(c) for c in ml.certificates)
            # The signer's validity is reported, not enforced: a list stays the
            # best available source after its signer certificate expires.
            until = ml.signer["tbs_certificate"]["validity"]["not_after"].native
            return SourceReport(
                str(path), "master_list", True, cscas=n,
                detail=(
                    f"signed by {ml.signer.subject.human_friendly} (valid until {until.date().isoformat()}); "
                    f"{len(ml.certificates)} certificates, {len(ml.certificates) - n} already known"
                ),
            )  # fmt: skip
        if suffix in CRL_SUFFIXES:
            try:
                crls = load_crls(data)
            except CertificateError as e:
                return SourceReport(str(path), "crl", False, reason="crl_unparsable", detail=str(e))
            for c in crls:
                snap.add_crl(c)
            return SourceReport(str(path), "crl", True, crls=len(crls))
        try:
            certs = load_certificates(data)
        except CertificateError as e:
            return SourceReport(str(path), "certificate", False, reason="certificate_unparsable", detail=str(e))
        n_ca = n_ds = 0
        for c in certs:
            if not pinned and is_ca_certificate(c):
                n_ca += snap.add_csca(c)
            else:
                n_ds += snap.add_pinned(c)
        return SourceReport(str(path), "certificate", True, cscas=n_ca, document_signers=n_ds)

    # queries -------------------------------------------------------------------

    @property
    def reports(self) -> list[SourceReport]:
        return list(self._snap.reports)

    @property
    def counts(self) -> dict[str, int]:
        s = self._snap
        return {"cscas": len(s.cscas), "document_signers": len(s.pinned), "crls": len(s.crls)}

    @property
    def cscas(self) -> list[x509.Certificate]:
        return list(self._snap.cscas)

    def issuer_candidates(self, cert: x509.Certificate) -> list[tuple[x509.Certificate, bool]]:
        """CSCAs that may have signed ``cert``: (candidate, key identifier matched).

        By authority key identifier first, then by issuer name; a CSCA whose
        subject key identifier contradicts the certificate's AKI is skipped.
        """
        snap = self._snap
        aki = _authority_key_id(cert)
        out: list[tuple[x509.Certificate, bool]] = []
        seen: set[int] = set()
        if aki is not None:
            for c in snap.by_ski.get(aki, []):
                out.append((c, True))
                seen.add(id(c))
        for c in snap.by_subject.get(name_key(cert.issuer), []):
            if id(c) in seen:
                continue
            ski = _key_id(c)
            if aki is not None and ski is not None and ski != aki:
                continue
            out.append((c, False))
        return out

    def is_pinned(self, cert: x509.Certificate) -> bool:
        return fingerprint(cert) in self._snap.pinned_fp

    def find_document_signer(self, signer_info: cms.SignerInfo) -> x509.Certificate | None:
        """A pinned DS certificate matching a SignerInfo (for SODs without certificates)."""
        return find_signer_certificate(signer_info, self._snap.pinned)

    def crls_for(self, issuer: x509.Name) -> list[crl.CertificateList]:
        return list(self._snap.crls_by_issuer.get(name_key(issuer), []))

    def __repr__(self) -> str:
        return f"TrustStore({self.counts})"


__all__ = [
    "MasterList",
    "SourceReport",
    "TrustError",
    "TrustStore",
    "fingerprint",
    "is_ca_certificate",
    "load_certificates",
    "load_crls",
    "parse_master_list",
    "signed_by",
]


class TrustStoreError(TrustError):
    """A trust configuration that would quietly lower every card's level:
    a path that does not exist, or sources that load no anchor."""


def load_trust_store(
    paths: Iterable[str | Path],
    *,
    pinned_document_signers: Iterable[str | Path] = (),
) -> TrustStore:
    """A :class:`TrustStore` that anchors something, or :class:`TrustStoreError`.

    For start-up and the CLIs: a typo in a trust path must be an error, not a
    reading that ends ``chip_data_unanchored`` for every card.
    """
    paths, pinned = list(paths), list(pinned_document_signers)
    missing = [str(p) for p in (*paths, *pinned) if not Path(p).exists()]
    if missing:
        raise TrustStoreError(f"trust path not found: {', '.join(missing)}")
    store = TrustStore(paths, pinned_document_signers=pinned)
    if store.counts["cscas"] + store.counts["document_signers"] == 0:
        why = "; ".join(f"{r.path}: {r.reason}" for r in store.reports if not r.accepted) or "no certificate files"
        sources = ", ".join(str(p) for p in (*paths, *pinned))
        raise TrustStoreError(f"no trust anchor (CSCA or pinned document signer) loaded from {sources} ({why})")
    return store
