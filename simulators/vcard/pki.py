"""Test PKI for synthetic chip ID cards: a CSCA and a document signer (DS).

Everything here is synthetic and marked so in the subject names. Keys are
derived from a seed, so the same seed gives the same keys and (with
deterministic ECDSA) the same certificates: fixtures stay stable and a
trust store written once keeps matching newly built profiles.

The CSCA is self-signed ECDSA P-384/SHA-384; the DS is ECDSA P-256 issued by
it with the extensions ICAO Doc 9303 Part 12 asks for (key usage, AKI/SKI,
document type list "ID"). The validity window is fixed (not "now"-relative)
so certificates are reproducible; it spans the synthetic issue dates.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "CSCA_COMMON_NAME",
    "DS_COMMON_NAME",
    "TestPki",
    "build_test_pki",
    "derive_ec_key",
]

CSCA_COMMON_NAME = "CSCA TEST Vietnam (synthetic)"
DS_COMMON_NAME = "Document Signer TEST Vietnam (synthetic)"
_ORG = "Synthetic Test Authority (not a real issuer)"

# Fixed windows: reproducible certificates, valid for every synthetic card
# issued 2021..2035 and read until 2045.
CSCA_NOT_BEFORE = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
CSCA_NOT_AFTER = _dt.datetime(2050, 1, 1, tzinfo=_dt.UTC)
DS_NOT_BEFORE = _dt.datetime(2020, 6, 1, tzinfo=_dt.UTC)
DS_NOT_AFTER = _dt.datetime(2045, 6, 1, tzinfo=_dt.UTC)

# ICAO Doc 9303 Part 12: documentTypeList extension (id-icao-mrtd-security-extensions 2)
_OID_DOCUMENT_TYPE_LIST = x509.ObjectIdentifier("2.23.136.1.1.6.2")


def derive_ec_key(seed: int | str, label: str, curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    """An EC private key derived from (seed, label): deterministic, test use only."""
    order_bits = curve.key_size
    material = b""
    counter = 0
    while len(material) * 8 < order_bits + 64:
        material += hashlib.sha512(f"{seed}|{label}|{counter}".encode()).digest()
        counter += 1
    # Reduce into [1, 2^key_size - 1]; derive_private_key rejects values >= n,
    # so retry with another counter in that (rare) case.
    value = int.from_bytes(material, "big") % (1 << order_bits)
    while True:
        try:
            return ec.derive_private_key(max(value, 1), curve)
        except ValueError:
            value >>= 1


def _serial(seed: int | str, label: str) -> int:
    # Positive, at most 20 octets (RFC 5280), non-zero.
    return (int.from_bytes(hashlib.sha256(f"{seed}|serial|{label}".encode()).digest()[:16], "big") >> 1) | 1


def _document_type_list_der(doc_types: tuple[str, ...]) -> bytes:
    # DocumentTypeListSyntax ::= SEQUENCE { version INTEGER(0), docTypeList SET OF PrintableString }
    from asn1crypto import core

    class _DocTypes(core.SetOf):  # type: ignore[misc]  # asn1crypto is untyped
        _child_spec = core.PrintableString

    class _DocTypeList(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
        _fields = [("version", core.Integer), ("docTypeList", _DocTypes)]  # noqa: RUF012 - asn1crypto's class-level spec

    return bytes(_DocTypeList({"version": 0, "docTypeList": list(doc_types)}).dump())


@dataclass(frozen=True)
class TestPki:
    """A test CSCA and one document signer with their private keys."""

    __test__ = False  # not a pytest test class

    csca_certificate: x509.Certificate
    csca_private_key: ec.EllipticCurvePrivateKey
    ds_certificate: x509.Certificate
    ds_private_key: ec.EllipticCurvePrivateKey

    def csca_pem(self) -> bytes:
        return self.csca_certificate.public_bytes(serialization.Encoding.PEM)

    def ds_pem(self) -> bytes:
        return self.ds_certificate.public_bytes(serialization.Encoding.PEM)

    def write_csca_pem(self, path: str | Path) -> Path:
        """Write the CSCA certificate (PEM) for a trust store to load."""
        path = Path(path)
        path.write_bytes(self.csca_pem())
        return path

    def write_ds_pem(self, path: str | Path) -> Path:
        """Write the document signer certificate (PEM), e.g. for DS pinning."""
        path = Path(path)
        path.write_bytes(self.ds_pem())
        return path


def build_test_pki(seed: int | str = 0) -> TestPki:
    """Generate the CSCA and DS for `seed` (same seed, same keys and certificates)."""
    csca_key = derive_ec_key(seed, "csca", ec.SECP384R1())
    ds_key = derive_ec_key(seed, "ds", ec.SECP256R1())

    csca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, CSCA_COMMON_NAME),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, str(seed)[:64] or "0"),
        ]
    )
    csca_ski = x509.SubjectKeyIdentifier.from_public_key(csca_key.public_key())
    csca_cert = (
        x509.CertificateBuilder()
        .subject_name(csca_name)
        .issuer_name(csca_name)
        .public_key(csca_key.public_key())
        .serial_number(_serial(seed, "csca"))
        .not_valid_before(CSCA_NOT_BEFORE)
        .not_valid_after(CSCA_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(csca_ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski), critical=False)
        .sign(csca_key, hashes.SHA384(), ecdsa_deterministic=True)
    )

    ds_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, DS_COMMON_NAME),
        ]
    )
    ds_cert = (
        x509.CertificateBuilder()
        .subject_name(ds_name)
        .issuer_name(csca_name)
        .public_key(ds_key.public_key())
        .serial_number(_serial(seed, "ds"))
        .not_valid_before(DS_NOT_BEFORE)
        .not_valid_after(DS_NOT_AFTER)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ds_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(_OID_DOCUMENT_TYPE_LIST, _document_type_list_der(("ID",))),
            critical=False,
        )
        .sign(csca_key, hashes.SHA384(), ecdsa_deterministic=True)
    )
    return TestPki(csca_cert, csca_key, ds_cert, ds_key)
