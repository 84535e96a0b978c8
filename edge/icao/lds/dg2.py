"""DG2 (tag 75): face images in ISO/IEC 19794-5 records inside the
biometric information group template (7F61 / 7F60 / 5F2E or 7F2E).

Extracts the image bytes intact (JPEG or JPEG 2000) and the width/height the
19794-5 header declares. A record that does not follow 19794-5 is searched
for a JPEG / JPEG 2000 signature instead of failing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from edge.icao import tlv
from edge.icao.errors import LdsError, TlvError

_JPEG = b"\xff\xd8\xff"
_JP2 = bytes.fromhex("0000000C6A5020200D0A870A")
_J2K = bytes.fromhex("FF4FFF51")


@dataclass(frozen=True)
class FaceImage:
    image_type: str  # "jpeg", "jpeg2000" or "unknown"
    width: int | None
    height: int | None
    data: bytes

    def __repr__(self) -> str:  # biometric data: sizes only
        return f"FaceImage({self.image_type}, {self.width}x{self.height}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Dg2:
    images: list[FaceImage]

    @property
    def image(self) -> FaceImage | None:
        return self.images[0] if self.images else None


def sniff(data: bytes) -> str:
    if data.startswith(_JPEG):
        return "jpeg"
    if data.startswith(_JP2) or data.startswith(_J2K):
        return "jpeg2000"
    return "unknown"


def _search(block: bytes) -> FaceImage:
    for sig, kind in ((_JPEG, "jpeg"), (_JP2, "jpeg2000"), (_J2K, "jpeg2000")):
        i = block.find(sig)
        if i >= 0:
            return FaceImage(kind, None, None, block[i:])
    raise LdsError("DG2: no 19794-5 header and no JPEG / JPEG 2000 image found")


def parse_facial_record(block: bytes) -> FaceImage:
    """The first image of an ISO/IEC 19794-5 (2005) facial record."""
    if not block.startswith(b"FAC\x00") or len(block) < 14 + 20 + 12:
        return _search(block)
    n_faces = struct.unpack(">H", block[12:14])[0]
    if n_faces < 1:
        raise LdsError("DG2: facial record holds no face")
    off = 14
    face_len, n_points = struct.unpack(">IH", block[off : off + 6])
    img = off + 20 + 8 * n_points
    if img + 12 > len(block) or face_len < 20 + 8 * n_points + 12:
        return _search(block)
    data_type = block[img + 1]
    width, height = struct.unpack(">HH", block[img + 2 : img + 6])
    end = min(off + face_len, len(block))
    data = block[img + 12 : end]
    kind = {0: "jpeg", 1: "jpeg2000"}.get(data_type, sniff(data))
    if sniff(data) != "unknown":
        kind = sniff(data)  # trust the bytes over the header
    return FaceImage(kind, width, height, data)


def parse_dg2(data: bytes) -> Dg2:
    """Parse DG2; raises LdsError when the structure is unusable."""
    try:
        outer, _ = tlv.decode(data)
        if outer.tag != 0x75:
            raise TlvError(f"DG2 tag is {outer.tag:X}, not 75")
        group = tlv.find(outer.children(), 0x7F61)
        if group is None:
            raise TlvError("DG2 has no biometric information group template (7F61)")
        images: list[FaceImage] = []
        for bit in group.children():
            if bit.tag != 0x7F60:
                continue
            bdb = tlv.find(bit.children(), 0x5F2E) or tlv.find(bit.children(), 0x7F2E)
            if bdb is None:
                raise TlvError("biometric information template without data block")
            images.append(parse_facial_record(bdb.value))
        if not images:
            raise TlvError("DG2 holds no biometric information template")
        return Dg2(images)
    except (TlvError, struct.error) as e:
        raise LdsError(f"DG2: {e}") from e


def encode_dg2(image: bytes, width: int, height: int, jpeg2000: bool = False) -> bytes:
    """Build a minimal DG2 around one image (virtual card and tests)."""
    img_info = struct.pack(">BBHHBBHH", 1, 1 if jpeg2000 else 0, width, height, 1, 2, 0, 0)
    face = struct.pack(">IH", 20 + 12 + len(image), 0) + bytes(14) + img_info + image
    record = b"FAC\x00" + b"010\x00" + struct.pack(">IH", 14 + len(face), 1) + face
    header = tlv.encode(0xA1, tlv.encode(0x80, b"\x01\x01") + tlv.encode(0x87, b"\x01\x01"))
    bit = tlv.encode(0x7F60, header + tlv.encode(0x5F2E, record))
    return tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x02, b"\x01") + bit))
