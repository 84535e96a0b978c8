"""A small synthetic eMRTD PKI for tests: CSCA, document signer, EF.SOD, CRL.

Real test data has no CRLs and no private keys of a CSCA; these helpers make
the cases real data cannot (revocation, forged DS certificates...).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import cms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.trust.sod import OID_LDS_SECURITY_OBJECT, LDSSecurityObject

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _name(cn: str, country: str = "VN") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


@dataclass
class Pki:
    csca_key: ec.EllipticCurvePrivateKey
    csca: x509.Certificate
    ds_key: ec.EllipticCurvePrivateKey
    ds: x509.Certificate

    @property
    def csca_der(self) -> bytes:
        return self.csca.public_bytes(serialization.Encoding.DER)

    @property
    def ds_der(self) -> bytes:
        return self.ds.public_bytes(serialization.Encoding.DER)


def make_csca(cn: str = "CSCA Test", key: ec.EllipticCurvePrivateKey | None = None, days: int = 3650):
    key = key or ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_ds(csca_key, csca: x509.Certificate, cn: str = "DS Test", days: int = 365, signing_key=None):
    """A DS certificate issued by ``csca``; ``signing_key`` overrides the key that signs it."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(csca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0 + timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=days))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca.public_key()), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(signing_key or csca_key, hashes.SHA256())
    )
    return key, cert


def make_pki(cn: str = "CSCA Test") -> Pki:
    ck, c = make_csca(cn)
    dk, d = make_ds(ck, c)
    return Pki(ck, c, dk, d)


def make_sod(
    pki_ds_key, ds_cert: x509.Certificate, dgs: dict[int, bytes], include_cert: bool = True, hash_name: str = "sha256"
) -> bytes:
    """EF.SOD (tag 77) over ``dgs``: ``hash_name`` hashes, ECDSA-SHA256 SignerInfo."""
    lds = LDSSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": hash_name},
            "data_group_hash_values": [
                {"data_group_number": n, "data_group_hash_value": hashlib.new(hash_name, d).digest()}
                for n, d in sorted(dgs.items())
            ],
        }
    )
    econtent = lds.dump()
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [OID_LDS_SECURITY_OBJECT]},
            {"type": "message_digest", "values": [hashlib.sha256(econtent).digest()]},
        ]
    )
    signature = pki_ds_key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
    ds_a = ax509.Certificate.load(ds_cert.public_bytes(serialization.Encoding.DER))
    si = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {"issuer_and_serial_number": {"issuer": ds_a.issuer, "serial_number": ds_a.serial_number}}
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    sd = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": OID_LDS_SECURITY_OBJECT, "content": econtent},
            "certificates": [ds_a] if include_cert else None,
            "signer_infos": [si],
        }
    )
    ci = cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()
    return b"\x77" + der_len(len(ci)) + ci


def make_crl(csca_key, csca: x509.Certificate, revoked_serials: list[int], next_update_days: int = 30) -> bytes:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(csca.subject)
        .last_update(T0)
        .next_update(T0 + timedelta(days=next_update_days))
    )
    for s in revoked_serials:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(s).revocation_date(T0 + timedelta(days=2)).build()
        )
    return b.sign(csca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


DG1 = b"\x61\x05\x5f\x1f\x02AB"
DG2 = b"\x75\x03\x01\x02\x03"
