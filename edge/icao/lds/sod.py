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


def parse_sod(data: bytes) -> Sod:
    """Parse EF.SOD bytes; raises :class:`SodError` on anything malformed."""
    try:
        return _parse(data)
    except SodError:
        raise
    except Exception as e:  # asn1crypto raises ValueError/TypeError/KeyError/...: normalise
        raise SodError(f"malformed EF.SOD: {type(e).__name__}: {e}") from None


def _parse(data: bytes) -> Sod:
    inner = unwrap_tag77(data)
    ci = cms.ContentInfo.load(inner)
    if ci["content_type"].native != "signed_data":
        raise SodError(f"ContentInfo type is {ci['content_type'].dotted}, not signedData")
    sd = ci["content"]
    eci = sd["encap_content_info"]
    if eci["content_type"].dotted != OID_LDS_SECURITY_OBJECT:
        raise SodError(f"eContentType {eci['content_type'].dotted} is not an LDS security object")
    econtent = econtent_bytes(sd)
    lds = LDSSecurityObject.load(econtent)
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
