"""The card's validity by the age rule, and the expiry candidates for a BAC key."""

from datetime import date

from edge.domain.validity import card_expiry, expiry_candidates


def test_card_issued_well_before_25_expires_on_the_25th_birthday():
    assert card_expiry(date(2000, 3, 10), date(2021, 6, 1)) == date(2025, 3, 10)


def test_card_issued_less_than_two_years_before_25_is_valid_until_40():
    assert card_expiry(date(2000, 3, 10), date(2023, 6, 1)) == date(2040, 3, 10)


def test_card_issued_exactly_two_years_before_the_age_expires_at_that_age():
    assert card_expiry(date(2000, 3, 10), date(2023, 3, 10)) == date(2025, 3, 10)


def test_card_issued_between_40_and_58_expires_at_60():
    assert card_expiry(date(1970, 1, 1), date(2021, 1, 1)) == date(2030, 1, 1)


def test_card_issued_after_58_never_expires():
    assert card_expiry(date(1960, 1, 1), date(2021, 1, 1)) is None


def test_2023_law_adds_the_age_of_14_for_childrens_cards():
    assert card_expiry(date(2015, 5, 5), date(2024, 8, 1)) == date(2029, 5, 5)
    # a 2014-law card has no 14 milestone
    assert card_expiry(date(2008, 5, 5), date(2021, 8, 1)) == date(2033, 5, 5)


def test_29_february_birthday_falls_on_28_february_in_common_years():
    assert card_expiry(date(2000, 2, 29), date(2021, 1, 1)) == date(2025, 2, 28)


def test_expiry_candidates_start_with_the_age_rule_and_end_with_no_expiry():
    cands = expiry_candidates(date(2000, 3, 10), date(2021, 6, 1))
    assert cands[0] == date(2025, 3, 10)
    assert cands[-1] is None
    assert len(cands) == len(set(cands))
    assert date(2040, 3, 10) in cands


def test_expiry_candidates_put_no_expiry_first_when_the_rule_says_so():
    cands = expiry_candidates(date(1950, 1, 1), date(2022, 1, 1))
    assert cands[0] is None
