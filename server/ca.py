"""The device CA: per-reader TLS client certificates, beside passwords, and their revocation list.

``cccd-server ca init`` makes the CA (an EC P-256 key, mode 0600, and a self-signed
certificate) in ``[device_ca] directory``; ``cccd-server reader add --cert`` issues a reader
a client certificate whose subject CN is exactly its broker username ``<facility>/<reader>``:
the readers' certificate listener of the shipped broker (``use_identity_as_username true``)
takes the CN as the username, so the same pattern ACL binds it to its own topics and
``use_username_as_clientid`` to its own session. Each certificate's serial, validity and
revocation are recorded in the ``reader_cert`` table; ``cccd-server reader revoke`` marks
them and rewrites the CRL that the broker's ``crlfile`` names (an empty one is written at
init: with a ``crlfile`` set, OpenSSL refuses every client when the CRL is missing).

The CRL's nextUpdate is the CA's own end of validity: OpenSSL refuses every client once a
CRL is past its nextUpdate, and nothing here republishes it on a timer.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import Engine, select, update

from contract.settings import ConfigError, refuse_shared_file
from contract.topics import is_facility_code, is_reader_id, reader_username
from server.reader_import import parse_readers_csv
from server.store.base import READER, READER_CERT, as_utc, utcnow
from server.store.registry import BrokerAccount, Registry

CA_KEY_NAME, CA_CERT_NAME = "ca.key", "ca.crt"
CA_DAYS = 10 * 365
#: A reader's certificate lasts about a year by default (renewed at the yearly visit); never past the CA.
DEFAULT_CERT_DAYS = 397
MAX_CERT_DAYS = 825
#: Backdated a little so that a desk whose clock is a few minutes behind accepts it at once.
CLOCK_SLACK = dt.timedelta(minutes=5)
CERTS = READER_CERT


class CaError(ValueError):
    """The device CA cannot do this; the message says what to run."""


@dataclass(frozen=True)
class DeviceCa:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class IssuedCert:
    """A reader's new certificate and its private key (shown once: the CA keeps no copy)."""

    username: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def serial_hex(self) -> str:
        return format(self.cert.serial_number, "x")

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` before any byte is written; an existing file is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise CaError(f"{path} exists already: it is never overwritten (move it away, or write elsewhere)") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _replace(path: Path, data: bytes) -> None:
    """Write a public file (certificate, CRL) atomically: the broker never reads half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init_ca(directory: Path, name: str = "CCCD device CA", *, days: int = CA_DAYS) -> DeviceCa:
    """Make a new device CA in ``directory`` (refused when one is there: it would orphan every
    certificate already issued)."""
    key_path, cert_path = directory / CA_KEY_NAME, directory / CA_CERT_NAME
    if key_path.exists() or cert_path.exists():
        raise CaError(f"a device CA exists already in {directory}: a new one would orphan every certificate it "
                      "issued")
    now = utcnow() - CLOCK_SLACK
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CCCD check-in"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    _write_new(key_path, _key_pem(key), 0o600)
    _write_new(cert_path, _pem(cert), 0o644)
    return DeviceCa(key, cert)


def load_ca(directory: Path) -> DeviceCa:
    """The CA of ``directory``; its key must be private to its owner (0600), as every secret file."""
    key_path, cert_path = directory / CA_KEY_NAME, directory / CA_CERT_NAME
    if not key_path.exists() or not cert_path.exists():
        raise CaError(f"no device CA in {directory}: run cccd-server ca init")
    try:
        refuse_shared_file(key_path, "CA key file")
    except ConfigError as exc:
        raise CaError(str(exc)) from None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise CaError(f"{key_path} is not the key of {cert_path}")
    return DeviceCa(key, cert)


def issue_reader_cert(ca: DeviceCa, facility: str, reader: str, *, days: int = DEFAULT_CERT_DAYS,
                      now: dt.datetime | None = None) -> IssuedCert:
    """A client certificate for this reader: CN ``<facility>/<reader>``, client auth only, ``days``
    long from ``now`` (at most :data:`MAX_CERT_DAYS`, and never past the CA's own end).
    ``now`` is for tests (a certificate that has expired)."""
    if not is_facility_code(facility) or not is_reader_id(reader):
        raise CaError(f"bad facility code or reader id {facility!r}/{reader!r}")
    if not 1 <= days <= MAX_CERT_DAYS:
        raise CaError(f"a reader's certificate lasts 1 to {MAX_CERT_DAYS} days, not {days}")
    if ca.cert.not_valid_after_utc <= utcnow():
        raise CaError("the device CA has expired: make a new one (cccd-server ca init in a new directory)")
    now = now or utcnow()
    not_after = min(now + dt.timedelta(days=days), ca.cert.not_valid_after_utc)
    username = reader_username(facility, reader)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, username)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SLACK).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return IssuedCert(username, cert, key)


def write_reader_files(issued: IssuedCert, directory: Path) -> tuple[Path, Path]:
    """``client.crt`` (0644) and ``client.key`` (0600) for the technician to install at the desk
    (``[mqtt] cert_file`` / ``key_file``); existing files are never overwritten."""
    cert_path, key_path = directory / "client.crt", directory / "client.key"
    for path in (cert_path, key_path):
        if path.exists():
            raise CaError(f"{path} exists already: it is never overwritten (move it away, or write elsewhere)")
    _write_new(key_path, _key_pem(issued.key), 0o600)
    _write_new(cert_path, _pem(issued.cert), 0o644)
    return cert_path, key_path


def crl_pem(ca: DeviceCa, revoked: list[tuple[str, dt.datetime]]) -> bytes:
    """The CRL of these (serial hex, revoked at), signed by the CA, valid until the CA's end."""
    now = utcnow()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - CLOCK_SLACK)
        .next_update(ca.cert.not_valid_after_utc)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(when).build())
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def publish_ca_files(ca: DeviceCa, engine: Engine | None, *, ca_copy: Path | None, crl_file: Path | None) -> list[Path]:
    """Write the broker's copy of the CA certificate and the CRL (every revoked serial not yet
    expired), where the settings put them; the paths written."""
    written = []
    if ca_copy is not None:
        _replace(ca_copy, _pem(ca.cert))
        written.append(ca_copy)
    if crl_file is not None:
        _replace(crl_file, crl_pem(ca, revoked_serials(engine) if engine is not None else []))
        written.append(crl_file)
    return written


# ------------------------------------------------------------------ the registry's record
def record_certs(engine: Engine, issued: Sequence[tuple[str, str, IssuedCert]]) -> None:
    """Record the serial and validity of certificates issued to registered (facility, reader)s, in one transaction."""
    if not issued:
        return
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(CERTS.insert(), [
            {"serial": cert.serial_hex, "facility_code": facility, "reader_id": reader, "common_name": cert.username,
             "not_before": cert.cert.not_valid_before_utc, "not_after": cert.not_after, "issued_at": now,
             "revoked_at": None}
            for facility, reader, cert in issued])


def import_readers_with_certs(registry: Registry, ca: DeviceCa, source: Path, out: Path, cert_out: Path, *,
                              days: int = DEFAULT_CERT_DAYS) -> int:
    """``reader import --cert-out DIR``: register every reader of the CSV without a password and
    issue each a certificate into ``DIR/<facility>-<reader>/``; ``out`` (0600) lists the serials.
    Every row, the output files and the registry are checked before anything is written."""
    rows = parse_readers_csv(source.read_text(encoding="utf-8"))
    for n, (facility, reader, username) in enumerate(rows, start=2):
        if username != reader_username(facility, reader):
            raise CaError(f"line {n}: a certificate's name is the reader's own {reader_username(facility, reader)!r}")
        for name in ("client.crt", "client.key"):
            if (cert_out / f"{facility}-{reader}" / name).exists():
                raise CaError(f"{cert_out / f'{facility}-{reader}' / name} exists already: it is never overwritten")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite an earlier list
    try:
        registry.add_readers([BrokerAccount(u, None, f, r) for f, r, u in rows])
    except BaseException:
        os.close(fd)
        out.unlink()
        raise
    issued = [(f, r, issue_reader_cert(ca, f, r, days=days)) for f, r, _u in rows]
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["facility", "reader", "mqtt_username", "cert_serial", "not_after", "cert_file", "key_file"])
        for facility, reader, cert in issued:
            cert_path, key_path = write_reader_files(cert, cert_out / f"{facility}-{reader}")
            writer.writerow([facility, reader, cert.username, cert.serial_hex, cert.not_after.isoformat(),
                             cert_path, key_path])
    record_certs(registry.engine, issued)
    return len(issued)


def _normal_serial(text: str) -> str:
    """A serial as recorded (lower-case hex, no leading zeros) from what openssl prints (``64:5D:..``)."""
    try:
        return format(int(text.replace(":", ""), 16), "x")
    except ValueError:
        raise CaError(f"serial {text!r} is not hexadecimal") from None


def revoke_certs(engine: Engine, facility: str, reader: str, serial: str | None = None) -> list[str]:
    """Mark this reader's certificates (or only ``serial``) revoked; the serials newly revoked."""
    with engine.begin() as conn:
        if conn.execute(select(READER.c.reader_id).where(READER.c.facility_code == facility,
                                                         READER.c.reader_id == reader)).first() is None:
            raise CaError(f"reader {facility}/{reader} is not registered")
        cond = [CERTS.c.facility_code == facility, CERTS.c.reader_id == reader, CERTS.c.revoked_at.is_(None)]
        if serial is not None:
            cond.append(CERTS.c.serial == _normal_serial(serial))
        serials = [row[0] for row in conn.execute(select(CERTS.c.serial).where(*cond))]
        if serial is not None and not serials:
            raise CaError(f"reader {facility}/{reader} holds no unrevoked certificate with serial {serial}")
        if serials:
            conn.execute(update(CERTS).where(CERTS.c.serial.in_(serials)).values(revoked_at=utcnow()))
    return serials


def revoked_serials(engine: Engine) -> list[tuple[str, dt.datetime]]:
    """(serial, revoked at) of every revoked certificate not yet expired: an expired one is
    refused anyway, so the CRL does not grow for ever."""
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(select(CERTS.c.serial, CERTS.c.revoked_at, CERTS.c.not_after)
                            .where(CERTS.c.revoked_at.is_not(None)).order_by(CERTS.c.serial))
        return [(serial, as_utc(when) or now) for serial, when, until in rows if (as_utc(until) or now) >= now]
