"""Symmetric primitives of ICAO 9303 Part 11 on top of ``cryptography``.

Hand-written only where the library has no ready function: the ISO/IEC
9797-1 MAC algorithm 3 ("retail MAC") built from single-DES primitives, the
DES parity adjustment and ISO/IEC 9797-1 padding method 2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from edge.icao.errors import IcaoError

KDF_ENC = 1  # counter for KSenc (9303-11 §9.7.1)
KDF_MAC = 2  # counter for KSmac
KDF_PI = 3  # counter for the PACE password key K_pi


class CryptoError(IcaoError):
    """Bad key sizes, bad padding and similar local crypto failures."""


@dataclass(frozen=True)
class CipherSpec:
    """A secure-messaging cipher suite: '3DES' or 'AES' with a key length."""

    name: str  # "3DES" or "AES"
    key_length: int  # bytes: 16 for 3DES (two-key), 16/24/32 for AES

    @property
    def block_size(self) -> int:
        return 8 if self.name == "3DES" else 16

    @property
    def is_aes(self) -> bool:
        return self.name == "AES"


TDES = CipherSpec("3DES", 16)
AES128 = CipherSpec("AES", 16)
AES192 = CipherSpec("AES", 24)
AES256 = CipherSpec("AES", 32)


def pad(data: bytes, block: int = 8) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80 then zeros to a block boundary."""
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % block)


def unpad(data: bytes) -> bytes:
    """Remove method-2 padding; CryptoError when it is absent or malformed."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise CryptoError("invalid ISO 9797-1 method 2 padding")
    return stripped[:-1]


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's lowest bit so the byte has odd parity (DES keys)."""
    out = bytearray()
    for b in key:
        hi = b & 0xFE
        out.append(hi | (bin(hi).count("1") % 2 == 0))
    return bytes(out)


def kdf(secret: bytes, counter: int, spec: CipherSpec) -> bytes:
    """Key derivation function of 9303-11 §9.7.1.

    SHA-1 for 3DES and AES-128, SHA-256 for AES-192/256; 3DES keys are the
    first 16 bytes with DES parity adjusted (Ka || Kb, two-key 3DES).
    """
    d = secret + counter.to_bytes(4, "big")
    if spec.name == "3DES":
        return adjust_parity(hashlib.sha1(d).digest()[:16])
    if spec.key_length == 16:
        return hashlib.sha1(d).digest()[:16]
    return hashlib.sha256(d).digest()[: spec.key_length]


def _tdes_key(key: bytes) -> bytes:
    if len(key) == 16:
        return key + key[:8]
    if len(key) in (8, 24):
        return key * 3 if len(key) == 8 else key
    raise CryptoError(f"3DES key of {len(key)} bytes")


def _cipher(spec: CipherSpec, key: bytes, iv: bytes) -> Cipher:  # type: ignore[type-arg]
    if spec.is_aes:
        if len(key) not in (16, 24, 32):
            raise CryptoError(f"AES key of {len(key)} bytes")
        return Cipher(algorithms.AES(key), modes.CBC(iv))
    return Cipher(TripleDES(_tdes_key(key)), modes.CBC(iv))


def encrypt_cbc(spec: CipherSpec, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """CBC encryption of block-aligned data (IV zero unless given)."""
    if len(data) % spec.block_size:
        raise CryptoError("data not block aligned")
    enc = _cipher(spec, key, iv or bytes(spec.block_size)).encryptor()
    return enc.update(data) + enc.finalize()


def decrypt_cbc(spec: CipherSpec, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """CBC decryption of block-aligned data (IV zero unless given)."""
    if len(data) % spec.block_size:
        raise CryptoError("ciphertext not block aligned")
    dec = _cipher(spec, key, iv or bytes(spec.block_size)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_ecb_encrypt_block(key: bytes, block: bytes) -> bytes:
    """E(K, block): one AES block, used for the SM IV = E(KSenc, SSC)."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _des_ecb(key8: bytes, block: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(TripleDES(key8 * 3), modes.ECB())
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(block) + op.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES (the caller pads the data).

    Single-DES CBC with Ka over every block, then decrypt with Kb and
    encrypt with Ka on the last block.
    """
    if len(key) != 16:
        raise CryptoError("retail MAC needs a 16-byte key")
    if len(data) % 8 or not data:
        raise CryptoError("retail MAC input must be padded to 8-byte blocks")
    ka, kb = key[:8], key[8:]
    enc = Cipher(TripleDES(ka * 3), modes.CBC(bytes(8))).encryptor()
    h = (enc.update(data) + enc.finalize())[-8:]
    return _des_ecb(ka, _des_ecb(kb, h, decrypt=True))


def aes_cmac8(key: bytes, data: bytes) -> bytes:
    """AES-CMAC truncated to 8 bytes (9303-11 §9.8.6.2)."""
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()[:8]


def mac(spec: CipherSpec, key: bytes, data: bytes) -> bytes:
    """The 8-byte MAC of the suite over already formatted data.

    3DES: retail MAC, the caller pads the data (method 2) beforehand;
    AES: CMAC over the data as given.
    """
    if spec.is_aes:
        return aes_cmac8(key, data)
    return retail_mac(key, data)
