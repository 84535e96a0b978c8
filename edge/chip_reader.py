"""Read a chip ID card and verify it: the one entry point of the desk agent.

:func:`read_and_verify` takes any :class:`edge.icao.apdu.Transport` (a PC/SC
reader, the in-process virtual card...) and never imports pyscard. It

1. reads EF.CardAccess, opens the chip with PACE (or BAC) trying the keys in
   order, and reads EF.COM, DG1, DG2 (if ``read_face``), DG13, DG14, DG15 and
   EF.SOD (:mod:`edge.icao.session`) at the response size the reader really
   carries (``max_response`` / ``sizer``: :mod:`edge.icao.sizing`), recovering
   a session the card drops and resuming each file where it stopped;
2. when ``clone_check``: runs Chip Authentication (:mod:`edge.icao.chipauth`,
   DG14's key, proved by re-reading EF.COM under the new keys) and then Active
   Authentication (:mod:`edge.icao.activeauth`, DG15's key) under CA's keys. A
   session the card drops is recovered (re-authentication, bounded) and the
   check run again; a failed CA proof is tried once more on a fresh session.
   Their typed outcomes (:class:`edge.icao.outcome.AuthOutcome`) are kept on
   the read result and become the CA/AA checks (:func:`check_from_outcome`):
   only a verification that ran and failed is ``failed`` (clone evidence); a
   refused command (6D00, 6982, 6985...) or a lost session is "not performed";
   :attr:`ChipCheck.clone_checked_by` says which check gave clone_checked;
3. runs passive authentication on every data group it read
   (:func:`edge.trust.passive.verify_passive`), adds the CA/AA checks and,
   with a QR record, the QR<->chip cross-check (:mod:`edge.trust.crosscheck`);
   the level follows :func:`edge.trust.result.decide_level`: a failed CA or AA
   (a cloned chip) or a cross-check mismatch make the reading ``invalid``;
   clone-checked needs the authenticating key's DG (14 or 15) to match EF.SOD.

Errors (all from :mod:`edge.icao.errors`, base ``IcaoError``):

* :class:`edge.icao.session.AccessDeniedError` (an ``AuthenticationError``):
  no key opened the chip; ``.attempts`` says what was tried;
* ``CardRemovedError`` (a ``TransportError``): the card left the field;
  every transport raises it for a removed card (the PC/SC driver's own kind
  subclasses it), so callers catch it by type; :class:`ChipReading` keeps
  what was read, and its ``run`` with the new connection resumes the read;
* ``TransportError``: the reader failed mid-read (timeout, service lost);
* ``SecureMessagingError``: bad MACs or malformed protected answers that
  persist after the bounded recoveries (a hostile or broken card);
* any other ``IcaoError`` (e.g. ``StatusError`` while selecting the
  application). Answers the chip gives during CA/AA never raise: they become
  outcomes. Nothing waits forever: the transport's own timeout bounds
  every exchange.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from edge.icao.access import AccessKey
from edge.icao.activeauth import active_authenticate
from edge.icao.apdu import Transport
from edge.icao.chipauth import chip_authenticate
from edge.icao.errors import SecureMessagingError
from edge.icao.lds.tags import EF_COM, EF_SOD, dg_fid
from edge.icao.outcome import AuthOutcome, AuthProtocol, AuthStatus
from edge.icao.session import DEFAULT_MAX_RECOVERIES, ChipReadResult, ChipSession
from edge.icao.sizing import ResponseSizer
from edge.trust.aa import aa_verifier
from edge.trust.ca import chip_authentication_request
from edge.trust.crosscheck import IdentityFields, crosscheck
from edge.trust.errors import TrustError
from edge.trust.levels import TrustLevel
from edge.trust.passive import verify_passive
from edge.trust.result import Check, CheckName, CheckStatus, TrustResult
from edge.trust.store import TrustStore

if TYPE_CHECKING:  # pragma: no cover
    from edge.domain.qr import CccdRecord

__all__ = [
    "ChipCheck",
    "active_authentication_step",
    "check_from_outcome",
    "chip_authentication_step",
    "chip_files",
    "identity_from_chip",
    "identity_from_qr",
    "read_and_verify",
]

_MIME = {"jpeg": "image/jpeg", "jpeg2000": "image/jp2"}


@dataclass(repr=False)
class ChipCheck:
    """One verified reading. Holds personal data: its repr shows no values."""

    read: ChipReadResult  # raw files, parsed DGs, access method, timings, APDU counts
    trust: TrustResult  # every check and .level
    identity: IdentityFields | None  # chip side: DG13, else DG1
    face_image: bytes | None
    face_mime: str | None

    @property
    def level(self) -> TrustLevel:
        return self.trust.level

    @property
    def clone_checked_by(self) -> CheckName | None:
        """Which check gave ``chip_verified_clone_checked`` (CA first), or None."""
        return self.trust.clone_checked_by

    def __repr__(self) -> str:
        face = f"{len(self.face_image)} bytes" if self.face_image else "none"
        return f"ChipCheck(level={self.trust.level.value}, read={self.read!r}, face={face}, <redacted>)"


def chip_files(read_face: bool = True) -> tuple[int, ...]:
    """The files read, in order (EF.CardAccess is read before access control)."""
    dgs = (1, 2, 13, 14, 15) if read_face else (1, 13, 14, 15)
    return (EF_COM, *(dg_fid(n) for n in dgs), EF_SOD)


# ------------------------------------------------------------------ clone checks
def _active_authentication(session: ChipSession, result: ChipReadResult) -> AuthOutcome:
    dg15 = result.files.get(dg_fid(15))
    if dg15 is None:
        return AuthOutcome.not_applicable(AuthProtocol.ACTIVE_AUTHENTICATION, "no DG15")
    try:
        verify = aa_verifier(dg15, dg14=result.files.get(dg_fid(14)))
    except TrustError as e:
        return AuthOutcome.not_performed(AuthProtocol.ACTIVE_AUTHENTICATION, f"DG15 unusable: {e}")
    return active_authenticate(session, verify)


def _chip_authentication(session: ChipSession, result: ChipReadResult) -> AuthOutcome:
    dg14 = result.files.get(dg_fid(14))
    if dg14 is None:
        return AuthOutcome.not_applicable(AuthProtocol.CHIP_AUTHENTICATION, "no DG14")
    try:
        request = chip_authentication_request(dg14)
    except TrustError as e:
        return AuthOutcome.not_performed(AuthProtocol.CHIP_AUTHENTICATION, f"DG14 unusable: {e}")
    return chip_authenticate(session, request, EF_COM, result.files.get(EF_COM))


def _recovering(session: ChipSession, protocol: AuthProtocol, attempt: Callable[[], AuthOutcome]) -> AuthOutcome:
    """Run a clone check; when the card drops the session, recover it and run it again.

    A failed CA proof is tried once more on a fresh session: a genuine card whose
    session dropped at that very command looks like a clone once, never twice.
    """
    proof_retried = False
    while True:
        try:
            if session.sm is None:
                raise SecureMessagingError("no secure messaging session (lost earlier)")
            outcome = attempt()
        except SecureMessagingError as e:
            if session.recover(protocol.value, str(e)):
                continue
            return AuthOutcome.not_performed(protocol, f"session lost: {e}")
        if (outcome.status is AuthStatus.FAILED and protocol is AuthProtocol.CHIP_AUTHENTICATION
                and not proof_retried):
            proof_retried = True
            if session.recover(protocol.value, f"proof failed once: {outcome.reason}"):
                continue
        return outcome


def active_authentication_step(session: ChipSession, result: ChipReadResult) -> None:
    """post_read hook: Active Authentication with DG15's key (:mod:`edge.icao.activeauth`).

    Stores the outcome in ``result.active_authentication``. Transport errors
    (card pulled) propagate; chip answers become outcomes.
    """
    t = session.clock()
    try:
        result.active_authentication = _recovering(
            session, AuthProtocol.ACTIVE_AUTHENTICATION, lambda: _active_authentication(session, result)
        )
    finally:
        session.timed_step(AuthProtocol.ACTIVE_AUTHENTICATION.value, t)


def chip_authentication_step(session: ChipSession, result: ChipReadResult) -> None:
    """post_read hook: Chip Authentication with DG14's key (:mod:`edge.icao.chipauth`),
    proved by re-reading EF.COM under the new keys. Stores the outcome in
    ``result.chip_authentication``."""
    t = session.clock()
    try:
        result.chip_authentication = _recovering(
            session, AuthProtocol.CHIP_AUTHENTICATION, lambda: _chip_authentication(session, result)
        )
    finally:
        session.timed_step(AuthProtocol.CHIP_AUTHENTICATION.value, t)


_PASSED = {AuthProtocol.CHIP_AUTHENTICATION: "ca_passed", AuthProtocol.ACTIVE_AUTHENTICATION: "aa_passed"}
_FAILED = {AuthProtocol.CHIP_AUTHENTICATION: "ca_failed", AuthProtocol.ACTIVE_AUTHENTICATION: "aa_failed"}


def check_from_outcome(outcome: AuthOutcome) -> Check:
    """The trust check for one clone-check outcome: only a verification that ran
    and failed is ``failed``; a protocol that could not run is ``not_checked``."""
    if outcome.status is AuthStatus.VERIFIED:
        return Check.make(CheckStatus.PASSED, _PASSED[outcome.protocol], outcome.reason)
    if outcome.status is AuthStatus.FAILED:
        return Check.make(CheckStatus.FAILED, _FAILED[outcome.protocol], outcome.reason)
    if outcome.status is AuthStatus.NOT_APPLICABLE:
        return Check.make(CheckStatus.NOT_APPLICABLE, "not_checked", outcome.reason)
    return Check.make(CheckStatus.NOT_CHECKED, "not_checked", outcome.reason)


# ------------------------------------------------------------------ identities
def _century_year(yy: int, personal_id: str | None) -> int:
    # The 12-digit ID's 4th digit gives the century (0/1 = 1900s, 2/3 = 2000s...).
    if personal_id and len(personal_id) == 12 and personal_id.isdigit():
        return 1900 + 100 * (int(personal_id[3]) // 2) + yy
    this = date.today().year % 100
    return (2000 if yy <= this else 1900) + yy


def _dmy(text: str | None) -> date | None:
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*", text)
    if not m:
        return None
    try:
        return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None


def _sex(text: str | None) -> Literal["M", "F"] | None:
    if not text:
        return None
    t = text.strip().lower()
    if t in ("nam", "m", "male"):
        return "M"
    if t in ("nữ", "nu", "f", "female"):
        return "F"
    return None


def identity_from_chip(read: ChipReadResult) -> IdentityFields | None:
    """Identity fields from DG13 (diacritics intact), each missing one from DG1's MRZ."""
    dg13, dg1 = read.dg13, read.dg1
    if dg13 is None and dg1 is None:
        return None
    m = dg1.mrz if dg1 is not None else None
    mrz_id = m.personal_id if m is not None else None
    mrz_name = None
    mrz_dob = None
    if m is not None:
        mrz_name = " ".join(p for p in (m.primary_identifier, m.secondary_identifier) if p) or None
        if m.date_of_birth.isdigit():
            try:
                yy, mm, dd = int(m.date_of_birth[:2]), int(m.date_of_birth[2:4]), int(m.date_of_birth[4:])
                mrz_dob = date(_century_year(yy, mrz_id), mm, dd)
            except ValueError:
                mrz_dob = None
    return IdentityFields(
        id_number=(dg13.id_number if dg13 is not None else None) or mrz_id,
        full_name=(dg13.full_name if dg13 is not None else None) or mrz_name,
        date_of_birth=(_dmy(dg13.date_of_birth) if dg13 is not None else None) or mrz_dob,
        sex=(_sex(dg13.sex) if dg13 is not None else None) or (_sex(m.sex) if m is not None else None),
    )


