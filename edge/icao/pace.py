"""PACE v2 (ICAO 9303 Part 11 §4.4, Appendix G), terminal side and card side.

Supported: generic mapping (GM) over ECDH on every standardized curve (ids
8..18) and over DH (ids 0..2), chip authentication mapping (CAM, ECDH) on
the terminal side; cipher suites 3DES, AES-128/192/256. Integrated mapping
(IM) is not implemented (no Vietnamese card is known to use it).

Randomness is injectable on both sides so Appendix G.1 is reproduced byte for
byte: the terminal draws sk_map_ifd then sk_dh_ifd; the card draws the nonce
s, then sk_map_ic, then sk_dh_ic.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from edge.icao import crypto, tlv
from edge.icao.apdu import CommandApdu, ResponseApdu
from edge.icao.crypto import AES128, AES192, AES256, TDES, CipherSpec
from edge.icao.der import decode_oid, encode_oid
from edge.icao.errors import AuthenticationError, IcaoError, TlvError
from edge.icao.groups import CurveParams, DhGroup, GroupError, parameters
from edge.icao.lds.security_infos import ID_PACE, PaceInfo
from edge.icao.sm import SmContext

RandomSource = Callable[[int], bytes]
SendPlain = Callable[[CommandApdu], ResponseApdu]

PASSWORD_MRZ = 1
PASSWORD_CAN = 2

_MAPPINGS: dict[int, tuple[Literal["DH", "ECDH"], Literal["GM", "IM", "CAM"]]] = {
    1: ("DH", "GM"), 2: ("ECDH", "GM"), 3: ("DH", "IM"), 4: ("ECDH", "IM"), 6: ("ECDH", "CAM"),
}
_CIPHERS: dict[int, CipherSpec] = {1: TDES, 2: AES128, 3: AES192, 4: AES256}


class PaceError(AuthenticationError):
    """PACE failed; ``sw`` holds the card's status word when it refused."""

    def __init__(self, message: str, sw: int | None = None) -> None:
        super().__init__(message)
        self.sw = sw


@dataclass(frozen=True)
class PaceProtocol:
    """A PACE protocol OID decoded: key agreement, mapping, cipher suite."""

    oid: str
    agreement: Literal["DH", "ECDH"]
    mapping: Literal["GM", "IM", "CAM"]
    spec: CipherSpec

    @classmethod
    def from_oid(cls, oid: str) -> PaceProtocol:
        arcs = oid.split(".")
        if not oid.startswith(ID_PACE + ".") or len(arcs) != 11:
            raise PaceError(f"{oid} is not a PACE protocol")
        m, c = int(arcs[9]), int(arcs[10])
        if m not in _MAPPINGS or c not in _CIPHERS:
            raise PaceError(f"unknown PACE protocol {oid}")
        agreement, mapping = _MAPPINGS[m]
        return cls(oid, agreement, mapping, _CIPHERS[c])

    @property
    def oid_bytes(self) -> bytes:
        return encode_oid(self.oid)


def password_key(ref: int, value: str) -> bytes:
    """K from the password: SHA-1(MRZ information) for MRZ, the CAN's ASCII for CAN."""
    if ref == PASSWORD_MRZ:
        return hashlib.sha1(value.encode("ascii")).digest()
    if ref == PASSWORD_CAN:
        return value.encode("ascii")
    raise PaceError(f"unsupported password reference {ref}")


