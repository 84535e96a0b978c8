"""Terminal-side reading flow against any Transport.

EF.CardAccess first (plain, by file id) -> PACE if offered (CAN or MRZ keys,
in the order given) else BAC (MRZ keys in order; each failure costs a round
trip) -> SELECT the eMRTD application -> read the requested files ->
:class:`ChipReadResult` with the raw bytes of each file (for passive
authentication), the parsed data groups, the access method, per-step timing
and APDU accounting.

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
from edge.icao.errors import AuthenticationError, LdsError
from edge.icao.files import FileReadError, read_file, select_application
from edge.icao.lds.com import Com, parse_com
from edge.icao.lds.dg1 import Dg1, parse_dg1
from edge.icao.lds.dg2 import Dg2, parse_dg2
from edge.icao.lds.dg13 import Dg13, parse_dg13
from edge.icao.lds.dg14 import parse_dg14
from edge.icao.lds.dg15 import Dg15, parse_dg15
from edge.icao.lds.security_infos import PaceInfo, SecurityInfos, parse_security_infos
from edge.icao.lds.sod import Sod, parse_sod
from edge.icao.lds.tags import EF_CARD_ACCESS, EF_COM, EF_SOD, dg_fid, file_name
from edge.icao.outcome import AuthOutcome
from edge.icao.sm import SmContext

DEFAULT_FILES: tuple[int, ...] = (
    EF_COM, dg_fid(1), dg_fid(2), dg_fid(13), dg_fid(14), dg_fid(15), EF_SOD,
)


class AccessDeniedError(AuthenticationError):
    """No key opened the chip. ``attempts`` says what was tried."""

    def __init__(self, attempts: list[AccessAttempt]) -> None:
        super().__init__(f"no access key opened the chip ({len(attempts)} attempts)")
        self.attempts = attempts


@dataclass(frozen=True)
class AccessAttempt:
    method: str  # "PACE-CAN", "PACE-MRZ", "BAC"
    key_source: str
    ok: bool
    sw: int | None = None
    reason: str = ""


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


class ChipSession:
    """One reading session with one card through a Transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[int], bytes] = os.urandom,
        max_response: int | None = None,
    ) -> None:
        self.channel = Channel(transport)
        self.clock = clock
        self.random = random
        self.max_response = max_response
        self.result = ChipReadResult()
        self._mark = (0, 0)  # APDUs and bytes at the end of the previous step

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
        return read_file(self.channel, fid, self.max_response)

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
            raw = read_file(self.channel, EF_CARD_ACCESS, self.max_response)
        except (StatusError, FileReadError) as e:
            self.result.file_status[EF_CARD_ACCESS] = str(e)
            return None
        finally:
            self._timed("card_access", t)
        self.result.card_access = raw
        try:
            self.result.security_infos = parse_security_infos(raw)
        except LdsError as e:
            self.result.parse_errors[EF_CARD_ACCESS] = str(e)
            return None
        return self.result.security_infos

    def _try_pace(self, info: PaceInfo, keys: list[AccessKey]) -> bool:
        """Try PACE with each key; False if PACE itself is unusable."""
        proto = pace.PaceProtocol.from_oid(info.protocol)
        assert info.parameter_id is not None
        for key in keys:
            ref = pace.PASSWORD_CAN if key.kind == "can" else pace.PASSWORD_MRZ
            method = "PACE-CAN" if key.kind == "can" else "PACE-MRZ"
            term = pace.PaceTerminal(
                pace.password_key(ref, key.value), ref, proto, info.parameter_id, self.random
            )
            try:
                res = term.run(self.channel.transmit_plain)
            except pace.PaceError as e:
                self.result.attempts.append(AccessAttempt(method, key.source, False, e.sw, str(e)))
                if e.sw is not None and e.sw not in (0x6300,) and e.sw & 0xFFF0 != 0x63C0:
                    return False  # refused for another reason than the password
                continue
            self.channel.sm = res.sm
            self.result.pace = res
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
                select_application(self.channel)
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

    def read_files(self, fids: Sequence[int]) -> None:
        """Read and parse each file; unreadable files are recorded, not fatal."""
        for fid in fids:
            name = file_name(fid)
            t = self.clock()
            try:
                raw = read_file(self.channel, fid, self.max_response)
            except StatusError as e:
                self.result.file_status[fid] = f"{e.sw:04X} {e.meaning}"
                continue
            except FileReadError as e:
                self.result.file_status[fid] = str(e)
                continue
            finally:
                self._timed(name, t)
            self.result.files[fid] = raw
            if fid in _PARSERS:
                attr, parser = _PARSERS[fid]
                try:
                    setattr(self.result, attr, parser(raw))
                except LdsError as e:
                    self.result.parse_errors[fid] = str(e)

    def run(
        self,
        keys: Sequence[AccessKey],
        files: Sequence[int] = DEFAULT_FILES,
        post_read: Sequence[PostReadHook] = (),
    ) -> ChipReadResult:
        """The whole flow; see the module docstring."""
        t0 = self.clock()
        try:
            self.authenticate(keys)
            self.read_files(files)
            for hook in post_read:
                hook(self, self.result)
        finally:
            self.result.timings["total"] = self.clock() - t0
            st = self.channel.stats
            self.result.apdu_count = st.commands
            self.result.bytes_sent, self.result.bytes_received = st.bytes_sent, st.bytes_received
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
