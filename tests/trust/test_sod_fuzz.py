"""The EF.SOD parser on arbitrary bytes: a SOD or SODParseError, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.trust import SODParseError, parse_sod, verify_passive
from edge.trust.sod import SOD
from tests.trust.conftest import read

REAL = read("gmrtd_pa/NZ_EF_SOD.bin")  # BER indefinite lengths: the trickiest parser path
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_own_error(data: bytes) -> None:
    try:
        assert isinstance(parse_sod(data), SOD)
    except SODParseError:
        pass


@SETTINGS
@given(st.binary(max_size=600))
def test_sod_parser_on_arbitrary_bytes_returns_or_raises_its_own_error(data):
    _parse_or_own_error(data)
    _parse_or_own_error(b"\x77" + data)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(REAL) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_sod_parser_on_mutated_real_sod(mutations):
    b = bytearray(REAL)
    for i, v in mutations:
        b[i] = v
    _parse_or_own_error(bytes(b))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, len(REAL) - 1))
def test_verification_of_truncated_or_mutated_sod_never_raises(cut):
    verify_passive(REAL[:cut])
    b = bytearray(REAL)
    b[cut] ^= 0xFF
    verify_passive(bytes(b))
