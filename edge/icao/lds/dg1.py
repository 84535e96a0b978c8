"""DG1 (tag 61 / 5F1F): the MRZ, parsed and verified with edge.icao.mrz."""

from __future__ import annotations

from dataclasses import dataclass

from edge.icao import mrz, tlv
from edge.icao.errors import LdsError, MrzError, TlvError


@dataclass(frozen=True)
class Dg1:
    mrz: mrz.Mrz
    mrz_text: str  # the raw characters (personal data: never log)

    def __repr__(self) -> str:
        return f"Dg1({self.mrz!r})"


def parse_dg1(data: bytes) -> Dg1:
    """Parse DG1; raises LdsError when malformed or a check digit fails."""
    try:
        outer, _ = tlv.decode(data)
        if outer.tag != 0x61:
            raise TlvError(f"DG1 tag is {outer.tag:X}, not 61")
        inner = tlv.find(outer.children(), 0x5F1F)
        if inner is None:
            raise TlvError("DG1 has no MRZ (5F1F)")
        text = inner.value.decode("ascii")
        if len(text) == 90:
            parsed = mrz.parse_td1([text[0:30], text[30:60], text[60:90]])
        elif len(text) == 88:
            parsed = mrz.parse_td3([text[0:44], text[44:88]])
        else:
            raise MrzError(f"MRZ of {len(text)} characters is neither TD1 nor TD3")
        return Dg1(parsed, text)
    except (TlvError, MrzError, UnicodeDecodeError) as e:
        raise LdsError(f"DG1: {e}") from e


def encode_dg1(lines: list[str]) -> bytes:
    """Build DG1 content from MRZ lines (used by the virtual card and tests)."""
    return tlv.encode(0x61, tlv.encode(0x5F1F, "".join(lines).encode("ascii")))
