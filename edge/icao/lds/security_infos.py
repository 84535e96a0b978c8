"""SecurityInfos (ICAO 9303-11 §9.2) as found in EF.CardAccess and DG14.

Known entries become typed records (PACEInfo, ChipAuthenticationInfo,
ChipAuthenticationPublicKeyInfo, TerminalAuthenticationInfo,
ActiveAuthenticationInfo); anything else is kept raw, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.icao import tlv
from edge.icao.der import TAG_INTEGER, TAG_OID, TAG_SEQUENCE, TAG_SET, decode_int, decode_oid
from edge.icao.errors import LdsError, TlvError

BSI_DE = "0.4.0.127.0.7"
ID_PK = BSI_DE + ".2.2.1"
ID_TA = BSI_DE + ".2.2.2"
ID_CA = BSI_DE + ".2.2.3"
ID_PACE = BSI_DE + ".2.2.4"
ID_AA = "2.23.136.1.1.5"


@dataclass(frozen=True)
class PaceInfo:
    protocol: str
    version: int
    parameter_id: int | None


@dataclass(frozen=True)
class PaceDomainParameterInfo:
    protocol: str
    raw: bytes
    parameter_id: int | None


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    protocol: str
    version: int
    key_id: int | None


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo:
    protocol: str
    subject_public_key_info: bytes  # DER SubjectPublicKeyInfo, as stored
    key_id: int | None


@dataclass(frozen=True)
class TerminalAuthenticationInfo:
    protocol: str
    version: int


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    protocol: str
    version: int
    signature_algorithm: str | None


@dataclass(frozen=True)
class UnknownSecurityInfo:
    protocol: str
    raw: bytes


SecurityInfo = (
    PaceInfo | PaceDomainParameterInfo | ChipAuthenticationInfo
    | ChipAuthenticationPublicKeyInfo | TerminalAuthenticationInfo
    | ActiveAuthenticationInfo | UnknownSecurityInfo
)


@dataclass(frozen=True)
class SecurityInfos:
    infos: list[SecurityInfo] = field(default_factory=list)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [i for i in self.infos if isinstance(i, kind)]

    @property
    def pace(self) -> list[PaceInfo]:
        return self.of(PaceInfo)

    @property
    def chip_authentication(self) -> list[ChipAuthenticationInfo]:
        return self.of(ChipAuthenticationInfo)

    @property
    def chip_authentication_public_keys(self) -> list[ChipAuthenticationPublicKeyInfo]:
        return self.of(ChipAuthenticationPublicKeyInfo)

    @property
    def terminal_authentication(self) -> list[TerminalAuthenticationInfo]:
        return self.of(TerminalAuthenticationInfo)

    @property
    def active_authentication(self) -> list[ActiveAuthenticationInfo]:
        return self.of(ActiveAuthenticationInfo)


def _int_at(children: list[tlv.Tlv], i: int) -> int | None:
    if i < len(children) and children[i].tag == TAG_INTEGER:
        return decode_int(children[i].value)
    return None


def _one(seq: tlv.Tlv) -> SecurityInfo:
    ch = seq.children()
    if not ch or ch[0].tag != TAG_OID:
        raise TlvError("SecurityInfo does not start with an OID")
    oid = decode_oid(ch[0].value)
    arcs = oid.split(".")
    if oid.startswith(ID_PACE + ".") and len(arcs) == 11:
        version = _int_at(ch, 1)
        if version is None:
            raise TlvError("PACEInfo without version")
        return PaceInfo(oid, version, _int_at(ch, 2))
    if oid.startswith(ID_PACE + ".") and len(arcs) == 10:
        return PaceDomainParameterInfo(oid, seq.encode(), _int_at(ch, 2))
    if oid.startswith(ID_CA + ".") and len(arcs) == 11:
        version = _int_at(ch, 1)
        if version is None:
            raise TlvError("ChipAuthenticationInfo without version")
        return ChipAuthenticationInfo(oid, version, _int_at(ch, 2))
    if oid.startswith(ID_PK + "."):
        if len(ch) < 2 or ch[1].tag != TAG_SEQUENCE:
            raise TlvError("ChipAuthenticationPublicKeyInfo without a public key")
        return ChipAuthenticationPublicKeyInfo(oid, ch[1].encode(), _int_at(ch, 2))
    if oid == ID_TA:
        return TerminalAuthenticationInfo(oid, _int_at(ch, 1) or 0)
    if oid == ID_AA:
        sig = decode_oid(ch[2].value) if len(ch) > 2 and ch[2].tag == TAG_OID else None
        return ActiveAuthenticationInfo(oid, _int_at(ch, 1) or 0, sig)
    return UnknownSecurityInfo(oid, seq.encode())


def parse_security_infos(data: bytes) -> SecurityInfos:
    """Parse a DER SET OF SecurityInfo (EF.CardAccess content, DG14 inner)."""
    try:
        outer, _end = tlv.decode(data)
        if outer.tag != TAG_SET:
            raise TlvError("SecurityInfos is not a SET")
        infos: list[SecurityInfo] = []
        for seq in outer.children():
            if seq.tag != TAG_SEQUENCE:
                raise TlvError("SecurityInfo is not a SEQUENCE")
            try:
                infos.append(_one(seq))
            except TlvError:
                infos.append(UnknownSecurityInfo("", seq.encode()))  # kept, not fatal
        return SecurityInfos(infos)
    except TlvError as e:
        raise LdsError(f"malformed SecurityInfos: {e}") from e
