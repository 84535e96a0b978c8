"""Basic Access Control (ICAO 9303 Part 11 §4.3 and Appendix D), both sides.

Randomness is injectable (``rnd_ifd``/``k_ifd`` on the terminal,
``random`` on the card) so tests reproduce Appendix D byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.icao import crypto
from edge.icao.apdu import CommandApdu, ResponseApdu
from edge.icao.crypto import TDES
from edge.icao.errors import AuthenticationError
from edge.icao.sm import SmContext

RandomSource = Callable[[int], bytes]
"""n -> n random bytes; os.urandom by default, fixed bytes in tests."""

SendPlain = Callable[[CommandApdu], ResponseApdu]

GET_CHALLENGE = CommandApdu(0x00, 0x84, 0x00, 0x00, ne=8)


def key_seed(mrz_information: str) -> bytes:
    """Kseed = first 16 bytes of SHA-1(MRZ information)."""
    return hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]


def derive_keys(seed: bytes) -> tuple[bytes, bytes]:
    """(Kenc, Kmac) or (KSenc, KSmac) from a 16-byte seed, parity adjusted."""
    return crypto.kdf(seed, crypto.KDF_ENC, TDES), crypto.kdf(seed, crypto.KDF_MAC, TDES)


def _session(k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes) -> SmContext:
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    ks_enc, ks_mac = derive_keys(seed)
    ssc = int.from_bytes(rnd_ic[4:8] + rnd_ifd[4:8], "big")
    return SmContext(TDES, ks_enc, ks_mac, ssc)


@dataclass
class BacTerminal:
    """Terminal side of BAC. ``run`` performs the two round trips."""

    mrz_information: str = field(repr=False)  # personal data: kept out of repr
    random: RandomSource = os.urandom

    def external_authenticate_command(self, rnd_ic: bytes) -> CommandApdu:
        """Build EXTERNAL AUTHENTICATE from the chip's challenge (D.3)."""
        if len(rnd_ic) != 8:
            raise AuthenticationError(f"GET CHALLENGE returned {len(rnd_ic)} bytes, not 8")
        self._kenc, self._kmac = derive_keys(key_seed(self.mrz_information))
        self._rnd_ic = rnd_ic
        self._rnd_ifd = self.random(8)
        self._k_ifd = self.random(16)
        s = self._rnd_ifd + rnd_ic + self._k_ifd
        e_ifd = crypto.encrypt_cbc(TDES, self._kenc, s)
        m_ifd = crypto.retail_mac(self._kmac, crypto.pad(e_ifd))
        return CommandApdu(0x00, 0x82, 0x00, 0x00, e_ifd + m_ifd, ne=40)

    def process_response(self, data: bytes) -> SmContext:
        """Verify the chip's cryptogram and derive the session (D.3)."""
        if len(data) != 40:
            raise AuthenticationError("EXTERNAL AUTHENTICATE response is not 40 bytes")
        e_ic, m_ic = data[:32], data[32:]
        if not hmac.compare_digest(m_ic, crypto.retail_mac(self._kmac, crypto.pad(e_ic))):
            raise AuthenticationError("chip cryptogram MAC does not verify")
        r = crypto.decrypt_cbc(TDES, self._kenc, e_ic)
        if r[:8] != self._rnd_ic or r[8:16] != self._rnd_ifd:
            raise AuthenticationError("chip cryptogram does not echo the challenges")
        return _session(self._k_ifd, r[16:32], self._rnd_ic, self._rnd_ifd)

    def run(self, send: SendPlain) -> SmContext:
        """GET CHALLENGE, EXTERNAL AUTHENTICATE; return the SM context.

        A wrong key (the chip answers 6300 or similar) raises
        AuthenticationError carrying the status word in ``sw``.
        """
        rnd_ic = send(GET_CHALLENGE).check("GET CHALLENGE")
        resp = send(self.external_authenticate_command(rnd_ic))
        if not resp.ok:
            err = AuthenticationError(f"BAC rejected by the chip (SW {resp.sw:04X})")
            err.sw = resp.sw  # type: ignore[attr-defined]
            raise err
        return self.process_response(resp.data)


@dataclass
class BacCard:
    """Card side of BAC: answers GET CHALLENGE and EXTERNAL AUTHENTICATE."""

    mrz_information: str = field(repr=False)
    random: RandomSource = os.urandom

    def __post_init__(self) -> None:
        self._rnd_ic: bytes | None = None

    def get_challenge(self) -> bytes:
        self._rnd_ic = self.random(8)
        return self._rnd_ic

    def external_authenticate(self, data: bytes) -> tuple[bytes, SmContext]:
        """Verify the terminal cryptogram; return (response data, session).

        Raises AuthenticationError (the card answers 6300) on a wrong key or
        when no challenge was issued.
        """
        rnd_ic, self._rnd_ic = self._rnd_ic, None  # a challenge is single use
        if rnd_ic is None or len(data) != 40:
            raise AuthenticationError("no challenge or wrong cryptogram length")
        kenc, kmac = derive_keys(key_seed(self.mrz_information))
        e_ifd, m_ifd = data[:32], data[32:]
        if not hmac.compare_digest(m_ifd, crypto.retail_mac(kmac, crypto.pad(e_ifd))):
            raise AuthenticationError("terminal cryptogram MAC does not verify")
        s = crypto.decrypt_cbc(TDES, kenc, e_ifd)
        rnd_ifd, k_ifd = s[:8], s[16:32]
        if s[8:16] != rnd_ic:
            raise AuthenticationError("terminal did not echo the challenge")
        k_ic = self.random(16)
        e_ic = crypto.encrypt_cbc(TDES, kenc, rnd_ic + rnd_ifd + k_ic)
        m_ic = crypto.retail_mac(kmac, crypto.pad(e_ic))
        return e_ic + m_ic, _session(k_ifd, k_ic, rnd_ic, rnd_ifd)
