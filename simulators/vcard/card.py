"""VirtualCard: the card side of the eMRTD protocols, for tests and vpcd.

Stable interface (used by the vcard worktree's PC/SC plumbing)::

    card = VirtualCard(files={0x011E: ef_com, 0x0101: dg1, ...},
                       can="012345", mrz_information="0990123459...")
    card.atr() -> bytes
    card.transmit(apdu: bytes) -> bytes   # raw response incl. SW1 SW2
    card.reset()                          # power cycle: drops the session

Behaviour follows the CCCD as documented in shared/domain/cccd.md: SELECT of
the master file (3F00) answers 6D00; EF.CardAccess (011C) is readable without
authentication; every application file needs BAC or PACE; DG3 answers 6982;
absent files (DG11) 6A82; once a session exists every command must be
protected, and a plain or badly MACed command answers 6988 and drops the
session. A wrong key answers 6300, after a delay that grows with the number
of consecutive failures (policy and sleep function injectable).

Hooks for the trust engineer: ``chip_auth_private_key`` (DG14) and
``aa_private_key`` (DG15) are stored on the card; ``handlers`` maps an INS to
a function ``(card, plain_command) -> ResponseApdu`` consulted first for
commands under secure messaging (INTERNAL AUTHENTICATE 88; MSE:Set AT 22 /
GENERAL AUTHENTICATE 86 for Chip Authentication). A handler that switches
keys (CA) sets ``card.pending_sm``: it takes effect after its own response
has been protected with the old keys.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from edge.icao import bac, pace, tlv
from edge.icao.apdu import ApduError, CommandApdu, ResponseApdu
from edge.icao.errors import AuthenticationError, LdsError, SecureMessagingError, TlvError
from edge.icao.files import b1_payload
from edge.icao.lds.security_infos import parse_security_infos
from edge.icao.lds.tags import AID_EMRTD, EF_CARD_ACCESS
from edge.icao.sm import SmContext, max_plain_response

# PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1 (parameter id 13), as seen on CCCDs.
DEFAULT_CARD_ACCESS = bytes.fromhex("31143012060A04007F0007020204020202010202010D")


def make_atr(historical: bytes) -> bytes:
    # PC/SC ATR of an ISO 14443-4 card: 3B 8n 80 01 <historical> TCK.
    body = bytes((0x80 | len(historical), 0x80, 0x01)) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes((tck,))


DEFAULT_ATR = make_atr(b"VCCCD\x00\x90\x00")

CardHandler = Callable[["VirtualCard", CommandApdu], ResponseApdu]
DelayPolicy = Callable[[int], float]

# Files that exist but need Extended Access Control (fingerprints, iris).
EAC_FILES = frozenset({0x0103, 0x0104})


def default_failure_delay(failures: int) -> float:
    """Seconds to wait before answering the n-th consecutive failure."""
    return 0.0 if failures < 3 else min(0.5 * 2 ** (failures - 3), 8.0)


def _sfi_to_fid(sfi: int) -> int:
    return {0x1C: 0x011C, 0x1D: 0x011D, 0x1E: 0x011E}.get(sfi, 0x0100 + sfi)


def _sw(sw: int) -> ResponseApdu:
    return ResponseApdu(b"", sw)


class VirtualCard:
    """Card side of SELECT, READ BINARY, BAC, PACE and secure messaging."""

    def __init__(
        self,
        files: dict[int, bytes],
        can: str | None = None,
        mrz_information: str | None = None,
        *,
        card_access: bytes | None = DEFAULT_CARD_ACCESS,
        bac_enabled: bool = True,
        extended_length: bool = True,
        max_response: int = 65536,
        random: Callable[[int], bytes] = os.urandom,
        failure_delay: DelayPolicy = default_failure_delay,
        sleep: Callable[[float], None] = time.sleep,
        atr: bytes = DEFAULT_ATR,
        chip_auth_private_key: object | None = None,
        aa_private_key: object | None = None,
        handlers: dict[int, CardHandler] | None = None,
        pace_car: bytes | None = None,
        refuse_above: int | None = None,
        short_reads: int | None = None,
    ) -> None:
        self._pace: pace.PaceCard | None = None
        self.files = dict(files)
        self.can = can
        self.mrz_information = mrz_information
        self.card_access = card_access
        self.extended_length = extended_length
        self.max_response = max_response
        # Hostile twins of the reading path: READ BINARY answers whose (protected) data
        # would exceed ``refuse_above`` bytes get 6700; ``short_reads`` answers at most
        # that many bytes with 6282 (end of file) even in mid-file.
        self.refuse_above = refuse_above
        self.short_reads = short_reads
        self.random = random
        self.failure_delay = failure_delay
        self.sleep = sleep
        self._atr = atr
        self.chip_auth_private_key = chip_auth_private_key
        self.aa_private_key = aa_private_key
        self.handlers: dict[int, CardHandler] = dict(handlers or {})
        self.failed_attempts = 0  # consecutive wrong keys
        self.sm: SmContext | None = None
        self.pending_sm: SmContext | None = None
        self._bac = (
            bac.BacCard(mrz_information, random) if bac_enabled and mrz_information else None
        )
        passwords: dict[int, bytes] = {}
        if can:
            passwords[pace.PASSWORD_CAN] = pace.password_key(pace.PASSWORD_CAN, can)
        if mrz_information:
            passwords[pace.PASSWORD_MRZ] = pace.password_key(pace.PASSWORD_MRZ, mrz_information)
        self._install_authentication_hooks()
        if card_access is not None:
            try:
                infos = parse_security_infos(card_access).pace
            except LdsError:
                infos = []
            if infos and passwords:
                self._pace = pace.PaceCard(passwords, infos, random, car=pace_car)
        self.reset()

    def _install_authentication_hooks(self) -> None:
        # Default CA / AA handlers when keys are given and no handler replaces them.
        from simulators.vcard import auth  # late: auth imports this module

        if self.aa_private_key is not None and 0x88 not in self.handlers:
            self.handlers[0x88] = auth.active_authentication_handler(self.aa_private_key)  # type: ignore[arg-type]
        if self.chip_auth_private_key is not None and 0x86 not in self.handlers:
            from edge.icao.lds.dg14 import parse_dg14

            try:
                cais = parse_dg14(self.files[0x010E]).chip_authentication
            except (KeyError, LdsError) as e:
                raise ValueError("Chip Authentication needs a DG14 with ChipAuthenticationInfo") from e
            if not cais:
                raise ValueError("DG14 has no ChipAuthenticationInfo")
            key = auth.as_ec_key(self.chip_auth_private_key)
            self.handlers.update(auth.chip_authentication_handlers(key, cais[0].protocol))

    # ------------------------------------------------------------ interface
    def atr(self) -> bytes:
        """The answer to reset."""
        return self._atr

    def drop_session(self) -> None:
        """Lose the secure-messaging session (a field glitch), as :meth:`reset` does."""
        self._drop()

    def reset(self) -> None:
        """Power cycle: no application selected, no session, no PACE run in progress."""
        if self._pace is not None:
            self._pace.abort()
        self.sm = None
        self.pending_sm = None
        self.app_selected = False
        self.current_ef: int | None = None

    def transmit(self, apdu: bytes) -> bytes:
        """Process one raw command APDU; return the raw response incl. SW."""
        try:
            cmd = CommandApdu.from_bytes(apdu)
        except ApduError:
            return b"\x67\x00"
        if cmd.extended and not self.extended_length:
            return b"\x67\x00"
        if self.sm is None:
            if cmd.cla & 0x0C == 0x0C:
                return b"\x69\x88"  # SM data objects without a session
            return self._dispatch(cmd, secure=False).to_bytes()
        if cmd.cla & 0x0C != 0x0C:
            self._drop()
            return b"\x69\x88"
        try:
            plain = self.sm.unprotect_command(cmd)
        except SecureMessagingError:
            self._drop()
            return b"\x69\x88"
        # The protected answer must fit the Ne of the protected command (and the card's limit).
        if plain.ins in (0xB0, 0xB1) and plain.ne is not None and cmd.ne is not None:
            fits = max_plain_response(min(cmd.ne, self.refuse_above or cmd.ne), self.sm.spec.block_size)
            if plain.ne > fits:
                return self.sm.protect_response(_sw(0x6700))
        session = self.sm
        resp = self._dispatch(plain, secure=True)
        if self.sm is not session:  # a handler dropped the session
            return resp.to_bytes()
        out = session.protect_response(resp)
        if self.pending_sm is not None:
            self.sm, self.pending_sm = self.pending_sm, None
        return out

    # ------------------------------------------------------------- internals
    def _drop(self) -> None:
        self.sm = None
        self.app_selected = False
        self.current_ef = None

    def _fail(self) -> ResponseApdu:
        self.failed_attempts += 1
        delay = self.failure_delay(self.failed_attempts)
        if delay > 0:
            self.sleep(delay)
        return _sw(0x6300)

    def _dispatch(self, cmd: CommandApdu, secure: bool) -> ResponseApdu:
        if secure and cmd.ins in self.handlers:
            return self.handlers[cmd.ins](self, cmd)
        if cmd.cla & 0x10 and cmd.ins != 0x86:
            return _sw(0x6884)  # chaining only for GENERAL AUTHENTICATE
        ins = cmd.ins
        if ins == 0xA4:
            return self._select(cmd)
        if ins in (0xB0, 0xB1):
            return self._read_binary(cmd, secure)
        if ins == 0x84:
            if self._bac is None or secure:
                return _sw(0x6D00)
            if cmd.ne != 8:
                return _sw(0x6700)
            return ResponseApdu(self._bac.get_challenge(), 0x9000)
        if ins == 0x82:
            if self._bac is None or secure:
                return _sw(0x6D00)
            try:
                data, ctx = self._bac.external_authenticate(cmd.data)
            except AuthenticationError:
                return self._fail()
            self.failed_attempts = 0
            self.sm = ctx  # the answer itself goes out in plain
            return ResponseApdu(data, 0x9000)
        if ins == 0x22 and not secure and (cmd.p1, cmd.p2) == (0xC1, 0xA4):
            if self._pace is None:
                return _sw(0x6A80)
            try:
                self._pace.mse_set_at(cmd.data)
            except pace.PaceCardError as e:
                return _sw(e.sw)
            return _sw(0x9000)
        if ins == 0x86 and not secure:
            if self._pace is None:
                return _sw(0x6985)
            try:
                data, pace_ctx = self._pace.general_authenticate(cmd)
            except pace.PaceCardError as e:
                return self._fail() if e.sw == 0x6300 else _sw(e.sw)
            if pace_ctx is not None:
                self.failed_attempts = 0
                self.sm = pace_ctx
                self.app_selected = False
                self.current_ef = None
            return ResponseApdu(data, 0x9000)
        return _sw(0x6D00)

    def _app_file(self, fid: int) -> bool:
        return fid != EF_CARD_ACCESS

    def _exists(self, fid: int) -> bool:
        if fid == EF_CARD_ACCESS:
            return self.card_access is not None
        return fid in self.files or fid in EAC_FILES

    def _select(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.p1 == 0x04:
            if cmd.data == AID_EMRTD:
                self.app_selected, self.current_ef = True, None
                return _sw(0x9000)
            return _sw(0x6A82)
        if cmd.p1 in (0x00, 0x02) and len(cmd.data) == 2:
            fid = int.from_bytes(cmd.data, "big")
            if fid == 0x3F00:
                return _sw(0x6D00)  # CCCD quirk: no SELECT MF
            if not self._exists(fid) or (self._app_file(fid) and not self.app_selected):
                return _sw(0x6A82)
            self.current_ef = fid
            return _sw(0x9000)
        if cmd.p1 == 0x00 and not cmd.data:
            return _sw(0x6D00)
        return _sw(0x6A86)

    def _content(self, fid: int) -> bytes:
        if fid == EF_CARD_ACCESS:
            return self.card_access or b""
        return self.files.get(fid, b"")

    def _read_binary(self, cmd: CommandApdu, secure: bool) -> ResponseApdu:
        fid = self.current_ef
        if cmd.ins == 0xB0:
            if cmd.p1 & 0x80:  # short EF identifier
                fid = _sfi_to_fid(cmd.p1 & 0x1F)
                if not self._exists(fid) or (self._app_file(fid) and not self.app_selected):
                    return _sw(0x6A82)
                self.current_ef = fid
                offset = cmd.p2
            else:
                offset = ((cmd.p1 & 0x7F) << 8) | cmd.p2
        else:
            try:
                objs = tlv.decode_all(cmd.data)
            except TlvError:
                return _sw(0x6A80)
            off_do = tlv.find(objs, 0x54)
            if off_do is None:
                return _sw(0x6A80)
            offset = int.from_bytes(off_do.value, "big")
        if fid is None:
            return _sw(0x6986)
        if fid in EAC_FILES or (self._app_file(fid) and not secure):
            return _sw(0x6982)
        content = self._content(fid)
        if offset > len(content):
            return _sw(0x6B00)
        ne = min(cmd.ne or 256, self.max_response)
        if not secure and self.refuse_above is not None and ne > self.refuse_above:
            return _sw(0x6700)
        if cmd.ins == 0xB1:
            ne = b1_payload(ne)  # the DO'53' wrapper counts against Ne
        data = content[offset : offset + ne]
        maximal = cmd.ne in (256, 65536)
        sw = 0x9000 if len(data) == ne or maximal else 0x6282
        if self.short_reads is not None and len(data) > self.short_reads:
            data, sw = data[: self.short_reads], 0x6282
        if cmd.ins == 0xB1:
            data = tlv.encode(0x53, data)
        return ResponseApdu(data, sw)