def identity_from_qr(record: CccdRecord) -> IdentityFields:
    """The QR record's identity fields (the QR always has all four)."""
    return IdentityFields(record.id_number, record.full_name, record.date_of_birth, record.sex)


# ------------------------------------------------------------------ entry point
def _passive(read: ChipReadResult, trust_store: TrustStore | None, at: datetime | None) -> TrustResult:
    sod = read.files.get(EF_SOD)
    if sod is None:
        why = read.file_status.get(EF_SOD, "not read")
        return TrustResult(
            {CheckName.SIGNATURE: Check.make(CheckStatus.NOT_CHECKED, "not_checked", f"EF.SOD: {why}")}
        )
    dgs = {fid - 0x0100: raw for fid, raw in read.files.items() if 0x0101 <= fid <= 0x0110}
    # The session already parsed EF.SOD with the same parser: verify that object.
    return verify_passive(read.sod if read.sod is not None else sod, dgs, trust_store=trust_store, at=at)


class ChipReading:
    """One card's reading, resumable across taps.

    :meth:`run` reads and verifies through a transport. When the card leaves
    the field mid-read it raises :class:`edge.icao.errors.CardRemovedError`
    and keeps what it read; :meth:`run` again with the new connection (the
    card put back within the visit) carries on from there: the same keys,
    no file read twice.
    """

    def __init__(
        self,
        keys: Sequence[AccessKey],
        *,
        trust_store: TrustStore | None,
        qr: CccdRecord | None = None,
        at: datetime | None = None,
        read_face: bool = True,
        clone_check: bool = True,
        max_response: int | None = None,
        sizer: ResponseSizer | None = None,
        max_recoveries: int = DEFAULT_MAX_RECOVERIES,
    ) -> None:
        self.keys = list(keys)
        self.trust_store, self.qr, self.at = trust_store, qr, at
        self.files = chip_files(read_face)
        # CA first: it proves the key and moves the session to stronger keys; AA then runs under them.
        self.hooks = (chip_authentication_step, active_authentication_step) if clone_check else ()
        self.max_response, self.sizer, self.max_recoveries = max_response, sizer, max_recoveries
        self.session: ChipSession | None = None

    def run(self, transport: Transport) -> ChipCheck:
        if self.session is None:
            self.session = ChipSession(transport, random=os.urandom, max_response=self.max_response,
                                       sizer=self.sizer, max_recoveries=self.max_recoveries)
        else:
            self.session.resume(transport)
        read = self.session.run(self.keys, self.files, self.hooks)
        return _verify(read, self.trust_store, self.qr, self.at)


