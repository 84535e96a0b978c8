"""Secure messaging (ICAO 9303 Part 11 §9.8), 3DES and AES, both sides.

Terminal: :meth:`SmContext.protect_command` / :meth:`SmContext.unprotect_response`.
Card: :meth:`SmContext.unprotect_command` / :meth:`SmContext.protect_response`.
Each call increments the send sequence counter (SSC) first. For AES the IV is
E(KSenc, SSC); for 3DES it is zero. A bad MAC or a malformed structure raises
:class:`SecureMessagingError`: the caller must drop the session, never retry.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from edge.icao import crypto, tlv
from edge.icao.apdu import ApduError, CommandApdu, ResponseApdu
from edge.icao.crypto import CipherSpec
from edge.icao.errors import SecureMessagingError, TlvError

__all__ = ["SecureMessagingError", "SmContext", "max_plain_response", "protected_response_length"]


def _le_bytes(ne: int, extended: bool) -> bytes:
    if extended or ne > 256:
        return (ne & 0xFFFF).to_bytes(2, "big")
    return bytes((ne & 0xFF,))


def _le_from_do97(value: bytes) -> int:
    if len(value) == 1:
        return value[0] or 256
    if len(value) == 2:
        return int.from_bytes(value, "big") or 65536
    if not value:
        return 256
    raise SecureMessagingError("DO'97' of more than two bytes")


def protected_response_length(plain: int, block_size: int) -> int:
    """Length of the protected response data for ``plain`` bytes of answer.

    DO'87' (tag, length, 01, padded ciphertext) + DO'99' (4 bytes) + DO'8E'
    (10 bytes, an 8-byte MAC); SW1 SW2 are outside Ne.
    """
    if plain == 0:
        return 4 + 10
    padded = (plain // block_size + 1) * block_size
    return 1 + len(tlv.encode_length(padded + 1)) + 1 + padded + 4 + 10


def max_plain_response(budget: int, block_size: int) -> int:
    """Largest plain READ BINARY length whose protected response fits ``budget``."""
    best = 0
    n = max(1, budget - 40)
    while n <= budget:
        if protected_response_length(n, block_size) <= budget:
            best = n
        n += 1
    return best


@dataclass
class SmContext:
    """Session keys and the send sequence counter of one SM session."""

    spec: CipherSpec
    ks_enc: bytes
    ks_mac: bytes
    ssc: int

    def __repr__(self) -> str:  # never print keys
        return f"SmContext(spec={self.spec.name}-{self.spec.key_length * 8}, keys=<redacted>)"

    @property
    def _bs(self) -> int:
        return self.spec.block_size

    def ssc_bytes(self) -> bytes:
        return self.ssc.to_bytes(self._bs, "big")

    def _iv(self) -> bytes:
        if self.spec.is_aes:
            return crypto.aes_ecb_encrypt_block(self.ks_enc, self.ssc_bytes())
        return bytes(8)

    def _mac(self, data: bytes) -> bytes:
        return crypto.mac(self.spec, self.ks_mac, crypto.pad(self.ssc_bytes() + data, self._bs))

    def _encrypt(self, data: bytes) -> bytes:
        return crypto.encrypt_cbc(self.spec, self.ks_enc, crypto.pad(data, self._bs), self._iv())

    def _decrypt(self, data: bytes) -> bytes:
        try:
            return crypto.unpad(crypto.decrypt_cbc(self.spec, self.ks_enc, data, self._iv()))
        except crypto.CryptoError as e:
            raise SecureMessagingError(f"cannot decrypt DO'87': {e}") from e

    def _increment(self) -> None:
        self.ssc = (self.ssc + 1) % (1 << (8 * self._bs))

    def count_lost_response(self) -> None:
        """The card answered but the answer never arrived (a reader overflow):
        count it, so the next command is in step with the card's SSC."""
        self._increment()

    # ----------------------------------------------------------- terminal
    def protect_command(self, apdu: CommandApdu) -> CommandApdu:
        """Wrap a plain command (terminal side)."""
        self._increment()
        header = bytes((apdu.cla | 0x0C, apdu.ins, apdu.p1, apdu.p2))
        body = b""
        if apdu.data:
            if apdu.ins & 1:  # odd INS: BER-TLV data, DO'85' without padding indicator
                body += tlv.encode(0x85, self._encrypt(apdu.data))
            else:
                body += tlv.encode(0x87, b"\x01" + self._encrypt(apdu.data))
        extended = apdu.extended
        if apdu.ne is not None:
            body += tlv.encode(0x97, _le_bytes(apdu.ne, extended))
        cc = self._mac(crypto.pad(header, self._bs) + body)
        body += tlv.encode(0x8E, cc)
        return CommandApdu(
            header[0], apdu.ins, apdu.p1, apdu.p2, body,
            ne=65536 if extended else 256, force_extended=extended,
        )

    def unprotect_response(self, raw: bytes) -> ResponseApdu:
        """Verify and decrypt a protected response (terminal side)."""
        self._increment()
        try:
            resp = ResponseApdu.from_bytes(raw)
        except ApduError as e:
            raise SecureMessagingError(str(e)) from e
        if not resp.data:
            # Cards answer SM failures (6987/6988) and some errors in plain,
            # but a success or warning must carry a MAC: a plain 9000 could be
            # injected by anyone on the radio link.
            if resp.sw == 0x9000 or resp.sw >> 8 in (0x61, 0x62, 0x63):
                raise SecureMessagingError(f"unprotected {resp.sw:04X} response under SM")
            return resp
        try:
            objs = tlv.decode_all(resp.data)
        except TlvError as e:
            raise SecureMessagingError(f"malformed SM response: {e}") from e
        mac_input = b""
        cc: bytes | None = None
        enc: bytes | None = None
        sw = resp.sw
        for o in objs:
            if cc is not None:
                raise SecureMessagingError("data object after DO'8E'")
            if o.tag == 0x8E:
                cc = o.value
                continue
            mac_input += o.encode()
            if o.tag == 0x87:
                if not o.value or o.value[0] != 0x01:
                    raise SecureMessagingError("DO'87' without padding indicator 01")
                enc = o.value[1:]
            elif o.tag == 0x85:
                enc = o.value
            elif o.tag == 0x99:
                if len(o.value) != 2:
                    raise SecureMessagingError("DO'99' must hold two bytes")
                sw = int.from_bytes(o.value, "big")
            else:
                raise SecureMessagingError(f"unexpected data object {o.tag:X} in SM response")
        if cc is None:
            raise SecureMessagingError("SM response without DO'8E' (MAC)")
        if not hmac.compare_digest(cc, self._mac(mac_input)):
            raise SecureMessagingError("SM response MAC does not verify")
        data = self._decrypt(enc) if enc else b""
        return ResponseApdu(data, sw)

    # --------------------------------------------------------------- card
    def unprotect_command(self, apdu: CommandApdu) -> CommandApdu:
        """Verify and decrypt a protected command (card side)."""
        self._increment()
        if apdu.cla & 0x0C != 0x0C:
            raise SecureMessagingError("command is not protected")
        header = bytes((apdu.cla, apdu.ins, apdu.p1, apdu.p2))
        try:
            objs = tlv.decode_all(apdu.data)
        except TlvError as e:
            raise SecureMessagingError(f"malformed SM command: {e}") from e
        body = b""
        cc: bytes | None = None
        enc: bytes | None = None
        ne: int | None = None
        for o in objs:
            if cc is not None:
                raise SecureMessagingError("data object after DO'8E'")
            if o.tag == 0x8E:
                cc = o.value
                continue
            body += o.encode()
            if o.tag == 0x87:
                if not o.value or o.value[0] != 0x01:
                    raise SecureMessagingError("DO'87' without padding indicator 01")
                enc = o.value[1:]
            elif o.tag == 0x85:
                enc = o.value
            elif o.tag == 0x97:
                ne = _le_from_do97(o.value)
            else:
                raise SecureMessagingError(f"unexpected data object {o.tag:X} in SM command")
        if cc is None:
            raise SecureMessagingError("SM command without DO'8E'")
        if not hmac.compare_digest(cc, self._mac(crypto.pad(header, self._bs) + body)):
            raise SecureMessagingError("SM command MAC does not verify")
        data = self._decrypt(enc) if enc else b""
        return CommandApdu(apdu.cla & ~0x0C & 0xFF, apdu.ins, apdu.p1, apdu.p2, data, ne)

    def protect_response(self, resp: ResponseApdu) -> bytes:
        """Wrap a plain response (card side): DO'87' + DO'99' + DO'8E' + SW."""
        self._increment()
        body = b""
        if resp.data:
            body += tlv.encode(0x87, b"\x01" + self._encrypt(resp.data))
        body += tlv.encode(0x99, resp.sw.to_bytes(2, "big"))
        body += tlv.encode(0x8E, self._mac(body))
        return body + resp.sw.to_bytes(2, "big")
