"""Build the chip files (ICAO 9303 LDS1) of a synthetic Vietnamese chip ID card.

Pure data construction, no I/O: given a synthetic citizen and a test PKI, it
returns a `ChipProfile` holding every elementary file the simulated chip
serves (EF.CardAccess, EF.COM, EF.SOD, DG1, DG2, DG13, DG14, DG15), the DG3
the chip holds but never releases, the access data (CAN, MRZ information)
and the private keys the card side needs for Chip and Active Authentication.

Layouts follow /work/shared/domain/cccd.md. Choices where the brief says
"(?)" are module constants so they are easy to change:
  * NO_EXPIRY_MRZ: how the MRZ writes "never expires" ("<<<<<<", check 0);
  * NO_EXPIRY_TEXT: DG13 field 12 for such cards ("Không thời hạn");
  * an absent old ID / spouse is an empty UTF8String / empty SEQUENCE.

The face JPEG comes from `simulators.vcard.face` (OpenCV) and can be
injected (`face_jpeg=`) to keep this module free of cv2 in callers that care.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from edge.domain.validity import card_expiry
from edge.icao.lds.sod import OID_LDS_SECURITY_OBJECT, LDSSecurityObject
from edge.icao.lds.tags import DG_TAGS
from simulators.vcard.pki import TestPki, build_test_pki, derive_ec_key

__all__ = [
    "DG_FILE_IDS",
    "EF_CARD_ACCESS",
    "EF_COM",
    "EF_SOD",
    "NO_EXPIRY_MRZ",
    "NO_EXPIRY_TEXT",
    "AaAlgorithm",
    "ChipProfile",
    "Citizen",
    "build_chip_profile",
    "build_dg1",
    "build_dg13",
    "build_mrz",
    "card_access",
    "clone_profile",
    "mrz_check_digit",
    "mrz_name",
    "tamper_dg13",
]

# ---------------------------------------------------------------- file ids
EF_CARD_ACCESS = 0x011C
EF_SOD = 0x011D
EF_COM = 0x011E
DG_FILE_IDS: dict[int, int] = {n: 0x0100 + n for n in range(1, 17)}

# ---------------------------------------------------------------- OIDs

OID_AA_PROTOCOL = "2.23.136.1.1.5"  # id-icao-mrtd-security-aaProtocolObject
OID_ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
OID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
OID_TA = "0.4.0.127.0.7.2.2.2"
OID_CA_ECDH_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.3.2.2"
OID_PACE_ECDH_GM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.2.2"
OID_DG13_VN = "1.0.10646.1.0.8"
PACE_PARAM_BRAINPOOL_P256R1 = 13

# ---------------------------------------------------------------- "(?)" choices
NO_EXPIRY_MRZ = "<<<<<<"  # check digit of fillers is 0
NO_EXPIRY_TEXT = "Không thời hạn"

AaAlgorithm = Literal["ecdsa-p256", "rsa-2048"]


class Citizen(Protocol):
    """What the builder reads from a synthetic citizen (simulators.population); read-only."""

    @property
    def id_number(self) -> str: ...

    @property
    def old_id_number(self) -> str | None: ...

    @property
    def full_name(self) -> str: ...

    @property
    def date_of_birth(self) -> _dt.date: ...

    @property
    def sex(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def hometown(self) -> str: ...

    @property
    def ethnicity(self) -> str: ...

    @property
    def religion(self) -> str: ...

    @property
    def nationality(self) -> str: ...

    @property
    def issue_date(self) -> _dt.date: ...

    @property
    def father_name(self) -> str: ...

    @property
    def mother_name(self) -> str: ...

    @property
    def spouse_name(self) -> str | None: ...


@dataclass(frozen=True)
class ChipProfile:
    """All data of one simulated chip.

    `files` is what the chip releases (file id -> full file bytes);
    `protected_files` is held but refused (DG3 needs EAC: answer 6982).
    """

    files: dict[int, bytes]
    protected_files: dict[int, bytes]
    can: str
    mrz_information: str
    mrz: str
    chip_auth_private_key: ec.EllipticCurvePrivateKey
    aa_private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ds_certificate: x509.Certificate
    csca_certificate: x509.Certificate
    expiry: _dt.date | None
    tampered: bool = False
    cloned: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def card_access(self) -> bytes:
        """EF.CardAccess (also in `files`), for cards that take it separately."""
        return self.files[EF_CARD_ACCESS]


# ================================================================ encoding helpers
def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    """BER-TLV with a 1- or 2-byte tag given as an int (e.g. 0x5F1F, 0x7F61)."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + _der_len(len(value)) + value


