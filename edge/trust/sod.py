"""EF.SOD: the document security object (ICAO 9303 Part 10 §4.6.2).

EF.SOD is ``[APPLICATION 23]`` (tag 77) around a CMS ContentInfo holding
SignedData whose eContent (type id-icao-mrtd-security-ldsSecurityObject) is
an LDSSecurityObject listing the hash of each data group. Real SODs may use
BER indefinite lengths (New Zealand 2013): asn1crypto parses them and keeps
the original bytes, which is what the signatures cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, parser, x509

from edge.trust.errors import SODParseError

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"


class DataGroupHash(core.Sequence):
    _fields = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):
    _fields = [
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LDSSecurityObject(core.Sequence):
    """ICAO 9303 Part 10: LDSSecurityObject (v0, and v1 with LDSVersionInfo)."""

    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LDSVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class SOD:
    """A parsed EF.SOD. Construct with :func:`parse_sod`."""

    raw: bytes
    signed_data: cms.SignedData
    signer_info: cms.SignerInfo
    econtent: bytes  # the LDSSecurityObject bytes, as hashed into messageDigest
    version: int
    hash_algorithm: str  # hashlib name: sha1, sha224, sha256, sha384, sha512
    dg_hashes: dict[int, bytes]
    certificates: tuple[x509.Certificate, ...] = field(default=())
    lds_version: str | None = None
    unicode_version: str | None = None
    signer_info_count: int = 1

    def signer_certificate(self) -> x509.Certificate | None:
        """The certificate in the SOD matching the SignerInfo's sid, if any."""
        return find_signer_certificate(self.signer_info, self.certificates)


def find_signer_certificate(
    signer_info: cms.SignerInfo, certificates: "tuple[x509.Certificate, ...] | list[x509.Certificate]"
) -> x509.Certificate | None:
    sid = signer_info["sid"]
    for cert in certificates:
        try:
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                if (
                    ias["serial_number"].native == cert.serial_number
                    and names_match(ias["issuer"], cert.issuer)
                ):
                    return cert
            elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
                return cert
        except (ValueError, TypeError, KeyError):
            continue
    return None


def _rdn_multiset(name: x509.Name) -> list[str]:
    # Name.hashable normalises each attribute value; sorting drops the order.
    return sorted(rdn.hashable for rdn in name.chosen)


def name_key(name: x509.Name) -> str:
    """Index key for a Name: normalised, RDN order ignored."""
    try:
        return "|".join(_rdn_multiset(name))
    except (ValueError, TypeError, KeyError):
        return name.dump().hex()


def names_match(a: x509.Name, b: x509.Name) -> bool:
    """Equal names, tolerating a different RDN order (seen in real SODs: the
    Malaysian SignerInfo lists its issuer's RDNs in another order than the
    certificate does)."""
    if a.hashable == b.hashable:
        return True
    try:
        return _rdn_multiset(a) == _rdn_multiset(b)
    except (ValueError, TypeError, KeyError):
        return False


def unwrap_application(data: bytes, number: int) -> bytes | None:
    """Contents of ``[APPLICATION number]`` TLV (e.g. 6E for DG14 is number 14),
    or None when the data starts with another tag. Raises ValueError on junk."""
    cls, _method, tag, _header, contents, _trailer = parser.parse(bytes(data))
    if cls == 1 and tag == number:
        return contents
    return None


def unwrap_tag77(data: bytes) -> bytes:
    """The ContentInfo inside ``77 L ...``; bare ContentInfo is accepted too."""
    try:
        cls, _method, tag, _header, contents, _trailer = parser.parse(bytes(data))
    except (ValueError, TypeError) as e:
        raise SODParseError(f"not a BER TLV: {e}") from None
    if cls == 1 and tag == 23:  # [APPLICATION 23] = 0x77
        return contents
    if cls == 0 and tag == 16:  # already a ContentInfo SEQUENCE
        return bytes(data)
    raise SODParseError(f"unexpected outer tag (class {cls}, number {tag}); EF.SOD starts with 77")


