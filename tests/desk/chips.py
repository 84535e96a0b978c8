"""Real chip results for desk tests: a :class:`edge.chip_reader.ChipCheck` with the trust level asked for.

The desk takes the chip reader's own result type; these build one from real trust checks
(no card, no crypto) so the flow and the view are tested against the type they get in service.
"""

from __future__ import annotations

from edge.chip_reader import ChipCheck
from edge.icao.session import ChipReadResult
from edge.trust.crosscheck import IdentityFields
from edge.trust.levels import TrustLevel
from edge.trust.result import Check, CheckName, CheckStatus, Reason, TrustResult

P, F = CheckStatus.PASSED, CheckStatus.FAILED


def trust_at(level: TrustLevel, *, mismatch: tuple[str, ...] = ()) -> TrustResult:
    """A trust result whose checks add up to ``level`` (``mismatch``: failed cross-check reasons)."""
    dgs = {"1": "match", "2": "match", "13": "match", "14": "match", "15": "match"}
    checks = {CheckName.DATA_GROUP_HASHES: Check(P, (Reason.of("dg_hashes_match"),), {"data_groups": dgs})}
    if level is TrustLevel.QR_ONLY:
        return TrustResult({}, qr_present=True)
    if level is TrustLevel.INVALID and not mismatch:
        checks[CheckName.CHIP_AUTHENTICATION] = Check.make(F, "ca_failed")  # a clone
    checks[CheckName.SIGNATURE] = Check.make(P, "signature_valid")
    if level >= TrustLevel.CHIP_VERIFIED or level is TrustLevel.INVALID:
        checks[CheckName.CHAIN] = Check.make(P, "chain_anchored")
        checks[CheckName.VALIDITY] = Check.make(P, "within_validity")
    else:
        checks[CheckName.CHAIN] = Check.make(F, "csca_not_found")
    if level is TrustLevel.CHIP_VERIFIED_CLONE_CHECKED:
        checks[CheckName.CHIP_AUTHENTICATION] = Check.make(P, "ca_passed")
    if mismatch:
        checks[CheckName.CROSSCHECK] = Check(F, tuple(Reason.of(code) for code in mismatch))
    result = TrustResult(checks, qr_present=True)
    assert result.level is level, (result.level, level)
    return result


def chip_check(
    level: TrustLevel,
    identity: IdentityFields | None,
    *,
    face: bytes | None = b"\xff\xd8face",
    mismatch: tuple[str, ...] = (),
) -> ChipCheck:
    return ChipCheck(read=ChipReadResult(), trust=trust_at(level, mismatch=mismatch), identity=identity,
                     face_image=face, face_mime="image/jpeg" if face else None)
