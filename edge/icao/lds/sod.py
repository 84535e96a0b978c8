"""EF.SOD: the document security object (ICAO 9303 Part 10 §4.6.2).

EF.SOD is ``[APPLICATION 23]`` (tag 77) around a CMS ContentInfo holding
SignedData whose eContent (type id-icao-mrtd-security-ldsSecurityObject) is
an LDSSecurityObject listing the hash of each data group. Real SODs may use
BER indefinite lengths (New Zealand 2013): asn1crypto parses them and keeps
the original bytes, which is what the signatures cover.

The product's one EF.SOD parser: the reading session stores its result and
passive authentication (:mod:`edge.trust.passive`) verifies the same object;
:mod:`edge.trust.sod` re-exports it with the trust package's error type.
Signature and certificate checks are not done here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, parser, x509

from edge.icao.errors import LdsError

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"


class SodError(LdsError):
    """EF.SOD bytes are not a parsable ICAO LDS security object."""


class DataGroupHash(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [  # noqa: RUF012 - asn1crypto's class-level spec
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]  # asn1crypto is untyped
    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    _fields = [  # noqa: RUF012 - asn1crypto's class-level spec
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LDSSecurityObject(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """ICAO 9303 Part 10: LDSSecurityObject (v0, and v1 with LDSVersionInfo)."""

    _fields = [  # noqa: RUF012 - asn1crypto's class-level spec
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LDSVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class Sod:
    """A parsed EF.SOD. Construct with :func:`parse_sod`."""

    raw: bytes  # the whole file, byte for byte
    signed_data: cms.SignedData
    signer_info: cms.SignerInfo | None  # None: unsigned (structure only); the verifier refuses it
    econtent: bytes  # the LDSSecurityObject bytes, as hashed into messageDigest
    version: int
    hash_algorithm: str  # hashlib name: sha1, sha224, sha256, sha384, sha512
    dg_hashes: dict[int, bytes]
    certificates: tuple[x509.Certificate, ...] = field(default=())
    lds_version: str | None = None
    unicode_version: str | None = None
    signer_info_count: int = 1
    cms: bytes = b""  # the ContentInfo inside tag 77

    @property
    def data_group_hashes(self) -> dict[int, bytes]:
        return self.dg_hashes

    @property
    def data_groups(self) -> list[int]:
        return sorted(self.dg_hashes)

    def __repr__(self) -> str:
        return f"Sod({self.hash_algorithm}, data groups {self.data_groups}, {len(self.certificates)} certificates)"


def unwrap_tag77(data: bytes) -> bytes:
    """The ContentInfo inside ``77 L ...``; bare ContentInfo is accepted too."""
    try:
        cls, _method, tag, _header, contents, _trailer = parser.parse(bytes(data))
    except (ValueError, TypeError) as e:
        raise SodError(f"not a BER TLV: {e}") from None
    if cls == 1 and tag == 23:  # [APPLICATION 23] = 0x77
        return bytes(contents)
    if cls == 0 and tag == 16:  # already a ContentInfo SEQUENCE
        return bytes(data)
    raise SodError(f"unexpected outer tag (class {cls}, number {tag}); EF.SOD starts with 77")


def econtent_bytes(signed_data: cms.SignedData) -> bytes:
    """The encapsulated content of a SignedData, chunks of a BER OCTET STRING joined."""
    content = signed_data["encap_content_info"]["content"]
    if content is None or isinstance(content, core.Void):
        raise SodError("SignedData has no encapsulated content")
    # __bytes__ joins the chunks of a constructed (BER) OCTET STRING.
    return bytes(content.__bytes__())


_MAX_DEPTH = 32


def _check_encoding(data: bytes, off: int, end: int, depth: int, *, until_eoc: bool = False) -> int:
    """Walk TLVs in ``data[off:end]`` strictly; returns the offset after them.

    Every constructed value is consumed exactly, definite lengths use the
    fewest bytes (DER), nothing trails. The one BER form allowed is the
    indefinite length (constructed only, closed by 00 00): real SODs use it
    (New Zealand 2013) and their signatures cover those bytes.
    """
    if depth > _MAX_DEPTH:
        raise SodError("EF.SOD nests deeper than any security object")
    while off < end:
        if until_eoc and data[off : off + 2] == b"\x00\x00":
            return off + 2
        first = data[off]
        off += 1
        if first & 0x1F == 0x1F:  # high tag number: base-128, b8 = more
            for _ in range(4):
                if off >= end:
                    raise SodError("EF.SOD: truncated tag")
                off += 1
                if not data[off - 1] & 0x80:
                    break
            else:
                raise SodError("EF.SOD: tag number too long")
        if off >= end:
            raise SodError("EF.SOD: truncated length")
        lb = data[off]
        off += 1
        constructed = bool(first & 0x20)
        if lb == 0x80:
            if not constructed:
                raise SodError("EF.SOD: indefinite length on a primitive value")
            off = _check_encoding(data, off, end, depth + 1, until_eoc=True)
            continue
        if lb < 0x80:
            length = lb
        else:
            n = lb & 0x7F
            if n > 4 or off + n > end:
                raise SodError("EF.SOD: bad length field")
            raw = data[off : off + n]
            off += n
            length = int.from_bytes(raw, "big")
            if raw[0] == 0 or length < 0x80:
                raise SodError("EF.SOD: length not in its shortest form (not DER)")
        if off + length > end:
            raise SodError("EF.SOD: a value runs past its container")
        if constructed:
            _check_encoding(data, off, off + length, depth + 1)
        off += length
    if until_eoc:
        raise SodError("EF.SOD: indefinite length without end-of-contents")
    return off


def check_single_object(data: bytes, what: str = "EF.SOD") -> None:
    """Exactly one strictly encoded TLV, nothing after it (see :func:`_check_encoding`)."""
    if not data:
        raise SodError(f"{what} is empty")
    end = _one_tlv_end(data)
    if end != len(data):
        raise SodError(f"{what}: {len(data) - end} bytes after the object")
    _check_encoding(data, 0, end, 0)


def _one_tlv_end(data: bytes) -> int:
    """Offset after the first TLV of ``data`` (strictly walked)."""
    try:
        _cls, _method, _tag, header, contents, trailer = parser.parse(bytes(data))
    except (ValueError, TypeError) as e:
        raise SodError(f"not a BER TLV: {e}") from None
    return len(header) + len(contents) + len(trailer)


def parse_sod(data: bytes) -> Sod:
    """Parse EF.SOD bytes; raises :class:`SodError` on anything malformed.

    Strict: one object with nothing after it, every nested value consumed
    exactly, definite lengths in DER form (:func:`check_single_object`); the
    LDS security object inside likewise.
    """
    try:
        return _parse(data)
    except SodError:
        raise
    except Exception as e:  # asn1crypto raises ValueError/TypeError/KeyError/...: normalise
        raise SodError(f"malformed EF.SOD: {type(e).__name__}: {e}") from None


def _parse(data: bytes) -> Sod:
    check_single_object(data)
    inner = unwrap_tag77(data)
    ci = cms.ContentInfo.load(inner)
    if ci["content_type"].native != "signed_data":
        raise SodError(f"ContentInfo type is {ci['content_type'].dotted}, not signedData")
    sd = ci["content"]
    eci = sd["encap_content_info"]
    if eci["content_type"].dotted != OID_LDS_SECURITY_OBJECT:
        raise SodError(f"eContentType {eci['content_type'].dotted} is not an LDS security object")
    econtent = econtent_bytes(sd)
    check_single_object(econtent, "the LDS security object")
    lds = LDSSecurityObject.load(econtent, strict=True)
    hash_alg = lds["hash_algorithm"]["algorithm"].native
    dg_hashes: dict[int, bytes] = {}
    for item in lds["data_group_hash_values"]:
        n = item["data_group_number"].native
        if not isinstance(n, int) or not 1 <= n <= 16:
            raise SodError(f"data group number {n!r} out of range 1..16")
        if n in dg_hashes:
            raise SodError(f"data group {n} listed twice")
        dg_hashes[n] = item["data_group_hash_value"].native
    ldsv = lds["lds_version_info"]
    signer_infos = sd["signer_infos"]
    # No SignerInfo still lists the hashes (test cards carry such SODs);
    # edge.trust.sod.parse_sod refuses it for verification.
    si = signer_infos[0] if len(signer_infos) else None
    if si is not None:
        # Force the lazy parser over everything the verifier will read, so that
        # malformed input fails here and not halfway through verification.
        _ = si["sid"].native
        _ = si["digest_algorithm"]["algorithm"].native
        _ = si["signature_algorithm"].native
        _ = si["signature"].native
        if si["signed_attrs"]:
            _ = si["signed_attrs"].native
    certs: list[x509.Certificate] = []
    for choice in sd["certificates"] or []:
        if choice.name == "certificate":
            cert = choice.chosen
            _ = cert.native  # parse fully now
            certs.append(cert)
    return Sod(
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
        cms=bytes(inner),
    )
