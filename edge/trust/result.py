"""One result object for every trust check of a card reading.

Each check (data-group hashes, SOD signature, certificate chain, validity,
revocation, chip/active authentication, QR<->chip cross-check) carries a
status and one or more reasons. A reason is a stable machine code plus an
English and a Vietnamese sentence. The overall :class:`TrustLevel` is derived
from the checks by :func:`decide_level`:

* any failed data-group hash, SOD signature, chip or active authentication,
  revocation, or cross-check -> ``invalid``. A cross-check mismatch means the
  QR and the chip belong to different people, so the reading as a whole is
  not trustworthy, even if each part alone is genuine;
* a document-signer certificate whose signature does not verify under a CSCA
  whose key identifier and name it claims -> ``invalid`` (forgery);
* SOD signature fine but no trusted CSCA/pinned DS, or the anchor outside its
  validity at the reading date -> ``chip_data_unanchored``;
* anchored (CSCA chain or pinned DS) + valid + not revoked -> ``chip_verified``;
  plus chip or active authentication passed -> ``chip_verified_clone_checked``,
  but only when the key it used is authenticated: DG14 (for CA) or DG15 (for
  AA) must be among the data groups whose hash matched. A chip presenting a
  key the SOD does not cover proves nothing (the BSI specimen's DG15 is such
  a case);
* no chip data at all but a QR was read -> ``qr_only``; nothing -> ``invalid``.

Data-group hashes ``not_checked`` (no data group supplied) do not lower the
level: the level then speaks for the SOD only. Callers pass every data group
whose content they use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from edge.trust.levels import TrustLevel


class CheckStatus(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"
    NOT_APPLICABLE = "not_applicable"

    def __str__(self) -> str:
        return self.value


class CheckName(str, Enum):
    DATA_GROUP_HASHES = "data_group_hashes"
    SIGNATURE = "signature"
    CHAIN = "chain"
    VALIDITY = "validity"
    REVOCATION = "revocation"
    CHIP_AUTHENTICATION = "chip_authentication"
    ACTIVE_AUTHENTICATION = "active_authentication"
    CROSSCHECK = "crosscheck"

    def __str__(self) -> str:
        return self.value


# code -> (English, Vietnamese). Codes are stable: tests and the server key on them.
REASONS: dict[str, tuple[str, str]] = {
    "not_checked": ("Not checked.", "Chưa kiểm tra."),
    # data groups
    "dg_hashes_match": (
        "Every data group read matches its hash in EF.SOD.",
        "Mọi nhóm dữ liệu đã đọc khớp với giá trị băm trong EF.SOD.",
    ),
    "dg_hash_mismatch": (
        "A data group does not match its hash in EF.SOD: the data was altered.",
        "Một nhóm dữ liệu không khớp giá trị băm trong EF.SOD: dữ liệu đã bị thay đổi.",
    ),
    "dg_not_in_sod": (
        "A data group was read that EF.SOD does not cover: its content is not authenticated.",
        "Có nhóm dữ liệu không được EF.SOD bảo vệ: nội dung của nó không được xác thực.",
    ),
    "no_data_groups": (
        "No data group was given to check.",
        "Không có nhóm dữ liệu nào để kiểm tra.",
    ),
    # SOD signature
    "signature_valid": (
        "The EF.SOD signature is valid under the document signer certificate.",
        "Chữ ký của EF.SOD hợp lệ theo chứng thư người ký tài liệu.",
    ),
    "signature_invalid": (
        "The EF.SOD signature does not verify.",
        "Chữ ký của EF.SOD không hợp lệ.",
    ),
    "message_digest_mismatch": (
        "The signed message digest does not match the security object.",
        "Giá trị băm được ký không khớp với đối tượng bảo mật.",
    ),
    "ds_certificate_missing": (
        "No document signer certificate: neither in EF.SOD nor in the trust store.",
        "Không có chứng thư người ký tài liệu: không có trong EF.SOD lẫn kho tin cậy.",
    ),
    "unsupported_algorithm": (
        "The signature uses an algorithm or curve that is not supported.",
        "Chữ ký dùng thuật toán hoặc đường cong không được hỗ trợ.",
    ),
    "sod_unparsable": (
        "EF.SOD could not be parsed.",
        "Không phân tích được EF.SOD.",
    ),
    # chain
    "chain_anchored": (
        "The document signer certificate chains to a trusted CSCA.",
        "Chứng thư người ký tài liệu được xác thực tới một CSCA tin cậy.",
    ),
    "pinned_document_signer": (
        "The document signer certificate is pinned in the trust store.",
        "Chứng thư người ký tài liệu đã được ghim trong kho tin cậy.",
    ),
    "csca_not_found": (
        "No trusted CSCA or pinned document signer matches this document signer.",
        "Không có CSCA tin cậy hoặc chứng thư ghim nào khớp với người ký tài liệu này.",
    ),
    "ds_certificate_signature_invalid": (
        "The document signer certificate's signature does not verify under the CSCA it names.",
        "Chữ ký trên chứng thư người ký tài liệu không hợp lệ theo CSCA mà nó khai báo.",
    ),
    "no_trust_store": (
        "No trust store was given.",
        "Không có kho chứng thư tin cậy.",
    ),
    # validity
    "within_validity": (
        "The document signer and CSCA certificates are valid at the reading date.",
        "Chứng thư người ký tài liệu và CSCA còn hiệu lực tại ngày đọc.",
    ),
    "ds_expired": (
        "The document signer certificate had expired at the reading date.",
        "Chứng thư người ký tài liệu đã hết hạn tại ngày đọc.",
    ),
    "ds_not_yet_valid": (
        "The document signer certificate was not yet valid at the reading date.",
        "Chứng thư người ký tài liệu chưa có hiệu lực tại ngày đọc.",
    ),
    "csca_expired": (
        "The CSCA certificate had expired at the reading date.",
        "Chứng thư CSCA đã hết hạn tại ngày đọc.",
    ),
    "csca_not_yet_valid": (
        "The CSCA certificate was not yet valid at the reading date.",
        "Chứng thư CSCA chưa có hiệu lực tại ngày đọc.",
    ),
    # revocation
    "not_revoked": (
        "The document signer certificate is not on the CSCA's revocation list.",
        "Chứng thư người ký tài liệu không có trong danh sách thu hồi của CSCA.",
    ),
    "revoked": (
        "The document signer certificate has been revoked.",
        "Chứng thư người ký tài liệu đã bị thu hồi.",
    ),
    "no_crl": (
        "No revocation list for this CSCA is available.",
        "Không có danh sách thu hồi cho CSCA này.",
    ),
    "crl_signature_invalid": (
        "The revocation list's signature does not verify under the CSCA.",
        "Chữ ký của danh sách thu hồi không hợp lệ theo CSCA.",
    ),
    "crl_outdated": (
        "The revocation list was past its next update at the reading date.",
        "Danh sách thu hồi đã quá hạn cập nhật tại ngày đọc.",
    ),
    # clone checks
    "ca_passed": ("Chip Authentication succeeded.", "Xác thực chip thành công."),
    "ca_failed": ("Chip Authentication failed: the chip may be a clone.", "Xác thực chip thất bại: chip có thể là bản sao."),
    "aa_passed": ("Active Authentication succeeded.", "Xác thực chủ động thành công."),
    "aa_failed": (
        "Active Authentication failed: the chip may be a clone.",
        "Xác thực chủ động thất bại: chip có thể là bản sao.",
    ),
    # cross-check
    "crosscheck_match": ("QR code and chip data agree.", "Dữ liệu mã QR và chip trùng khớp."),
    "id_number_mismatch": (
        "The ID number in the QR code differs from the chip's.",
        "Số định danh trong mã QR khác với trong chip.",
    ),
    "name_mismatch": (
        "The name in the QR code differs from the chip's.",
        "Họ tên trong mã QR khác với trong chip.",
    ),
    "date_of_birth_mismatch": (
        "The date of birth in the QR code differs from the chip's.",
        "Ngày sinh trong mã QR khác với trong chip.",
    ),
    "sex_mismatch": (
        "The sex in the QR code differs from the chip's.",
        "Giới tính trong mã QR khác với trong chip.",
    ),
}


@dataclass(frozen=True)
class Reason:
    """A stable machine code with English and Vietnamese text."""

    code: str
    en: str
    vi: str
    detail: str | None = None  # free-form context (e.g. which data group)

    @classmethod
    def of(cls, code: str, detail: str | None = None) -> Reason:
        en, vi = REASONS[code]  # KeyError on an unknown code: a programming error
        return cls(code, en, vi, detail)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "en": self.en, "vi": self.vi}
        if self.detail is not None:
            d["detail"] = self.detail
        return d


@dataclass(frozen=True)
class Check:
    """Status of one check and the reasons behind it (first one is the main)."""

    status: CheckStatus
    reasons: tuple[Reason, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    @classmethod
    def make(cls, status: CheckStatus, code: str, detail: str | None = None, **details: Any) -> Check:
        return cls(status, (Reason.of(code, detail),), details)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status.value, "reasons": [r.to_dict() for r in self.reasons]}
        if self.details:
            d["details"] = dict(self.details)
        return d


NOT_CHECKED = Check(CheckStatus.NOT_CHECKED, (Reason.of("not_checked"),))

_INVALID_IF_FAILED = (
    CheckName.DATA_GROUP_HASHES,
    CheckName.SIGNATURE,
    CheckName.REVOCATION,
    CheckName.CHIP_AUTHENTICATION,
    CheckName.ACTIVE_AUTHENTICATION,
    CheckName.CROSSCHECK,
)


def decide_level(checks: Mapping[CheckName, Check], *, qr_present: bool = False) -> TrustLevel:
    """Apply the rules in the module docstring to a set of checks."""

    def st(name: CheckName) -> CheckStatus:
        return checks.get(name, NOT_CHECKED).status

    if any(st(n) is CheckStatus.FAILED for n in _INVALID_IF_FAILED):
        return TrustLevel.INVALID
    chain = checks.get(CheckName.CHAIN, NOT_CHECKED)
    if chain.status is CheckStatus.FAILED and "ds_certificate_signature_invalid" in chain.codes:
        return TrustLevel.INVALID
    if st(CheckName.SIGNATURE) is not CheckStatus.PASSED:
        # No verified chip data: the QR alone identifies but proves nothing.
        return TrustLevel.QR_ONLY if qr_present else TrustLevel.INVALID
    anchored = (
        chain.status is CheckStatus.PASSED
        and st(CheckName.VALIDITY) is CheckStatus.PASSED
        and st(CheckName.REVOCATION) is not CheckStatus.FAILED
    )
    if not anchored:
        return TrustLevel.CHIP_DATA_UNANCHORED
    if clone_checked_by(checks) is not None:
        return TrustLevel.CHIP_VERIFIED_CLONE_CHECKED
    return TrustLevel.CHIP_VERIFIED


def clone_checked_by(checks: Mapping[CheckName, Check]) -> CheckName | None:
    """The clone check that counts (CA first, then AA): passed, with its key's DG
    (14 for CA, 15 for AA) among the data groups whose hash matched EF.SOD."""
    dgs = checks.get(CheckName.DATA_GROUP_HASHES, NOT_CHECKED).details.get("data_groups", {})
    for name, dg in ((CheckName.CHIP_AUTHENTICATION, "14"), (CheckName.ACTIVE_AUTHENTICATION, "15")):
        if checks.get(name, NOT_CHECKED).status is CheckStatus.PASSED and dgs.get(dg) == "match":
            return name
    return None


@dataclass(frozen=True)
class TrustResult:
    """Every check of one reading and the trust level they add up to."""

    checks: Mapping[CheckName, Check] = field(default_factory=dict)
    qr_present: bool = False
    #: facts found on the way (hash algorithm, DS subject, per-DG results...)
    details: Mapping[str, Any] = field(default_factory=dict)

    def check(self, name: CheckName | str) -> Check:
        return self.checks.get(CheckName(name), NOT_CHECKED)

    @property
    def level(self) -> TrustLevel:
        return decide_level(self.checks, qr_present=self.qr_present)

    @property
    def clone_checked_by(self) -> CheckName | None:
        """Which check made the reading clone-checked (None below that level)."""
        return clone_checked_by(self.checks) if self.level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED else None

    @property
    def verified(self) -> bool:
        """True from ``chip_verified`` upwards."""
        return self.level >= TrustLevel.CHIP_VERIFIED

    def with_check(self, name: CheckName | str, check: Check) -> TrustResult:
        """A copy with one check set (e.g. the reader adds CA/AA or the cross-check)."""
        checks = dict(self.checks)
        checks[CheckName(name)] = check
        return replace(self, checks=checks)

    def with_qr(self, present: bool = True) -> TrustResult:
        return replace(self, qr_present=present)

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level.value,
            "verified": self.verified,
            "clone_checked_by": None if self.clone_checked_by is None else self.clone_checked_by.value,
            "checks": {n.value: self.check(n).to_dict() for n in CheckName},
            "details": dict(self.details),
        }