def _int(n: int) -> bytes:
    return bytes(core.Integer(n).dump())


def _oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def _seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    return tlv(0x31, b"".join(parts))


def _utf8(s: str) -> bytes:
    return tlv(0x0C, unicodedata.normalize("NFC", s).encode("utf-8"))


def _printable(s: str) -> bytes:
    return tlv(0x13, s.encode("ascii"))


# ================================================================ MRZ
_MRZ_VALUES = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}, "<": 0}


def mrz_check_digit(data: str) -> str:
    """ICAO 9303 Part 3 check digit (weights 7-3-1, '<' = 0)."""
    weights = (7, 3, 1)
    return str(sum(_MRZ_VALUES[c] * weights[i % 3] for i, c in enumerate(data)) % 10)


def _ascii_upper(s: str) -> str:
    s = s.replace("Đ", "D").replace("đ", "d")
    s = "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))
    return "".join(c if "A" <= c <= "Z" else " " for c in s.upper())


def mrz_name(full_name: str, width: int = 30) -> str:
    """TD1 name line: SURNAME<<GIVEN<NAMES without diacritics, padded/truncated."""
    words = _ascii_upper(full_name).split()
    if not words:
        return "<" * width
    text = words[0] + "<<" + "<".join(words[1:])
    return (text + "<" * width)[:width]


def _yymmdd(d: _dt.date) -> str:
    return d.strftime("%y%m%d")


def build_mrz(citizen: Citizen, expiry: _dt.date | None, *, no_expiry_mrz: str = NO_EXPIRY_MRZ) -> tuple[str, str]:
    """The TD1 MRZ (three lines joined by '\\n') and the BAC MRZ information."""
    id12 = citizen.id_number
    if len(id12) != 12 or not id12.isdigit():
        raise ValueError("id_number must be 12 digits")
    doc = id12[-9:]
    doc_cd = mrz_check_digit(doc)
    optional1 = id12 + "<<" + mrz_check_digit(id12)
    line1 = "IDVNM" + doc + doc_cd + optional1
    dob = _yymmdd(citizen.date_of_birth)
    exp = _yymmdd(expiry) if expiry is not None else no_expiry_mrz
    sex = {"M": "M", "F": "F"}.get(citizen.sex, "<")
    optional2 = "<" * 11
    composite_src = line1[5:30] + dob + mrz_check_digit(dob) + exp + mrz_check_digit(exp) + optional2
    line2 = dob + mrz_check_digit(dob) + sex + exp + mrz_check_digit(exp) + "VNM" + optional2 + mrz_check_digit(
        composite_src
    )
    line3 = mrz_name(citizen.full_name)
    assert len(line1) == len(line2) == len(line3) == 30
    mrz_info = doc + doc_cd + dob + mrz_check_digit(dob) + exp + mrz_check_digit(exp)
    return "\n".join((line1, line2, line3)), mrz_info


# ================================================================ data groups
def build_ef_com() -> bytes:
    """EF.COM: LDS 1.7, Unicode 4.0.0, tag list DG1 DG2 DG3 DG13 DG14 DG15."""
    tags = bytes(DG_TAGS[n] for n in (1, 2, 3, 13, 14, 15))
    return tlv(0x60, tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, tags))


def build_dg1(mrz: str) -> bytes:
    return tlv(0x61, tlv(0x5F1F, mrz.replace("\n", "").encode("ascii")))


