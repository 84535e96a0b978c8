"""Key derivation for secure messaging (ICAO 9303 Part 11 §9.7.1).

``K = H(Z || c)`` with a 32-bit big-endian counter c: 1 for K_Enc, 2 for K_MAC
(3 for K_pi, unused here). SHA-1 for 3DES and AES-128, SHA-256 for AES-192/256.
Kept local until the icao worktree's edge/icao/crypto.py is merged (the lead
deduplicates).
"""

from __future__ import annotations

import hashlib

KEY_LENGTHS = {"3DES": 16, "AES-128": 16, "AES-192": 24, "AES-256": 32}


def _adjust_des_parity(key: bytes) -> bytes:
    # DES keys carry odd parity in each byte's low bit.
    return bytes((b & 0xFE) | ((bin(b >> 1).count("1") + 1) & 1) for b in key)


def kdf(shared_secret: bytes, counter: int, cipher: str) -> bytes:
    """Derive one key for ``cipher`` ("3DES", "AES-128", "AES-192", "AES-256")."""
    if cipher not in KEY_LENGTHS:
        raise ValueError(f"unknown cipher {cipher!r}")
    h = hashlib.sha1 if cipher in ("3DES", "AES-128") else hashlib.sha256
    key = h(shared_secret + counter.to_bytes(4, "big")).digest()[: KEY_LENGTHS[cipher]]
    return _adjust_des_parity(key) if cipher == "3DES" else key


def kdf_enc(shared_secret: bytes, cipher: str) -> bytes:
    return kdf(shared_secret, 1, cipher)


def kdf_mac(shared_secret: bytes, cipher: str) -> bytes:
    return kdf(shared_secret, 2, cipher)