# ------------------------------------------------------------ group adapter
class _Group:
    """Uniform operations over an EC curve or a DH group for PACE."""

    def __init__(self, params: CurveParams | DhGroup) -> None:
        self.params = params
        self.ec = isinstance(params, CurveParams)

    @property
    def order(self) -> int:
        return self.params.n if isinstance(self.params, CurveParams) else self.params.q

    @property
    def generator(self) -> object:
        return self.params.generator if isinstance(self.params, CurveParams) else self.params.g

    def exp(self, k: int, base: object) -> object:
        if isinstance(self.params, CurveParams):
            return self.params.mul(k, base)  # type: ignore[arg-type]
        return pow(base, k, self.params.p)  # type: ignore[call-overload]

    def op(self, a: object, b: object) -> object:
        if isinstance(self.params, CurveParams):
            return self.params.add(a, b)  # type: ignore[arg-type]
        return (a * b) % self.params.p  # type: ignore[operator]

    def identity(self, a: object) -> bool:
        return a is None if self.ec else a == 1

    def encode(self, a: object) -> bytes:
        if isinstance(self.params, CurveParams):
            return self.params.encode(a)  # type: ignore[arg-type]
        return self.params.encode(a)  # type: ignore[arg-type]

    def decode(self, data: bytes) -> object:
        try:
            return self.params.decode(data)
        except GroupError as e:
            raise PaceError(f"invalid public key from the other side: {e}") from e

    def secret(self, a: object) -> bytes:
        """The shared secret bytes: x-coordinate (EC) or the element (DH)."""
        if self.identity(a):
            raise PaceError("shared secret is the identity")
        if isinstance(self.params, CurveParams):
            x: int = a[0]  # type: ignore[index]
            return x.to_bytes(self.params.size, "big")
        return self.params.encode(a)  # type: ignore[arg-type]

    def scalar(self, random: RandomSource) -> int:
        n = self.order
        k = int.from_bytes(random((n.bit_length() + 7) // 8), "big")
        return k if 0 < k < n else k % (n - 1) + 1

    @property
    def pk_tag(self) -> int:
        return 0x86 if self.ec else 0x84


def _auth_token(proto: PaceProtocol, group: _Group, ks_mac: bytes, other_pk: bytes) -> bytes:
    data = tlv.encode(0x7F49, tlv.encode(0x06, proto.oid_bytes) + tlv.encode(group.pk_tag, other_pk))
    if not proto.spec.is_aes:
        data = crypto.pad(data)
    return crypto.mac(proto.spec, ks_mac, data)


def _k_pi(proto: PaceProtocol, password: bytes) -> bytes:
    return crypto.kdf(password, crypto.KDF_PI, proto.spec)


def _session(proto: PaceProtocol, k: bytes) -> SmContext:
    return SmContext(
        proto.spec,
        crypto.kdf(k, crypto.KDF_ENC, proto.spec),
        crypto.kdf(k, crypto.KDF_MAC, proto.spec),
        0,
    )


def mse_set_at(proto: PaceProtocol, password_ref: int, parameter_id: int | None = None) -> CommandApdu:
    """MSE:Set AT for PACE (tag 84 only when a parameter id must be named)."""
    data = tlv.encode(0x80, proto.oid_bytes) + tlv.encode(0x83, bytes((password_ref,)))
    if parameter_id is not None:
        data += tlv.encode(0x84, bytes((parameter_id,)))
    return CommandApdu(0x00, 0x22, 0xC1, 0xA4, data)


def _ga(inner: bytes, last: bool = False) -> CommandApdu:
    return CommandApdu(0x00 if last else 0x10, 0x86, 0x00, 0x00, tlv.encode(0x7C, inner), ne=256)


def _dyn(data: bytes, where: str) -> list[tlv.Tlv]:
    try:
        outer, end = tlv.decode(data)
        if outer.tag != 0x7C or end != len(data):
            raise TlvError("not a single dynamic authentication data object 7C")
        return outer.children()
    except TlvError as e:
        raise PaceError(f"{where}: {e}") from e


def _get(objs: list[tlv.Tlv], tag: int, where: str) -> bytes:
    o = tlv.find(objs, tag)
    if o is None:
        raise PaceError(f"{where}: tag {tag:02X} missing")
    return o.value


@dataclass
class PaceResult:
    """Outcome of PACE on the terminal: the SM session and what the chip sent."""

    sm: SmContext
    protocol: PaceProtocol
    parameter_id: int
    car: bytes | None = None  # certification authority reference (87), if any
    chip_authentication_data: bytes | None = None  # CAM: decrypted CA_IC
    pk_map_ic: bytes = b""
    pk_dh_ic: bytes = b""


@dataclass
class PaceTerminal:
    """Terminal side of PACE. ``run`` performs MSE:Set AT and the four GAs."""

    password: bytes = field(repr=False)  # K (see password_key); never printed
    password_ref: int
    protocol: PaceProtocol
    parameter_id: int
    random: RandomSource = os.urandom
    send_parameter_id: bool = False

    def run(self, send: SendPlain) -> PaceResult:
        proto = self.protocol
        if proto.mapping == "IM":
            raise PaceError("integrated mapping is not supported")
        try:
            group = _Group(parameters(self.parameter_id))
        except GroupError as e:
            raise PaceError(str(e)) from e
        if group.ec != (proto.agreement == "ECDH"):
            raise PaceError("protocol and domain parameters disagree (DH vs ECDH)")

        def exchange(cmd: CommandApdu, step: str) -> list[tlv.Tlv] | None:
            resp = send(cmd)
            if not resp.ok:
                raise PaceError(f"PACE {step} refused (SW {resp.sw:04X})", resp.sw)
            return _dyn(resp.data, step) if cmd.ins == 0x86 else None

        pid = self.parameter_id if self.send_parameter_id else None
        exchange(mse_set_at(proto, self.password_ref, pid), "MSE:Set AT")
        # 1. encrypted nonce
        objs = exchange(_ga(b""), "GA encrypted nonce") or []
        z = _get(objs, 0x80, "GA encrypted nonce")
        if len(z) % proto.spec.block_size or not z:
            raise PaceError("encrypted nonce has a wrong length")
        s = int.from_bytes(crypto.decrypt_cbc(proto.spec, _k_pi(proto, self.password), z), "big")
        # 2. generic mapping
        sk_map = group.scalar(self.random)
        pk_map = group.encode(group.exp(sk_map, group.generator))
        objs = exchange(_ga(tlv.encode(0x81, pk_map)), "GA map nonce") or []
        pk_map_ic_raw = _get(objs, 0x82, "GA map nonce")
        h = group.exp(sk_map, group.decode(pk_map_ic_raw))
        if group.identity(h):
            raise PaceError("mapping shared secret is the identity")
        g_tilde = group.op(group.exp(s, group.generator), h)
        # 3. key agreement on the mapped generator
        sk_dh = group.scalar(self.random)
        pk_dh = group.encode(group.exp(sk_dh, g_tilde))
        objs = exchange(_ga(tlv.encode(0x83, pk_dh)), "GA key agreement") or []
        pk_dh_ic_raw = _get(objs, 0x84, "GA key agreement")
        if pk_dh_ic_raw == pk_dh:
            raise PaceError("chip returned the terminal's own public key")
        k = group.secret(group.exp(sk_dh, group.decode(pk_dh_ic_raw)))
        sm = _session(proto, k)
        # 4. mutual authentication
        t_ifd = _auth_token(proto, group, sm.ks_mac, pk_dh_ic_raw)
        objs = exchange(_ga(tlv.encode(0x85, t_ifd), last=True), "GA mutual authentication") or []
        t_ic = _get(objs, 0x86, "GA mutual authentication")
        if not hmac.compare_digest(t_ic, _auth_token(proto, group, sm.ks_mac, pk_dh)):
            raise PaceError("chip authentication token does not verify")
        result = PaceResult(sm, proto, self.parameter_id, pk_map_ic=pk_map_ic_raw, pk_dh_ic=pk_dh_ic_raw)
        car = tlv.find(objs, 0x87)
        result.car = car.value if car else None
        if proto.mapping == "CAM":
            a_ic = _get(objs, 0x8A, "GA mutual authentication (CAM)")
            iv = crypto.aes_ecb_encrypt_block(sm.ks_enc, b"\xff" * 16)
            try:
                result.chip_authentication_data = crypto.unpad(
                    crypto.decrypt_cbc(proto.spec, sm.ks_enc, a_ic, iv)
                )
            except crypto.CryptoError as e:
                raise PaceError(f"CAM data cannot be decrypted: {e}") from e
        return result


def verify_cam(result: PaceResult, static_public_key: bytes) -> bool:
    """PACE-CAM check: PK_Map,IC == CA_IC * PK_IC (the static key from
    EF.CardSecurity, uncompressed point). The caller must still verify that
    key by passive authentication."""
    if result.chip_authentication_data is None:
        return False
    curve = parameters(result.parameter_id)
    if not isinstance(curve, CurveParams):
        return False
    ca = int.from_bytes(result.chip_authentication_data, "big")
    pk_ic = curve.decode(static_public_key)
    return curve.encode(curve.mul(ca, pk_ic)) == result.pk_map_ic


# ----------------------------------------------------------------- card side
class PaceCardError(IcaoError):
    """A protocol violation on the card side; ``sw`` is what the card answers."""

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(message)
        self.sw = sw


@dataclass
class PaceCard:
    """Card side of PACE (GM, ECDH or DH).

    ``passwords`` maps a password reference (1 MRZ, 2 CAN) to K;
    ``supported`` lists the PACEInfos the card advertises in EF.CardAccess;
    ``car`` is the CVCA reference sent in the last step (tag 87) if any.
    """

    passwords: dict[int, bytes] = field(repr=False)
    supported: list[PaceInfo]
    random: RandomSource = os.urandom
    car: bytes | None = None
    _state: int = field(default=-1, init=False)

    def mse_set_at(self, data: bytes) -> None:
        """Select protocol and password; raises PaceCardError (6A80/6A88)."""
        try:
            objs = tlv.decode_all(data)
        except TlvError as e:
            raise PaceCardError(f"malformed MSE:Set AT: {e}", 0x6A80) from e
        oid_do, ref_do = tlv.find(objs, 0x80), tlv.find(objs, 0x83)
        if oid_do is None or ref_do is None or len(ref_do.value) != 1:
            raise PaceCardError("MSE:Set AT lacks 80 or 83", 0x6A80)
        try:
            oid = decode_oid(oid_do.value)
        except TlvError as e:
            raise PaceCardError("bad protocol OID", 0x6A80) from e
        matches = [i for i in self.supported if i.protocol == oid]
        pid_do = tlv.find(objs, 0x84)
        if pid_do is not None:
            matches = [i for i in matches if i.parameter_id == int.from_bytes(pid_do.value, "big")]
        if not matches or matches[0].parameter_id is None:
            raise PaceCardError("protocol not supported", 0x6A80)
        ref = ref_do.value[0]
        if ref not in self.passwords:
            raise PaceCardError("password not available", 0x6A88)
        self._proto = PaceProtocol.from_oid(oid)
        if self._proto.mapping != "GM":
            raise PaceCardError("only generic mapping is implemented", 0x6A80)
        self._group = _Group(parameters(matches[0].parameter_id))
        self._password = self.passwords[ref]
        self._state = 0

    def abort(self) -> None:
        """Forget a PACE run in progress (the card lost power)."""
        self._state = -1

    def general_authenticate(self, cmd: CommandApdu) -> tuple[bytes, SmContext | None]:
        """One GENERAL AUTHENTICATE step: (response data, session when done).

        Raises PaceCardError with the SW to answer; a wrong password shows as
        a bad terminal token: 6300.
        """
        state = self._state
        if state < 0:
            raise PaceCardError("GENERAL AUTHENTICATE without MSE:Set AT", 0x6985)
        last = not cmd.cla & 0x10
        if last != (state == 3):
            self._state = -1
            raise PaceCardError("wrong command chaining", 0x6883)
        g, proto = self._group, self._proto
        # Any error, in the TLV or in a step, ends the run: the card answers it and waits for MSE:Set AT.
        try:
            objs = _dyn(cmd.data, "GA")
            if state == 0:
                if objs:
                    raise PaceCardError("first GA must be empty", 0x6A80)
                nonce = self.random(16 if proto.spec.is_aes else 8)
                self._s = int.from_bytes(nonce, "big")
                z = crypto.encrypt_cbc(proto.spec, _k_pi(proto, self._password), nonce)
                self._state = 1
                return tlv.encode(0x7C, tlv.encode(0x80, z)), None
            if state == 1:
                pk_map_ifd = g.decode(_get(objs, 0x81, "GA map"))
                sk = g.scalar(self.random)
                h = g.exp(sk, pk_map_ifd)
                if g.identity(h):
                    raise PaceCardError("mapping secret is the identity", 0x6A80)
                self._g_tilde = g.op(g.exp(self._s, g.generator), h)
                self._state = 2
                return tlv.encode(0x7C, tlv.encode(0x82, g.encode(g.exp(sk, g.generator)))), None
            if state == 2:
                self._pk_ifd = _get(objs, 0x83, "GA key agreement")
                pk_ifd = g.decode(self._pk_ifd)
                sk = g.scalar(self.random)
                self._pk_ic = g.encode(g.exp(sk, self._g_tilde))
                if self._pk_ic == self._pk_ifd:
                    raise PaceCardError("terminal sent the chip's key", 0x6A80)
                self._sm = _session(proto, g.secret(g.exp(sk, pk_ifd)))
                self._state = 3
                return tlv.encode(0x7C, tlv.encode(0x84, self._pk_ic)), None
            t_ifd = _get(objs, 0x85, "GA mutual authentication")
            self._state = -1
            if not hmac.compare_digest(t_ifd, _auth_token(proto, g, self._sm.ks_mac, self._pk_ic)):
                raise PaceCardError("terminal token does not verify (wrong password)", 0x6300)
            t_ic = _auth_token(proto, g, self._sm.ks_mac, self._pk_ifd)
            out = tlv.encode(0x86, t_ic)
            if self.car is not None:
                out += tlv.encode(0x87, self.car)
            return tlv.encode(0x7C, out), self._sm
        except PaceCardError:
            self._state = -1
            raise
        except PaceError as e:
            self._state = -1
            raise PaceCardError(str(e), 0x6A80) from e

