"""Terminal-side reading flow against any Transport.

EF.CardAccess first (plain, by file id) -> PACE if offered (CAN or MRZ keys,
in the order given) else BAC (MRZ keys in order; each failure costs a round
trip) -> SELECT the eMRTD application -> read the requested files ->
:class:`ChipReadResult` with the raw bytes of each file (for passive
authentication), the parsed data groups, the access method, per-step timing
and APDU accounting.

Field-true reading:

* response sizes come from a :class:`edge.icao.sizing.ResponseSizer` (the
  configured maximum, else the transport's hint), which shrinks when the
  reader or card refuses a size; pass one sizer per reader to keep what it
  learned for the next card;
* session recovery: when the card drops secure messaging (6987/6988, a bad
  MAC, a card reset shows as either) the session re-authenticates with the
  key that opened the chip and the files resume from where they stopped (the
  files already read are kept), at most ``max_recoveries`` times per read;
  each one is listed in ``result.recoveries``;
* resumable across taps: a :class:`CardRemovedError` leaves the session as
  far as it got; :meth:`ChipSession.resume` with the new connection and
  :meth:`ChipSession.run` again carry on (no file is read twice).

Hooks for Chip Authentication / Active Authentication: the session exposes
``sm`` (the current secure-messaging context, replaceable after CA),
``transmit_secure`` and ``read_raw``; ``post_read`` callables run after reading
with the session and the result. The clone checks' protocol steps are
:mod:`edge.icao.chipauth` and :mod:`edge.icao.activeauth`; their typed
outcomes are stored in ``result.chip_authentication`` and
``result.active_authentication``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edge.icao import bac, pace
from edge.icao.access import AccessKey
from edge.icao.apdu import CommandApdu, ResponseApdu, StatusError, Transport
from edge.icao.channel import Channel
from edge.icao.errors import AuthenticationError, LdsError, SecureMessagingError
from edge.icao.files import FileProgress, FileReadError, read_progress, select_application
from edge.icao.lds.com import Com, parse_com
from edge.icao.lds.dg1 import Dg1, parse_dg1
from edge.icao.lds.dg2 import Dg2, parse_dg2
from edge.icao.lds.dg13 import Dg13, parse_dg13
from edge.icao.lds.dg14 import parse_dg14
from edge.icao.lds.dg15 import Dg15, parse_dg15
from edge.icao.lds.security_infos import PaceInfo, SecurityInfos, parse_security_infos
from edge.icao.lds.sod import Sod, parse_sod
from edge.icao.lds.tags import AID_EMRTD, EF_CARD_ACCESS, EF_COM, EF_SOD, dg_fid, file_name
from edge.icao.outcome import AuthOutcome
from edge.icao.sizing import ResponseSizer
from edge.icao.sm import SmContext

DEFAULT_FILES: tuple[int, ...] = (
    EF_COM, dg_fid(1), dg_fid(2), dg_fid(13), dg_fid(14), dg_fid(15), EF_SOD,
)


class AccessDeniedError(AuthenticationError):
    """No key opened the chip. ``attempts`` says what was tried."""

    def __init__(self, attempts: list[AccessAttempt]) -> None:
        super().__init__(f"no access key opened the chip ({len(attempts)} attempts)")
        self.attempts = attempts


DEFAULT_MAX_RECOVERIES = 3
# PACE refusals that mean "the card lost the protocol state" (a glitch mid-PACE), not a wrong password.
_PACE_RETRY_SW = frozenset({0x6985, 0x6987, 0x6988, 0x6F00})


@dataclass(frozen=True)
class AccessAttempt:
    method: str  # "PACE-CAN", "PACE-MRZ", "BAC"
    key_source: str
    ok: bool
    sw: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Recovery:
    """One re-authentication after the card dropped the session."""

    step: str  # the step that was interrupted ("DG2", "access", "chip_authentication"...)
    reason: str


@dataclass
class ChipReadResult:
    """Everything read from one card. Holds personal data: never log it whole."""

    access_method: str = ""
    access_key_source: str = ""
    attempts: list[AccessAttempt] = field(default_factory=list)
    card_access: bytes | None = None
    security_infos: SecurityInfos | None = None
    files: dict[int, bytes] = field(default_factory=dict)  # raw, by file id
    file_status: dict[int, str] = field(default_factory=dict)  # files not read, and why
    parse_errors: dict[int, str] = field(default_factory=dict)
    com: Com | None = None
    dg1: Dg1 | None = None
    dg2: Dg2 | None = None
    dg13: Dg13 | None = None
    dg14: SecurityInfos | None = None
    dg15: Dg15 | None = None
    sod: Sod | None = None
    pace: pace.PaceResult | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    #: per step: {"apdus": n, "bytes": sent + received} (same step names as timings)
    step_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    apdu_count: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    chip_authentication: AuthOutcome | None = None  # None: not attempted (no clone check asked)
    active_authentication: AuthOutcome | None = None
    recoveries: list[Recovery] = field(default_factory=list)
    resumes: int = 0  # times the read went on over a new connection (card put back)
    response_budget: int = 0  # the largest response the reader carried, as learned
    size_history: list[str] = field(default_factory=list)  # each shrink of the response size, and why

    def raw(self, name: str) -> bytes | None:
        """Raw bytes by name ('DG1', 'EF.SOD', ...)."""
        for fid, data in self.files.items():
            if file_name(fid) == name:
                return data
        return None

    def __repr__(self) -> str:
        names = [file_name(f) for f in self.files]
        return (
            f"ChipReadResult(access={self.access_method}, files={names}, "
            f"apdus={self.apdu_count}, <redacted>)"
        )


_PARSERS: dict[int, tuple[str, Callable[[bytes], object]]] = {
    EF_COM: ("com", parse_com),
    dg_fid(1): ("dg1", parse_dg1),
    dg_fid(2): ("dg2", parse_dg2),
    dg_fid(13): ("dg13", parse_dg13),
    dg_fid(14): ("dg14", parse_dg14),
    dg_fid(15): ("dg15", parse_dg15),
    EF_SOD: ("sod", parse_sod),
}

PostReadHook = Callable[["ChipSession", ChipReadResult], None]


def _pace_choice(infos: SecurityInfos) -> PaceInfo | None:
    """The first PACEInfo we can run (GM or CAM with a standard parameter id)."""
    for info in infos.pace:
        try:
            proto = pace.PaceProtocol.from_oid(info.protocol)
        except pace.PaceError:
            continue
        if proto.mapping in ("GM", "CAM") and info.parameter_id is not None:
            return info
    return None


@dataclass(frozen=True)
class _Opened:
    """How the chip was opened: what a recovery repeats."""

    method: str
    key: AccessKey
    pace_info: PaceInfo | None


class ChipSession:
    """One reading session with one card through a Transport (resumable on a new one)."""

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[int], bytes] = os.urandom,
        max_response: int | None = None,
        sizer: ResponseSizer | None = None,
        max_recoveries: int = DEFAULT_MAX_RECOVERIES,
    ) -> None:
        self.channel = Channel(transport)
        self.clock = clock
        self.random = random
        self.max_response = max_response
        self.sizer = sizer or ResponseSizer.start(max_response, extended_hint=self.channel.extended_length)
        self.max_recoveries = max_recoveries
        self.result = ChipReadResult()
        self._mark = (0, 0)  # APDUs and bytes at the end of the previous step
        self._opened: _Opened | None = None
        self._progress: dict[int, FileProgress] = {}
        self._hooks_done: set[int] = set()

    # ------------------------------------------------------------- hooks
    @property
    def sm(self) -> SmContext | None:
        """The current secure-messaging context (Chip Authentication replaces it)."""
        return self.channel.sm

    @sm.setter
    def sm(self, ctx: SmContext | None) -> None:
        self.channel.sm = ctx

    def transmit_secure(self, cmd: CommandApdu) -> ResponseApdu:
        """Send one command under secure messaging (for CA / AA)."""
        return self.channel.transmit_secure(cmd)

    def read_raw(self, fid: int) -> bytes:
        """SELECT and read one file whole on the current channel (the CA proof read)."""
        return read_progress(self.channel, FileProgress(fid), self.sizer)

    # ------------------------------------------------------------- steps
    def _timed(self, step: str, start: float) -> None:
        """Close a step: its time, and the APDUs/bytes since the previous step ended.

        Public for post_read hooks (CA/AA) so their cost is accounted alike.
        """
        self.result.timings[step] = self.result.timings.get(step, 0.0) + self.clock() - start
        st = self.channel.stats
        now = (st.commands, st.bytes_sent + st.bytes_received)
        acc = self.result.step_stats.setdefault(step, {"apdus": 0, "bytes": 0})
        acc["apdus"] += now[0] - self._mark[0]
        acc["bytes"] += now[1] - self._mark[1]
        self._mark = now

    timed_step = _timed

    def read_card_access(self) -> SecurityInfos | None:
        """Read EF.CardAccess unauthenticated; None when the card has none."""
        t = self.clock()
        try:
            raw = read_progress(self.channel, FileProgress(EF_CARD_ACCESS), self.sizer)
        except (StatusError, FileReadError) as e:
            self.result.file_status[EF_CARD_ACCESS] = str(e)
            return None
        finally:
            self._timed("card_access", t)
        self.result.file_status.pop(EF_CARD_ACCESS, None)
        self.result.card_access = raw
        try:
            self.result.security_infos = parse_security_infos(raw)
        except LdsError as e:
            self.result.parse_errors[EF_CARD_ACCESS] = str(e)
            return None
        return self.result.security_infos

    def _pace(self, info: PaceInfo, key: AccessKey) -> None:
        """One PACE run with one key; sets the session. Raises PaceError."""
        proto = pace.PaceProtocol.from_oid(info.protocol)
        assert info.parameter_id is not None
        ref = pace.PASSWORD_CAN if key.kind == "can" else pace.PASSWORD_MRZ
        term = pace.PaceTerminal(pace.password_key(ref, key.value), ref, proto, info.parameter_id, self.random)
        res = term.run(self.channel.transmit_plain)
        self.channel.sm = res.sm
        self.result.pace = res

    def _try_pace(self, info: PaceInfo, keys: list[AccessKey]) -> bool:
        """Try PACE with each key; False if PACE itself is unusable."""
        for key in keys:
            method = "PACE-CAN" if key.kind == "can" else "PACE-MRZ"
            while True:
                try:
                    self._pace(info, key)
                except pace.PaceError as e:
                    self.result.attempts.append(AccessAttempt(method, key.source, False, e.sw, str(e)))
                    if e.sw in _PACE_RETRY_SW and self._may_recover():
                        # The card lost PACE's state mid-protocol (a glitch): the same key again.
                        self.result.recoveries.append(Recovery("access", str(e)))
                        continue
                    if e.sw is not None and e.sw not in (0x6300,) and e.sw & 0xFFF0 != 0x63C0:
                        return False  # refused for another reason than the password
                    break
                self._opened = _Opened(method, key, info)
                self.result.access_method, self.result.access_key_source = method, key.source
                self.result.attempts.append(AccessAttempt(method, key.source, True))
                return True
        return True

    def _try_bac(self, keys: list[AccessKey]) -> bool:
        for key in keys:
            if key.kind != "mrz":
                continue
            try:
                ctx = bac.BacTerminal(key.value, self.random).run(self.channel.transmit_plain)
            except StatusError as e:
                self.result.attempts.append(AccessAttempt("BAC", key.source, False, e.sw, str(e)))
                if e.sw in (0x6D00, 0x6E00):
                    return False  # no BAC on this card
                continue
            except AuthenticationError as e:
                sw = getattr(e, "sw", None)
                self.result.attempts.append(AccessAttempt("BAC", key.source, False, sw, str(e)))
                continue
            self.channel.sm = ctx
            self._opened = _Opened("BAC", key, None)
            self.result.access_method, self.result.access_key_source = "BAC", key.source
            self.result.attempts.append(AccessAttempt("BAC", key.source, True))
            return True
        return False

    def authenticate(self, keys: Sequence[AccessKey]) -> str:
        """PACE if EF.CardAccess offers it, else (or if PACE is unusable) BAC.

        Returns the method used; raises AccessDeniedError when no key works.
        """
        keys = list(keys)
        infos = self.read_card_access()
        t = self.clock()
        try:
            info = _pace_choice(infos) if infos is not None else None
            pace_usable = info is not None and self._try_pace(info, keys)
            if self.channel.sm is not None:
                self._select_application_after_pace()
                return self.result.access_method
            if not pace_usable:
                # No PACE (or the chip refused the protocol): BAC runs inside
                # the selected application. When PACE rejected the passwords
                # themselves, BAC with the same keys would fail too.
                select_application(self.channel)
                if self._try_bac(keys):
                    return self.result.access_method
            raise AccessDeniedError(self.result.attempts)
        finally:
            self._timed("access", t)

    def _select_application_after_pace(self) -> None:
        while True:
            try:
                select_application(self.channel)
                return
            except SecureMessagingError as e:
                self._timed("access", self.clock())
                if not self.recover("access", str(e)):
                    raise

    # ------------------------------------------------------------- recovery
    def _may_recover(self) -> bool:
        return len(self.result.recoveries) < self.max_recoveries

    def _reopen(self) -> None:
        """Open the chip again with the key that opened it, and select the application."""
        assert self._opened is not None
        self.channel.sm = None
        for progress in self._progress.values():
            progress.selected = False
        opened = self._opened
        # A plain command ends whatever session the card still holds (it answers 6988
        # and aborts, 9303-11 §9.8); with none left, it simply selects the application.
        selected = self.channel.transmit_plain(CommandApdu(0x00, 0xA4, 0x04, 0x0C, AID_EMRTD)).sw == 0x9000
        if opened.pace_info is not None:
            self._pace(opened.pace_info, opened.key)
            select_application(self.channel)
            return
        if not selected:
            select_application(self.channel)
        self.channel.sm = bac.BacTerminal(opened.key.value, self.random).run(self.channel.transmit_plain)

    def recover(self, step: str, reason: str) -> bool:
        """The card dropped the session during ``step``: re-authenticate with the same key.

        False when no recovery is left (or the chip was never opened); the
        caller then lets the error stand. Card removal propagates.
        """
        while self._opened is not None and self._may_recover():
            self.result.recoveries.append(Recovery(step, reason))
            t = self.clock()
            try:
                self._reopen()
                return True
            except (AuthenticationError, StatusError, SecureMessagingError) as e:
                reason = f"re-authentication failed: {e}"
            finally:
                self._timed("recovery", t)
        return False

    def resume(self, transport: Transport) -> None:
        """Carry on over a new connection (the card was lifted and put back)."""
        self.channel.transport = transport
        self.channel.sm = None
        for progress in self._progress.values():
            progress.selected = False
        self.result.resumes += 1

    # ------------------------------------------------------------- files
    def read_files(self, fids: Sequence[int]) -> None:
        """Read and parse each file; unreadable files are recorded, not fatal.

        A dropped session is recovered (bounded) and the file read resumes at
        the offset reached; files already read are never read again.
        """
        for fid in fids:
            if fid in self.result.files:
                continue
            name = file_name(fid)
            progress = self._progress.setdefault(fid, FileProgress(fid))
            while True:
                t = self.clock()
                try:
                    raw = read_progress(self.channel, progress, self.sizer)
                except StatusError as e:
                    self._timed(name, t)
                    self.result.file_status[fid] = f"{e.sw:04X} {e.meaning}"
                    break
                except FileReadError as e:
                    self._timed(name, t)
                    self.result.file_status[fid] = str(e)
                    break
                except SecureMessagingError as e:
                    self._timed(name, t)
                    if self.recover(name, str(e)):
                        continue
                    raise
                except BaseException:
                    self._timed(name, t)
                    raise
                self._timed(name, t)
                self.result.file_status.pop(fid, None)
                self.result.files[fid] = raw
                self._progress.pop(fid, None)
                if fid in _PARSERS:
                    attr, parser = _PARSERS[fid]
                    try:
                        setattr(self.result, attr, parser(raw))
                    except LdsError as e:
                        self.result.parse_errors[fid] = str(e)
                break

    def run(
        self,
        keys: Sequence[AccessKey],
        files: Sequence[int] = DEFAULT_FILES,
        post_read: Sequence[PostReadHook] = (),
    ) -> ChipReadResult:
        """The whole flow; see the module docstring. Called again after :meth:`resume`,
        it carries on where the previous connection stopped."""
        t0 = self.clock()
        try:
            if self._opened is None:
                self.authenticate(keys)
            elif self.channel.sm is None:
                t = self.clock()
                try:
                    self._reopen()
                finally:
                    self._timed("access", t)
            self.read_files(files)
            for i, hook in enumerate(post_read):
                if i not in self._hooks_done:
                    hook(self, self.result)
                    self._hooks_done.add(i)
        finally:
            self.result.timings["total"] = self.result.timings.get("total", 0.0) + self.clock() - t0
            st = self.channel.stats
            self.result.apdu_count = st.commands
            self.result.bytes_sent, self.result.bytes_received = st.bytes_sent, st.bytes_received
            self.result.response_budget = self.sizer.limit
            self.result.size_history = list(self.sizer.history)
        return self.result


def read_chip(
    transport: Transport,
    keys: Sequence[AccessKey],
    files: Sequence[int] = DEFAULT_FILES,
    post_read: Sequence[PostReadHook] = (),
    **options: object,
) -> ChipReadResult:
    """Convenience: ``ChipSession(transport, **options).run(keys, files, post_read)``."""
    return ChipSession(transport, **options).run(keys, files, post_read)  # type: ignore[arg-type]