def _verify(read: ChipReadResult, trust_store: TrustStore | None, qr: CccdRecord | None,
            at: datetime | None) -> ChipCheck:
    t = time.monotonic()
    trust = _passive(read, trust_store, at)
    for name, outcome in ((CheckName.CHIP_AUTHENTICATION, read.chip_authentication),
                          (CheckName.ACTIVE_AUTHENTICATION, read.active_authentication)):
        if outcome is not None:
            trust = trust.with_check(name, check_from_outcome(outcome))
    identity = identity_from_chip(read)
    if qr is not None:
        trust = trust.with_qr(True)
        if identity is not None:
            trust = trust.with_check(CheckName.CROSSCHECK, crosscheck(identity_from_qr(qr), identity))
    read.timings["passive_authentication"] = time.monotonic() - t

    face = read.dg2.image if read.dg2 is not None else None
    return ChipCheck(
        read=read,
        trust=trust,
        identity=identity,
        face_image=face.data if face is not None else None,
        face_mime=_MIME.get(face.image_type) if face is not None else None,
    )


def read_and_verify(
    transport: Transport,
    keys: Sequence[AccessKey],
    *,
    trust_store: TrustStore | None,
    qr: CccdRecord | None = None,
    at: datetime | None = None,
    read_face: bool = True,
    clone_check: bool = True,
    max_response: int | None = None,
    sizer: ResponseSizer | None = None,
) -> ChipCheck:
    """Read the card through ``transport`` and verify everything; see the module docstring.

    ``max_response`` caps the response size (the reader's configured maximum);
    ``sizer`` (one per reader, e.g. from :class:`edge.icao.sizing.SizeMemory`)
    starts where the last card on this reader ended and learns for the next one.
    """
    return ChipReading(keys, trust_store=trust_store, qr=qr, at=at, read_face=read_face,
                       clone_check=clone_check, max_response=max_response, sizer=sizer).run(transport)