def _iso19794_5(jpeg: bytes, width: int, height: int, sex: str) -> bytes:
    """ISO/IEC 19794-5:2005 face record holding one JPEG (no feature points)."""
    image_info = (bytes([1, 0]) + width.to_bytes(2, "big") + height.to_bytes(2, "big") + bytes([1, 2])
                  + b"\x00\x00" + b"\x00\x00")
    # Facial information: length(4) nfeat(2) gender eye hair mask(3) expression(2) pose(3) pose-unc(3)
    gender = {"M": 1, "F": 2}.get(sex, 0)
    facial_len = 20 + len(image_info) + len(jpeg)
    facial_info = (facial_len.to_bytes(4, "big") + b"\x00\x00" + bytes([gender, 0, 0]) + b"\x00\x00\x00"
                   + b"\x00\x01" + b"\x00" * 6)
    record_len = 14 + facial_len
    header = b"FAC\x00" + b"010\x00" + record_len.to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + facial_info + image_info + jpeg


def build_dg2(jpeg: bytes, width: int, height: int, sex: str) -> bytes:
    """DG2: biometric information group template 7F61 / 7F60 / A1 header / 5F2E."""
    header = (
        tlv(0x80, b"\x01\x01")  # patron header version
        + tlv(0x81, b"\x02")  # biometric type: face
        + tlv(0x87, b"\x01\x01")  # format owner
        + tlv(0x88, b"\x00\x08")  # format type
    )
    bit = tlv(0x7F60, tlv(0xA1, header) + tlv(0x5F2E, _iso19794_5(jpeg, width, height, sex)))
    return tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + bit))


def build_dg3_dummy() -> bytes:
    """A DG3 with an empty fingerprint template group: hashed in EF.SOD, never released."""
    return tlv(0x63, tlv(0x7F61, tlv(0x02, b"\x00")))


_MARKS = (
    "Nốt ruồi C:1cm trên trước đuôi mày phải",
    "Sẹo chấm C:2cm dưới sau cánh mũi trái",
    "Nốt ruồi C:3cm dưới trước mép phải",
    "Sẹo chấm C:1,5cm trên sau đầu mày trái",
    "Nốt ruồi C:2cm sau dưới đuôi mắt trái",
)


