"""EF.SOD (tag 77): the raw CMS bytes and which data groups it covers.

Only extraction: signature and certificate checks (passive authentication)
belong to the trust module, which takes ``Sod.cms`` or the raw file.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import cms
from asn1crypto.algos import DigestAlgorithm

from edge.icao import tlv
from edge.icao.der import TAG_INTEGER, TAG_SEQUENCE, decode_int
from edge.icao.errors import LdsError, TlvError


@dataclass(frozen=True)
class Sod:
    raw: bytes  # the whole file, byte for byte
    cms: bytes  # the ContentInfo inside tag 77
    hash_algorithm: str  # e.g. "sha256"
    data_group_hashes: dict[int, bytes]

    @property
    def data_groups(self) -> list[int]:
        return sorted(self.data_group_hashes)


def _lds_security_object(content: bytes) -> tuple[str, dict[int, bytes]]:
    # LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues, [ldsVersionInfo] }
    seq, _ = tlv.decode(content)
    if seq.tag != TAG_SEQUENCE:
        raise TlvError("LDSSecurityObject is not a SEQUENCE")
    ch = seq.children()
    if len(ch) < 3:
        raise TlvError("LDSSecurityObject too short")
    algo = DigestAlgorithm.load(ch[1].encode())["algorithm"].native
    hashes: dict[int, bytes] = {}
    for item in ch[2].children():
        parts = item.children()
        if len(parts) != 2 or parts[0].tag != TAG_INTEGER:
            raise TlvError("malformed DataGroupHash")
        hashes[decode_int(parts[0].value)] = parts[1].value
    return str(algo), hashes


def parse_sod(data: bytes) -> Sod:
    try:
        outer, end = tlv.decode(data)
    except TlvError:
        outer = None  # indefinite lengths (seen on real SODs): let asn1crypto try
    try:
        if outer is not None:
            if outer.tag != 0x77:
                raise LdsError(f"EF.SOD tag is {outer.tag:X}, not 77")
            inner = outer.value
        else:
            if not data.startswith(b"\x77"):
                raise LdsError("EF.SOD does not start with tag 77")
            _, _, hdr_end = tlv.read_header(data)
            inner = data[hdr_end:]
        info = cms.ContentInfo.load(inner)
        signed = info["content"]
        content = bytes(signed["encap_content_info"]["content"].native)
        algo, hashes = _lds_security_object(content)
        return Sod(bytes(data), bytes(inner), algo, hashes)
    except LdsError:
        raise
    except Exception as e:  # asn1crypto raises many types on bad input
        raise LdsError(f"EF.SOD: {e}") from e
