"""File identifiers, short EF identifiers and LDS tags of the eMRTD files."""

from __future__ import annotations

AID_EMRTD = bytes.fromhex("A0000002471001")

EF_CARD_ACCESS = 0x011C
EF_CARD_SECURITY = 0x011D  # in the master file
EF_COM = 0x011E
EF_SOD = 0x011D  # in the eMRTD application


def dg_fid(n: int) -> int:
    """File id of data group n (DG1 = 0101 ... DG16 = 0110)."""
    if not 1 <= n <= 16:
        raise ValueError(f"no data group {n}")
    return 0x0100 + n


# LDS tag of each file (first byte of its content).
DG_TAGS: dict[int, int] = {
    1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68,
    9: 0x69, 10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70,
}
TAG_COM = 0x60
TAG_SOD = 0x77
TAG_TO_DG: dict[int, int] = {t: n for n, t in DG_TAGS.items()}


def file_name(fid: int) -> str:
    """Human name of an application file id: 'EF.COM', 'DG2', ..."""
    if fid == EF_COM:
        return "EF.COM"
    if fid == EF_SOD:
        return "EF.SOD"
    if fid == EF_CARD_ACCESS:
        return "EF.CardAccess"
    if 0x0101 <= fid <= 0x0110:
        return f"DG{fid - 0x0100}"
    return f"EF {fid:04X}"