def _dmy(d: _dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def dg13_fields(citizen: Citizen, expiry: _dt.date | None, seed: int | str = 0) -> dict[int, object]:
    """The 16 DG13 fields as Python values (field number -> value), before encoding."""
    h = hashlib.sha256(f"{seed}|dg13|{citizen.id_number}".encode()).hexdigest().upper()
    return {
        1: citizen.id_number,
        2: citizen.full_name,
        3: _dmy(citizen.date_of_birth),
        4: "Nam" if citizen.sex == "M" else "Nữ",
        5: citizen.nationality,
        6: citizen.ethnicity,
        7: citizen.religion,
        8: citizen.hometown,
        9: citizen.address,
        10: _MARKS[int(h[:4], 16) % len(_MARKS)],
        11: _dmy(citizen.issue_date),
        12: _dmy(expiry) if expiry is not None else NO_EXPIRY_TEXT,
        13: (citizen.father_name or "", citizen.mother_name or ""),
        14: citizen.spouse_name,
        15: citizen.old_id_number,
        16: h[4:20],  # a 16-character value of unknown meaning on real cards
    }


def build_dg13(fields: dict[int, object]) -> bytes:
    """DG13 (tag 6D): SEQUENCE { INTEGER 1, OID 1.0.10646.1.0.8, SET OF SEQUENCE { INTEGER n, value(s) } }.

    Fields are written in field-number order (as cards appear to do), not
    DER-sorted: readers must key on the number anyway.
    """
    entries = []
    for number in sorted(fields):
        value = fields[number]
        if number in {1, 16}:
            body = _printable(str(value))
        elif number == 13:
            father, mother = value if isinstance(value, tuple) else (value, "")
            body = _seq(_utf8(str(father))) + _seq(_utf8(str(mother)))
        elif number == 14:
            body = _seq(_utf8(str(value))) if value else _seq()  # empty SEQUENCE when no spouse
        elif number == 15:
            body = _printable(str(value)) if value else _utf8("")  # no old ID: empty string
        else:
            body = _utf8(str(value))
        entries.append(_seq(_int(number), body))
    return tlv(0x6D, _seq(_int(1), _oid(OID_DG13_VN), _set(*entries)))


def _spki_der(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def build_dg14(chip_auth_public_key: ec.EllipticCurvePublicKey, aa_is_ecdsa: bool) -> bytes:
    """DG14: ChipAuthenticationInfo + ChipAuthenticationPublicKeyInfo (+ ActiveAuthenticationInfo for ECDSA AA)."""
    infos = [
        _seq(_oid(OID_CA_ECDH_AES_CBC_CMAC_128), _int(1)),
        _seq(_oid(OID_PK_ECDH), _spki_der(chip_auth_public_key)),
    ]
    if aa_is_ecdsa:  # ICAO 9303 Part 11: required when AA uses ECDSA
        infos.append(_seq(_oid(OID_AA_PROTOCOL), _int(1), _oid(OID_ECDSA_PLAIN_SHA256)))
    return tlv(0x6E, _set(*infos))


def build_dg15(aa_public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return tlv(0x6F, _spki_der(aa_public_key))


def card_access() -> bytes:
    """EF.CardAccess as CCCD cards advertise it: PACE-ECDH-GM-AES-128 on brainpoolP256r1, CA, TA."""
    return _set(
        _seq(_oid(OID_PACE_ECDH_GM_AES_CBC_CMAC_128), _int(2), _int(PACE_PARAM_BRAINPOOL_P256R1)),
        _seq(_oid(OID_CA_ECDH_AES_CBC_CMAC_128), _int(1)),
        _seq(_oid(OID_TA), _int(1)),
    )


# ================================================================ EF.SOD
# The LDSSecurityObject ASN.1 is the reader's own (edge.icao.lds.sod): one definition.


def build_sod(dg_files: dict[int, bytes], pki: TestPki, signing_time: _dt.datetime) -> bytes:
    """EF.SOD (tag 77): CMS SignedData over an LDSSecurityObject with SHA-256 hashes."""
    lso = LDSSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": "sha256"},
            "data_group_hash_values": [
                {"data_group_number": n, "data_group_hash_value": hashlib.sha256(dg_files[n]).digest()}
                for n in sorted(dg_files)
            ],
        }
    ).dump()
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": [OID_LDS_SECURITY_OBJECT]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(lso).digest()]}),
        ]
    )
    # The signature covers the DER of the attributes as a SET (tag 31), RFC 5652 5.4.
    signature = pki.ds_private_key.sign(
        signed_attrs.dump(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    )
    ds_cert = asn1_x509.Certificate.load(pki.ds_certificate.public_bytes(serialization.Encoding.DER))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": ds_cert.issuer, "serial_number": ds_cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": OID_LDS_SECURITY_OBJECT, "content": lso},
            "certificates": [ds_cert],
            "signer_infos": [signer_info],
        }
    )
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tlv(0x77, content_info.dump())


