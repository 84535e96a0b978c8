"""Shared fixtures for the virtual-card tests: synthetic citizens and built profiles."""

from __future__ import annotations

import pytest

from simulators.population import Population
from simulators.vcard.lds_builder import build_chip_profile
from simulators.vcard.pki import build_test_pki


def parse_tlv(data: bytes) -> list[tuple[int, bytes]]:
    """Minimal BER-TLV splitter (multi-byte tags, definite lengths) for test assertions."""
    out = []
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            while True:
                tag = (tag << 8) | data[i]
                i += 1
                if not data[i - 1] & 0x80:
                    break
        length = data[i]
        i += 1
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[i : i + n], "big")
            i += n
        out.append((tag, data[i : i + length]))
        i += length
    return out


def tlv_value(data: bytes, tag: int) -> bytes:
    ((t, v),) = parse_tlv(data)
    assert t == tag, hex(t)
    return v


@pytest.fixture(scope="session")
def population() -> Population:
    return Population(seed=7)


@pytest.fixture(scope="session")
def pki():
    return build_test_pki(seed=7)


@pytest.fixture(scope="session")
def citizen(population):
    # A citizen with an expiry, an old ID and a spouse, if the seed has one; else the first.
    for i in range(200):
        c = population.citizen(i)
        if c.expiry_date is not None and c.old_id_number and c.spouse_name:
            return c
    return population.citizen(0)


@pytest.fixture(scope="session")
def profile(citizen, pki):
    return build_chip_profile(citizen, pki=pki, seed=7)
