"""Minimal elliptic-curve arithmetic for curves ``cryptography`` lacks.

``cryptography`` (OpenSSL) only exposes brainpoolP256/384/512r1 and the NIST
curves, but eMRTDs also use brainpoolP160/192/224/320r1 (e.g. the BSI 2008
test passport signs with brainpoolP224r1). For those curves only, this module
verifies ECDSA and computes ECDH x-coordinates on public data. It is not
constant-time: it must never hold long-term secrets of a deployed system
(the card-side helpers use it only for test keys of the virtual card).
"""

from __future__ import annotations

from edge.trust._curves import Curve

Point = tuple[int, int] | None  # None is the point at infinity


def _add(c: Curve, P: Point, Q: Point) -> Point:
    if P is None:
        return Q
    if Q is None:
        return P
    p = c.p
    (x1, y1), (x2, y2) = P, Q
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        lam = (3 * x1 * x1 + c.a) * pow(2 * y1, -1, p) % p
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, p) % p
    x3 = (lam * lam - x1 - x2) % p
    return x3, (lam * (x1 - x3) - y1) % p


def mul(c: Curve, k: int, P: Point) -> Point:
    """k·P by double-and-add."""
    R: Point = None
    while k:
        if k & 1:
            R = _add(c, R, P)
        P = _add(c, P, P)
        k >>= 1
    return R


def on_curve(c: Curve, P: Point) -> bool:
    if P is None:
        return False
    x, y = P
    return 0 <= x < c.p and 0 <= y < c.p and (y * y - (x * x * x + c.a * x + c.b)) % c.p == 0


def decode_point(c: Curve, data: bytes) -> tuple[int, int]:
    """Uncompressed SEC1 point -> (x, y); raises ValueError otherwise."""
    L = c.byte_len
    if len(data) != 1 + 2 * L or data[0] != 4:
        raise ValueError("only uncompressed points are supported on this curve")
    P = (int.from_bytes(data[1 : 1 + L], "big"), int.from_bytes(data[1 + L :], "big"))
    if not on_curve(c, P):
        raise ValueError("point is not on the curve")
    return P


def encode_point(c: Curve, P: tuple[int, int]) -> bytes:
    L = c.byte_len
    return b"\x04" + P[0].to_bytes(L, "big") + P[1].to_bytes(L, "big")


def _hash_to_int(c: Curve, digest: bytes) -> int:
    e = int.from_bytes(digest, "big")
    excess = len(digest) * 8 - c.n.bit_length()
    return e >> excess if excess > 0 else e


def ecdsa_verify(c: Curve, Q: tuple[int, int], digest: bytes, r: int, s: int) -> bool:
    """ECDSA verification (SEC1 §4.1.4) of a precomputed digest."""
    n = c.n
    if not (0 < r < n and 0 < s < n):
        return False
    w = pow(s, -1, n)
    e = _hash_to_int(c, digest)
    X = _add(c, mul(c, e * w % n, (c.gx, c.gy)), mul(c, r * w % n, Q))
    return X is not None and X[0] % n == r


def ecdsa_sign(c: Curve, d: int, digest: bytes, k: int) -> tuple[int, int]:
    """ECDSA signature with the given nonce k (test keys only, see module doc)."""
    n = c.n
    R = mul(c, k, (c.gx, c.gy))
    assert R is not None
    r = R[0] % n
    s = pow(k, -1, n) * (_hash_to_int(c, digest) + r * d) % n
    return r, s
