"""A made-up citizen and the chip files of their card (synthetic test data)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date

from asn1crypto import algos, cms, core

from edge.icao import mrz, tlv
from edge.icao.der import encode_int, encode_oid
from edge.icao.lds.dg1 import encode_dg1
from edge.icao.lds.dg2 import encode_dg2
from edge.icao.lds.dg13 import encode_dg13
from edge.icao.lds.tags import EF_COM, EF_SOD, dg_fid

PERSONAL_ID = "092188004321"  # made up: 092 Cần Thơ, G=1 (female, 1900s), 88
DOB = date(1988, 4, 15)
EXPIRY = date(2028, 4, 15)  # the 40th birthday
NAME = "Trần Thị Mai Hương"


def vn_td1(personal_id: str, dob: str, sex: str, exp: str, name: str) -> list[str]:
    """TD1 lines in the Vietnamese layout with every check digit computed."""
    doc = personal_id[3:]
    l1 = ("IDVNM" + doc + mrz.check_digit(doc) + personal_id).ljust(29, "<")
    l1 += mrz.check_digit(personal_id)
    l2 = (dob + mrz.check_digit(dob) + sex + exp + mrz.check_digit(exp) + "VNM").ljust(29, "<")
    composite = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    return [l1, l2 + mrz.check_digit(composite), name.ljust(30, "<")]


MRZ_LINES = vn_td1(PERSONAL_ID, "880415", "F", "280415", "TRAN<<THI<MAI<HUONG")
MRZ_INFORMATION = mrz.mrz_information(PERSONAL_ID[3:], "880415", "280415")
CAN = PERSONAL_ID[-6:]


def fake_jpeg(size: int, seed: int = 7) -> bytes:
    """Bytes that look like a JPEG (SOI ... EOI) of exactly ``size`` bytes."""
    rnd = random.Random(seed)
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return head + rnd.randbytes(size - len(head) - 2) + b"\xff\xd9"


def ef_com() -> bytes:
    tags = bytes((0x61, 0x75, 0x63, 0x6D, 0x6E, 0x6F))
    body = tlv.encode(0x5F01, b"0107") + tlv.encode(0x5F36, b"040000") + tlv.encode(0x5C, tags)
    return tlv.encode(0x60, body)


def dg13() -> bytes:
    return encode_dg13({
        1: PERSONAL_ID, 2: NAME, 3: "15/04/1988", 4: "Nữ", 5: "Việt Nam", 6: "Kinh",
        7: "Không", 8: "Xã An Bình, Huyện Phong Điền, Cần Thơ",
        9: "Số 1 Đường X, Phường Z, Ninh Kiều, Cần Thơ", 10: "Nốt ruồi cách 2cm dưới mắt trái",
        11: "01/07/2021", 12: "15/04/2028", 13: [["Trần Văn Bình"], ["Lê Thị Cúc"]], 14: None,
        15: "361234567", 16: "0123456789ABCDEF",
    })


def sod(files: dict[int, bytes]) -> bytes:
    """An unsigned EF.SOD carrying the SHA-256 of each DG (structure only)."""
    hashes = b"".join(
        tlv.encode(0x30, encode_int(fid - 0x0100) + tlv.encode(0x04, hashlib.sha256(data).digest()))
        for fid, data in sorted(files.items()) if 0x0101 <= fid <= 0x0110
    )
    alg = tlv.encode(0x30, tlv.encode(0x06, encode_oid("2.16.840.1.101.3.4.2.1")))
    lso = tlv.encode(0x30, encode_int(0) + alg + tlv.encode(0x30, hashes))
    signed = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {
            "content_type": "2.23.136.1.1.1",
            "content": core.ParsableOctetString(lso),
        },
        "signer_infos": [],
    })
    ci = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return tlv.encode(0x77, ci.dump())


@dataclass
class CardFiles:
    files: dict[int, bytes]
    jpeg: bytes


def card_files(jpeg_size: int = 3000) -> CardFiles:
    jpeg = fake_jpeg(jpeg_size)
    files = {
        EF_COM: ef_com(),
        dg_fid(1): encode_dg1(MRZ_LINES),
        dg_fid(2): encode_dg2(jpeg, 240, 320),
        dg_fid(13): dg13(),
    }
    files[EF_SOD] = sod(files)
    return CardFiles(files, jpeg)