def econtent_bytes(signed_data: cms.SignedData) -> bytes:
    content = signed_data["encap_content_info"]["content"]
    if content is None or isinstance(content, core.Void):
        raise SODParseError("SignedData has no encapsulated content")
    # __bytes__ joins the chunks of a constructed (BER) OCTET STRING.
    return content.__bytes__()


def parse_sod(data: bytes) -> SOD:
    """Parse EF.SOD bytes; raises :class:`SODParseError` on anything malformed."""
    try:
        return _parse(data)
    except SODParseError:
        raise
    except Exception as e:  # asn1crypto raises ValueError/TypeError/KeyError/...: normalise
        raise SODParseError(f"malformed EF.SOD: {type(e).__name__}: {e}") from None


def _parse(data: bytes) -> SOD:
    ci = cms.ContentInfo.load(unwrap_tag77(data))
    if ci["content_type"].native != "signed_data":
        raise SODParseError(f"ContentInfo type is {ci['content_type'].dotted}, not signedData")
    sd = ci["content"]
    eci = sd["encap_content_info"]
    if eci["content_type"].dotted != OID_LDS_SECURITY_OBJECT:
        raise SODParseError(f"eContentType {eci['content_type'].dotted} is not an LDS security object")
    econtent = econtent_bytes(sd)
    lds = LDSSecurityObject.load(econtent)
    hash_alg = lds["hash_algorithm"]["algorithm"].native
    dg_hashes: dict[int, bytes] = {}
    for item in lds["data_group_hash_values"]:
        n = item["data_group_number"].native
        if not isinstance(n, int) or not 1 <= n <= 16:
            raise SODParseError(f"data group number {n!r} out of range 1..16")
        if n in dg_hashes:
            raise SODParseError(f"data group {n} listed twice")
        dg_hashes[n] = item["data_group_hash_value"].native
    ldsv = lds["lds_version_info"]
    signer_infos = sd["signer_infos"]
    if len(signer_infos) < 1:
        raise SODParseError("SignedData has no SignerInfo")
    si = signer_infos[0]
    # Force the lazy parser over everything the verifier will read, so that
    # malformed input fails here and not halfway through verification.
    si["sid"].native
    si["digest_algorithm"]["algorithm"].native
    si["signature_algorithm"].native
    si["signature"].native
    if si["signed_attrs"]:
        si["signed_attrs"].native
    certs: list[x509.Certificate] = []
    for choice in sd["certificates"] or []:
        if choice.name == "certificate":
            cert = choice.chosen
            cert.native  # parse fully now
            certs.append(cert)
    return SOD(
        raw=bytes(data),
        signed_data=sd,
        signer_info=si,
        econtent=econtent,
        version=lds["version"].native,
        hash_algorithm=hash_alg,
        dg_hashes=dg_hashes,
        certificates=tuple(certs),
        lds_version=None if isinstance(ldsv, core.Void) else ldsv["lds_version"].native,
        unicode_version=None if isinstance(ldsv, core.Void) else ldsv["unicode_version"].native,
        signer_info_count=len(signer_infos),
    )


# ---------------------------------------------------------------------------
# data-group files

#: first tag of each EF.DGn (ICAO 9303 Part 10 table 34)
DG_TAGS: dict[int, int] = {
    0x61: 1, 0x75: 2, 0x63: 3, 0x76: 4, 0x65: 5, 0x66: 6, 0x67: 7, 0x68: 8,
    0x69: 9, 0x6A: 10, 0x6B: 11, 0x6C: 12, 0x6D: 13, 0x6E: 14, 0x6F: 15, 0x70: 16,
}  # fmt: skip


def dg_number_from_content(data: bytes) -> int:
    """The data-group number announced by a DG file's first tag (61 -> 1 ...)."""
    if not data:
        raise SODParseError("empty data-group file")
    n = DG_TAGS.get(data[0])
    if n is None:
        raise SODParseError(f"tag {data[0]:02X} is not a data-group tag")
    return n
