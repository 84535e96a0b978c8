"""DG15 (tag 6F): the Active Authentication public key (SubjectPublicKeyInfo)."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import keys as asn1_keys

from edge.icao import tlv
from edge.icao.errors import LdsError, TlvError


@dataclass(frozen=True)
class Dg15:
    subject_public_key_info: bytes  # DER, as stored (for the AA verifier)
    algorithm: str  # "rsa", "ec" or another asn1crypto algorithm name
    key_size: int | None  # bits
    curve: str | None  # named curve, "explicit" or None


def parse_dg15(data: bytes) -> Dg15:
    try:
        outer, _ = tlv.decode(data)
        if outer.tag != 0x6F:
            raise TlvError(f"DG15 tag is {outer.tag:X}, not 6F")
        spki_tlv, end = tlv.decode(outer.value)
        spki = outer.value[:end]
    except TlvError as e:
        raise LdsError(f"DG15: {e}") from e
    try:
        info = asn1_keys.PublicKeyInfo.load(spki)
        algorithm = info.algorithm
        curve: str | None = None
        if algorithm == "ec":
            kind, name = info.curve
            curve = name if kind == "named" else kind
        size = info.bit_size
    except Exception as e:  # asn1crypto raises many types on bad input
        raise LdsError(f"DG15: not a SubjectPublicKeyInfo: {e}") from e
    return Dg15(spki, algorithm, size, curve)
