"""DG14 (tag 6E): SecurityInfos for Chip Authentication (and PACE/TA)."""

from __future__ import annotations

from edge.icao import tlv
from edge.icao.errors import LdsError, TlvError
from edge.icao.lds.security_infos import SecurityInfos, parse_security_infos


def parse_dg14(data: bytes) -> SecurityInfos:
    """ChipAuthenticationInfo / ChipAuthenticationPublicKeyInfo and others."""
    try:
        outer, _ = tlv.decode(data)
    except TlvError as e:
        raise LdsError(f"DG14: {e}") from e
    if outer.tag != 0x6E:
        raise LdsError(f"DG14 tag is {outer.tag:X}, not 6E")
    return parse_security_infos(outer.value)
