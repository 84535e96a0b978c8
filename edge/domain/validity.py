"""The card's validity by the age rule.

A card expires on the holder's birthday in the year they turn 25, 40 or 60 (and, under
the 2023 Law on Identification, 14 for children's cards). A card issued less than two
years before one of those ages stays valid until the next one; after 60 it never
expires. How the chip and MRZ write "no expiry" is not confirmed, so callers that need
the printed expiry (the BAC key) try :func:`expiry_candidates` in order.
"""

from __future__ import annotations

from datetime import date

# The Law on Identification 2023 took effect on 1 July 2024 ("thẻ căn cước").
LAW_2023_EFFECTIVE = date(2024, 7, 1)
MILESTONES_2014 = (25, 40, 60)
MILESTONES_2023 = (14, 25, 40, 60)


def birthday_in_year(date_of_birth: date, year: int) -> date:
    """The holder's birthday in ``year``; 29 February falls on 28 February in common years."""
    try:
        return date_of_birth.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 2, 28)


def milestones_for(issue_date: date) -> tuple[int, ...]:
    """The renewal ages of the law under which a card issued on ``issue_date`` was made."""
    return MILESTONES_2023 if issue_date >= LAW_2023_EFFECTIVE else MILESTONES_2014


def card_expiry(
    date_of_birth: date, issue_date: date, milestones: tuple[int, ...] | None = None
) -> date | None:
    """The day the card stops being valid, or None when it never expires."""
    for age in milestones or milestones_for(issue_date):
        expires = birthday_in_year(date_of_birth, date_of_birth.year + age)
        # Issued at least two years before this age: valid until it.
        if issue_date <= _add_years(expires, -2):
            return expires
    return None


def expiry_candidates(date_of_birth: date, issue_date: date | None) -> list[date | None]:
    """Expiry dates to try, most likely first, for deriving a BAC key from the QR alone.

    The first is the age rule under the law in force on the issue date; then the other
    law's answer; then every milestone birthday after the issue date (covers a wrong or
    missing issue date). None stands for "never expires": first when the age rule says
    so, otherwise last.
    """
    out: list[date | None] = []

    def add(candidate: date | None) -> None:
        if candidate not in out:
            out.append(candidate)

    if issue_date is not None:
        add(card_expiry(date_of_birth, issue_date))
        other = MILESTONES_2014 if milestones_for(issue_date) == MILESTONES_2023 else MILESTONES_2023
        add(card_expiry(date_of_birth, issue_date, other))
    for age in MILESTONES_2023:
        when = birthday_in_year(date_of_birth, date_of_birth.year + age)
        if issue_date is None or when > issue_date:
            add(when)
        if date_of_birth.month == 2 and date_of_birth.day == 29:
            # Some issuers may roll a 29 February birthday forward instead of back.
            try:
                date(date_of_birth.year + age, 2, 29)
            except ValueError:
                add(date(date_of_birth.year + age, 3, 1))
    if None not in out:
        out.append(None)
    return out