# ================================================================ profile
def _seeded_int(seed: int | str, label: str, citizen_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{label}|{citizen_id}".encode()).digest()[:8], "big")


def _default_face(seed: int) -> tuple[bytes, int, int]:
    from simulators.vcard import face  # cv2 lives there

    return face.face_jpeg(seed), face.WIDTH, face.HEIGHT


def _aa_key(seed: int | str, label: str, algorithm: AaAlgorithm) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if algorithm == "ecdsa-p256":
        return derive_ec_key(seed, label, ec.SECP256R1())
    if algorithm == "rsa-2048":
        # RSA key generation cannot be seeded with `cryptography`: not deterministic.
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown AA algorithm {algorithm!r}")


def build_chip_profile(
    citizen: Citizen,
    *,
    pki: TestPki | None = None,
    seed: int | str = 0,
    aa_algorithm: AaAlgorithm = "ecdsa-p256",
    tamper_dg13: bool = False,
    clone: bool = False,
    no_expiry_mrz: str = NO_EXPIRY_MRZ,
    face_jpeg: Callable[[int], tuple[bytes, int, int]] | None = None,
) -> ChipProfile:
    """Build every chip file of `citizen`, signed by `pki` (default: build_test_pki(seed)).

    tamper_dg13: DG13 altered after signing (passive authentication must fail).
    clone: same files, different chip private keys (CA/AA must fail).
    face_jpeg: seed -> (jpeg, width, height); default draws one with OpenCV.
    """
    pki = pki or build_test_pki(seed)
    cid = citizen.id_number
    expiry = card_expiry(citizen.date_of_birth, citizen.issue_date)
    mrz, mrz_info = build_mrz(citizen, expiry, no_expiry_mrz=no_expiry_mrz)

    ca_key = derive_ec_key(f"{seed}|{cid}", "chip-auth", ec.BrainpoolP256R1())
    aa_key = _aa_key(f"{seed}|{cid}", "active-auth", aa_algorithm)
    jpeg, width, height = (face_jpeg or _default_face)(_seeded_int(seed, "face", cid))

    dgs = {
        1: build_dg1(mrz),
        2: build_dg2(jpeg, width, height, citizen.sex),
        3: build_dg3_dummy(),
        13: build_dg13(dg13_fields(citizen, expiry, seed)),
        14: build_dg14(ca_key.public_key(), isinstance(aa_key, ec.EllipticCurvePrivateKey)),
        15: build_dg15(aa_key.public_key()),
    }
    signing_time = _dt.datetime.combine(citizen.issue_date, _dt.time(9, 0), tzinfo=_dt.UTC)
    sod = build_sod(dgs, pki, signing_time)
    files = {
        EF_CARD_ACCESS: card_access(),
        EF_COM: build_ef_com(),
        EF_SOD: sod,
        **{DG_FILE_IDS[n]: dgs[n] for n in (1, 2, 13, 14, 15)},
    }
    profile = ChipProfile(
        files=files,
        protected_files={DG_FILE_IDS[3]: dgs[3]},
        can=cid[-6:],
        mrz_information=mrz_info,
        mrz=mrz,
        chip_auth_private_key=ca_key,
        aa_private_key=aa_key,
        ds_certificate=pki.ds_certificate,
        csca_certificate=pki.csca_certificate,
        expiry=expiry,
    )
    if tamper_dg13:
        profile = tamper_dg13_profile(profile, citizen, seed)
    if clone:
        profile = clone_profile(profile, seed, aa_algorithm)
    return profile


def tamper_dg13_profile(profile: ChipProfile, citizen: Citizen, seed: int | str = 0) -> ChipProfile:
    """Same profile with DG13's residence rewritten after signing (EF.SOD unchanged)."""
    fields = dg13_fields(citizen, profile.expiry, seed)
    fields[9] = "Số 99 Đường Giả Mạo, Phường Không Có, Quận Không Tồn Tại, Hà Nội"
    files = dict(profile.files)
    files[DG_FILE_IDS[13]] = build_dg13(fields)
    return replace(profile, files=files, tampered=True, notes=(*profile.notes, "DG13 altered after signing"))


tamper_dg13 = tamper_dg13_profile


def clone_profile(profile: ChipProfile, seed: int | str = 0, aa_algorithm: AaAlgorithm = "ecdsa-p256") -> ChipProfile:
    """Same files (DG14/DG15 still hold the genuine public keys), different chip private keys."""
    label = f"clone|{seed}|{profile.mrz_information}"
    return replace(
        profile,
        chip_auth_private_key=derive_ec_key(label, "chip-auth", ec.BrainpoolP256R1()),
        aa_private_key=_aa_key(label, "active-auth", aa_algorithm),
        cloned=True,
        notes=(*profile.notes, "chip private keys do not match DG14/DG15"),
    )
