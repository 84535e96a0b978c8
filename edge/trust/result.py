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
from enum import StrEnum
from typing import Any

from contract.catalogue import TRUST_REASONS
from edge.trust.levels import TrustLevel


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"
    NOT_APPLICABLE = "not_applicable"


class CheckName(StrEnum):
    DATA_GROUP_HASHES = "data_group_hashes"
    SIGNATURE = "signature"
    CHAIN = "chain"
    VALIDITY = "validity"
    REVOCATION = "revocation"
    CHIP_AUTHENTICATION = "chip_authentication"
    ACTIVE_AUTHENTICATION = "active_authentication"
    CROSSCHECK = "crosscheck"


# code -> (English, Vietnamese). Codes are stable: tests and the server key on them.
# The texts live in the one catalogue (contract.catalogue, Vietnamese first there).
REASONS: dict[str, tuple[str, str]] = {code: (t.en, t.vi) for code, t in TRUST_REASONS.items()}


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
