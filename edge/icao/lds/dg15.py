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
        _spki_tlv, end = tlv.decode(outer.value)
        spki = outer.value[:end]
    except TlvError as e:
        raise LdsError(f"DG15: {e}") from e
    try:
        info = asn1_keys.PublicKeyInfo.load(spki)
        algorithm = str(info["algorithm"]["algorithm"].native)
        curve: str | None = None
        size: int | None = None
        if algorithm == "rsa":
            # Computed here: asn1crypto's bit_size fails on some real keys.
            size = abs(int(info["public_key"].parsed["modulus"].native)).bit_length()
        elif algorithm == "ec":
            params = info["algorithm"]["parameters"]
            if params.name == "named":
                curve = str(params.chosen.native)
                size = info.bit_size
            else:
                curve = "explicit"
                field = params.chosen["field_id"]["parameters"].native
                size = int(field).bit_length() if isinstance(field, int) else None
    except Exception as e:  # asn1crypto raises many types on bad input
        raise LdsError(f"DG15: not a SubjectPublicKeyInfo: {e}") from e
    return Dg15(spki, algorithm, size, curve)
