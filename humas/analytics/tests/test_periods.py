from datetime import date

import pytest

from humas.analytics.periods import (
    MAX_DAYS,
    Period,
    PeriodError,
    last_days,
    last_month,
    month,
    parse,
)


def test_a_month_knows_its_length_and_reads_back_from_its_query():
    february = month(2028, 2)
    assert (february.first, february.last, february.days) == (
        date(2028, 2, 1),
        date(2028, 2, 29),
        29,
    )
    assert february.is_month
    assert february.query() == "bulan=2028-02"
    assert parse({"bulan": "2028-02"}, default=month(2020, 1)) == february


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    period = Period(date(2026, 3, 1), date(2026, 3, 10))
    assert period.previous() == Period(date(2026, 2, 19), date(2026, 2, 28))


def test_a_whole_month_is_compared_with_the_month_before():
    assert month(2026, 3).previous() == month(2026, 2)
    assert month(2026, 1).previous() == month(2025, 12)
    # Not a whole month: the same number of days right before.
    assert Period(date(2026, 3, 1), date(2026, 3, 30)).previous() == Period(
        date(2026, 1, 30), date(2026, 2, 28)
    )


def test_defaults_end_yesterday_or_cover_the_last_whole_month():
    assert last_days(date(2026, 1, 1), 28) == Period(date(2025, 12, 4), date(2025, 12, 31))
    assert last_month(date(2026, 1, 15)) == month(2025, 12)


def test_a_custom_range_is_read_and_missing_ends_fall_back_to_the_default():
    default = Period(date(2026, 1, 1), date(2026, 1, 31))
    assert parse({"dari": "2026-01-10", "sampai": "2026-01-12"}, default) == Period(
        date(2026, 1, 10), date(2026, 1, 12)
    )
    assert parse({"dari": "2026-01-20"}, default) == Period(date(2026, 1, 20), date(2026, 1, 31))
    assert parse({}, default) is default


@pytest.mark.parametrize(
    "params",
    [
        {"bulan": "2026-13"},
        {"bulan": "kemarin"},
        {"dari": "2026-02-30"},
        {"dari": "2026-02-10", "sampai": "2026-02-01"},
        {"dari": "2000-01-01", "sampai": "2026-01-01"},
    ],
)
def test_a_period_that_cannot_be_shown_is_refused_with_a_message(params):
    with pytest.raises(PeriodError) as refused:
        parse(params, default=month(2026, 1))
    assert str(refused.value)


def test_the_longest_period_is_accepted():
    assert (
        Period(
            date(2024, 1, 1),
            date(2024, 1, 1).fromordinal(date(2024, 1, 1).toordinal() + MAX_DAYS - 1),
        ).days
        == MAX_DAYS
    )
