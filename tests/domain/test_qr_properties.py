"""Property tests: on any input the parser returns a record or its own error, nothing else."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.domain.messages import QrError
from edge.domain.qr import CccdRecord, parse_qr
from simulators.population import Population

TODAY = date(2026, 11, 23)


def outcome(payload):
    try:
        return parse_qr(payload, today=TODAY)
    except QrError as err:
        return err


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_arbitrary_text_gives_a_record_or_a_qr_error(text):
    assert isinstance(outcome(text), (CccdRecord, QrError))


@settings(max_examples=400, deadline=None)
@given(st.binary())
def test_arbitrary_bytes_give_a_record_or_a_qr_error(data):
    assert isinstance(outcome(data), (CccdRecord, QrError))


field = st.text(alphabet=st.characters(blacklist_characters="|"), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(field, st.from_regex(r"\A[0-9]{8,12}\Z")), min_size=5, max_size=12))
def test_pipe_separated_fields_of_any_shape_never_crash_the_parser(fields):
    assert isinstance(outcome("|".join(fields)), (CccdRecord, QrError))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=3))
def test_every_synthetic_card_parses_back_to_its_own_fields(index, seed):
    citizen = Population(seed).citizen(index)
    record = parse_qr(citizen.qr_payload(), today=TODAY)
    assert record.id_number == citizen.id_number
    assert record.full_name == citizen.full_name
    assert record.date_of_birth == citizen.date_of_birth
    assert record.sex == citizen.sex
    assert record.address == citizen.address
    assert record.old_id_number == citizen.old_id_number
    assert "id.sex_mismatch" not in record.warning_codes()
    assert "id.birth_year_mismatch" not in record.warning_codes()
