import json
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from humas.lib import workdays
from humas.lib.workdays import WorkCalendar, deadline_state

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")


@pytest.fixture
def jakarta():
    return WorkCalendar("Asia/Jakarta")


def wib(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


# Days off


def test_idul_fitri_2025_and_its_collective_leave_are_not_working_days(jakarta):
    assert jakarta.day_off_reason(date(2025, 3, 31)) == "Hari Raya Idul Fitri"
    assert "Idul Fitri" in jakarta.day_off_reason(date(2025, 4, 1))
    for day in (date(2025, 4, 2), date(2025, 4, 3), date(2025, 4, 4), date(2025, 4, 7)):
        assert jakarta.day_off_reason(day) == workdays.CUTI_BERSAMA
    assert jakarta.is_working_day(date(2025, 4, 8))


def test_christmas_is_a_day_off_named_as_the_package_names_it_in_indonesian(jakarta):
    assert jakarta.day_off_reason(date(2025, 12, 25)) == "Hari Raya Natal"
    assert not jakarta.is_working_day(date(2025, 12, 25))


def test_a_weekend_day_says_so_and_an_ordinary_weekday_is_a_working_day(jakarta):
    assert jakarta.day_off_reason(date(2025, 10, 18)) == workdays.WEEKEND
    assert jakarta.day_off_reason(date(2025, 10, 19)) == workdays.WEEKEND
    assert jakarta.day_off_reason(date(2025, 10, 15)) is None
    assert jakarta.is_working_day(date(2025, 10, 15))


def test_a_holiday_on_a_sunday_is_reported_by_its_name_rather_than_as_a_weekend(jakarta):
    assert jakarta.day_off_reason(date(2025, 8, 17)) == "Hari Kemerdekaan Republik Indonesia"


def test_an_extra_day_off_of_the_organisation_is_not_a_working_day():
    regional = WorkCalendar("Asia/Jakarta", extra_days_off=[date(2025, 10, 20)])
    assert regional.day_off_reason(date(2025, 10, 20)) == workdays.EXTRA
    assert WorkCalendar("Asia/Jakarta").is_working_day(date(2025, 10, 20))


def test_a_custom_weekend_makes_saturday_a_working_day():
    six_days = WorkCalendar("Asia/Jakarta", weekend=(6,))
    assert six_days.is_working_day(date(2025, 10, 18))
    assert not six_days.is_working_day(date(2025, 10, 19))


def test_a_datetime_is_refused_where_a_local_date_is_expected(jakarta):
    with pytest.raises(TypeError, match="local_date"):
        jakarta.is_working_day(datetime(2025, 10, 15, 20, tzinfo=UTC))


# Working days


def test_a_complaint_on_monday_is_due_at_the_end_of_thursday_for_three_working_days(jakarta):
    assert jakarta.add_working_days(wib(2025, 10, 13, 10, 0), 3) == wib(2025, 10, 16, 16, 0)


def test_the_day_of_arrival_never_counts_even_before_the_office_opens(jakarta):
    assert jakarta.add_working_days(wib(2025, 10, 13, 6, 0), 1) == wib(2025, 10, 14, 16, 0)


def test_a_complaint_on_friday_evening_is_due_three_working_days_later_skipping_the_weekend(
    jakarta,
):
    assert jakarta.add_working_days(wib(2025, 10, 17, 19, 30), 3) == wib(2025, 10, 22, 16, 0)


def test_a_complaint_on_saturday_counts_from_monday(jakarta):
    assert jakarta.add_working_days(wib(2025, 10, 18, 11, 0), 1) == wib(2025, 10, 20, 16, 0)


def test_a_complaint_before_lebaran_2025_is_due_after_the_holidays_and_the_collective_leave(
    jakarta,
):
    # 28 Mar cuti bersama (Nyepi), 29-30 weekend, 31 Mar-1 Apr Idul Fitri, 2-4 and 7 Apr cuti
    # bersama, 5-6 weekend: the first three working days are 8, 9 and 10 April.
    due = jakarta.add_working_days(wib(2025, 3, 27, 10, 0), workdays.LAPOR_FORWARD_WORKING_DAYS)
    assert due == wib(2025, 4, 10, 16, 0)


def test_collective_leave_around_christmas_2026_is_skipped(jakarta):
    # 24 Dec 2026 is cuti bersama, 25 Dec Christmas, 26-27 the weekend.
    assert jakarta.add_working_days(wib(2026, 12, 23, 9, 0), 3) == wib(2026, 12, 30, 16, 0)


def test_a_follow_up_deadline_from_late_december_2025_runs_into_january_2026(jakarta):
    # 25 Dec Christmas, 26 Dec cuti bersama, 27-28 weekend, 1 Jan 2026 New Year.
    due = jakarta.add_working_days(wib(2025, 12, 24, 9, 0), workdays.LAPOR_FOLLOW_UP_WORKING_DAYS)
    assert due == wib(2026, 1, 5, 16, 0)


def test_an_extra_day_off_pushes_a_deadline_back_by_a_day():
    regional = WorkCalendar("Asia/Jakarta", extra_days_off=[date(2025, 10, 20)])
    assert regional.add_working_days(wib(2025, 10, 17, 19, 30), 1) == wib(2025, 10, 21, 16, 0)


def test_closing_a_report_takes_ten_working_days(jakarta):
    due = jakarta.add_working_days(wib(2025, 10, 13, 10, 0), workdays.LAPOR_CLOSE_WORKING_DAYS)
    assert due == wib(2025, 10, 27, 16, 0)


def test_the_same_utc_instant_falls_on_different_local_days_in_the_three_zones():
    # 16:30 UTC on Thursday is 23:30 Thursday in WIB but already Friday in WITA and WIT.
    instant = datetime(2025, 10, 16, 16, 30, tzinfo=UTC)
    expected = {
        "Asia/Jakarta": (date(2025, 10, 16), datetime(2025, 10, 17, 16, 0, tzinfo=WIB)),
        "Asia/Makassar": (date(2025, 10, 17), datetime(2025, 10, 20, 16, 0, tzinfo=WITA)),
        "Asia/Jayapura": (date(2025, 10, 17), datetime(2025, 10, 20, 16, 0, tzinfo=WIT)),
    }
    for zone, (local_day, due) in expected.items():
        calendar = WorkCalendar(zone)
        assert calendar.local_date(instant) == local_day, zone
        result = calendar.add_working_days(instant, 1)
        assert result == due, zone
        assert result.tzinfo == ZoneInfo(zone), zone


def test_first_response_hours_start_at_each_zones_own_opening_time():
    instant = datetime(2025, 10, 16, 16, 30, tzinfo=UTC)
    for zone in (WIB, WITA, WIT):
        result = WorkCalendar(zone.key).add_working_hours(instant, 2)
        assert result == datetime(2025, 10, 17, 10, 0, tzinfo=zone), zone.key


def test_deadlines_compare_correctly_with_utc_datetimes(jakarta):
    due = jakarta.add_working_days(datetime(2025, 10, 13, 3, 0, tzinfo=UTC), 1)
    assert due == datetime(2025, 10, 14, 9, 0, tzinfo=UTC)
    assert due.astimezone(UTC).hour == 9


def test_zero_or_negative_working_days_are_refused(jakarta):
    for days in (0, -3):
        with pytest.raises(ValueError, match="at least 1"):
            jakarta.add_working_days(wib(2025, 10, 13, 10, 0), days)
    with pytest.raises(TypeError):
        jakarta.add_working_days(wib(2025, 10, 13, 10, 0), 1.5)  # type: ignore[arg-type]


def test_a_naive_datetime_is_refused(jakarta):
    with pytest.raises(ValueError, match="timezone-aware"):
        jakarta.add_working_days(datetime(2025, 10, 13, 10, 0), 3)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        jakarta.working_hours_between(wib(2025, 10, 13, 10, 0), datetime(2025, 10, 14))  # noqa: DTZ001


# Working hours


def test_hours_roll_over_from_one_afternoon_into_the_next_morning(jakarta):
    assert jakarta.add_working_hours(wib(2025, 10, 13, 14, 0), 5) == wib(2025, 10, 14, 11, 0)


def test_a_message_before_opening_counts_from_opening_and_may_be_due_at_closing(jakarta):
    assert jakarta.add_working_hours(wib(2025, 10, 13, 6, 0), 8) == wib(2025, 10, 13, 16, 0)


def test_a_message_at_closing_time_counts_from_the_next_morning(jakarta):
    assert jakarta.add_working_hours(wib(2025, 10, 13, 16, 0), 1) == wib(2025, 10, 14, 9, 0)


def test_fractions_of_an_hour_are_kept(jakarta):
    assert jakarta.add_working_hours(wib(2025, 10, 13, 15, 0), 1.5) == wib(2025, 10, 14, 8, 30)


def test_a_message_on_friday_evening_before_a_long_weekend_is_answered_after_it(jakarta):
    # Saturday 16, Sunday 17 (Independence Day) and Monday 18 August 2025 (cuti bersama).
    assert jakarta.add_working_hours(wib(2025, 8, 15, 20, 0), 4) == wib(2025, 8, 19, 12, 0)


def test_a_message_on_the_friday_before_lebaran_2024_waits_for_the_whole_break(jakarta):
    # 8-9 Apr cuti bersama, 10-11 Idul Fitri, 12 and 15 cuti bersama, 13-14 the weekend.
    assert jakarta.add_working_hours(wib(2024, 4, 5, 20, 0), 4) == wib(2024, 4, 16, 12, 0)


def test_office_hours_can_be_set_per_organisation():
    early = WorkCalendar("Asia/Makassar", work_start=time(7, 30), work_end=time(16, 0))
    start = datetime(2025, 10, 13, 14, 0, tzinfo=WITA)
    assert early.add_working_hours(start, 4) == datetime(2025, 10, 14, 9, 30, tzinfo=WITA)


def test_zero_negative_or_not_a_number_hours_are_refused(jakarta):
    for hours in (0, -1, -0.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="positive"):
            jakarta.add_working_hours(wib(2025, 10, 13, 10, 0), hours)


# Measuring


def test_working_days_between_undoes_add_working_days(jakarta):
    start = wib(2025, 12, 19, 21, 0)
    for days in (1, 3, 5, 10):
        assert jakarta.working_days_between(start, jakarta.add_working_days(start, days)) == days


def test_a_resolution_on_the_next_working_day_is_one_working_day_late(jakarta):
    due = wib(2025, 10, 17, 16, 0)
    assert jakarta.working_days_between(due, wib(2025, 10, 17, 18, 0)) == 0
    assert jakarta.working_days_between(due, wib(2025, 10, 20, 9, 0)) == 1
    assert jakarta.working_days_between(due, wib(2025, 10, 13, 9, 0)) == -4


def test_working_hours_between_counts_only_office_hours_on_working_days(jakarta):
    assert jakarta.working_hours_between(wib(2025, 10, 17, 15, 0), wib(2025, 10, 20, 9, 0)) == 2
    # Across Christmas 2025 and its cuti bersama: 24 Dec 15:00-16:00, then 29 Dec 08:00-10:00.
    assert jakarta.working_hours_between(wib(2025, 12, 24, 15, 0), wib(2025, 12, 29, 10, 0)) == 3


def test_working_hours_between_undoes_add_working_hours_and_is_negative_backwards(jakarta):
    start = wib(2024, 4, 5, 20, 0)
    for hours in (0.5, 4, 8, 13.25, 40):
        end = jakarta.add_working_hours(start, hours)
        assert jakarta.working_hours_between(start, end) == pytest.approx(hours)
        assert jakarta.working_hours_between(end, start) == pytest.approx(-hours)


def test_a_deadline_is_ok_then_due_soon_then_breached():
    due = datetime(2025, 10, 16, 9, 0, tzinfo=UTC)
    warn = timedelta(hours=2)
    assert deadline_state(due - timedelta(hours=3), due, warn) == "ok"
    assert deadline_state(due - timedelta(hours=1), due, warn) == "due_soon"
    assert deadline_state(due, due, warn) == "due_soon"
    assert deadline_state(due + timedelta(seconds=1), due, warn) == "breached"
    assert deadline_state(due.astimezone(WIT), due, timedelta(0)) == "due_soon"


def test_a_negative_warning_window_is_refused():
    due = datetime(2025, 10, 16, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="negative"):
        deadline_state(due, due, timedelta(hours=-1))


# Configuration and data


def test_an_unknown_time_zone_or_inverted_office_hours_are_refused():
    with pytest.raises(ValueError, match="time zone"):
        WorkCalendar("Asia/Bandung")
    with pytest.raises(ValueError, match="before work_end"):
        WorkCalendar("Asia/Jakarta", work_start=time(16, 0), work_end=time(8, 0))
    with pytest.raises(ValueError, match="whole week"):
        WorkCalendar("Asia/Jakarta", weekend=range(7))


def test_2027_national_holidays_come_from_the_package_beyond_the_data_file(jakarta):
    assert jakarta.day_off_reason(date(2027, 8, 17)) == "Hari Kemerdekaan Republik Indonesia"
    # The 2027 decree is in the package's government category (holidays >= 0.105).
    assert jakarta.day_off_reason(date(2027, 12, 24)) == workdays.CUTI_BERSAMA


def test_a_year_whose_decree_is_not_known_has_no_collective_leave(jakarta):
    assert workdays.cuti_bersama(2040) == frozenset()
    assert jakarta.day_off_reason(date(2040, 12, 25)) == "Hari Raya Natal"


def test_the_cuti_bersama_file_and_the_holidays_package_agree():
    # The file wins for the years it lists; a difference means a decree was revised and one of
    # the two is stale: check the SKB, then fix the file or upgrade the package.
    years = json.loads(workdays.CUTI_BERSAMA_FILE.read_text(encoding="utf-8"))["years"]
    assert {"2024", "2025", "2026"} <= set(years)
    for year in map(int, years):
        package = holidays.country_holidays("ID", years=year, categories=("government",))
        assert workdays.cuti_bersama(year) == frozenset(package), year


def test_every_cuti_bersama_date_in_the_file_is_a_weekday_without_a_national_holiday():
    years = json.loads(workdays.CUTI_BERSAMA_FILE.read_text(encoding="utf-8"))["years"]
    for year, entry in years.items():
        assert entry["source"].startswith("SKB"), year
        for day in map(date.fromisoformat, entry["dates"]):
            assert day.year == int(year)
            assert day.weekday() < 5, day
            assert day not in workdays.national_holidays(day.year), day
