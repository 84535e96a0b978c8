"""A RandomSource that hands out given byte strings in order (for vectors)."""

from __future__ import annotations


class FixedRandom:
    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)

    def __call__(self, n: int) -> bytes:
        if not self._chunks:
            raise AssertionError("FixedRandom exhausted")
        chunk = self._chunks.pop(0)
        assert len(chunk) == n, f"asked {n} bytes, next fixed value has {len(chunk)}"
        return chunk
