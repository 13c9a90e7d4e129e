"""Working days and working hours, for deadlines on answering and resolving citizens' messages.

SP4N-LAPOR! counts its handling deadlines in working days (forwarded within 3, followed up
within 5, closed after 10: :data:`LAPOR_FORWARD_WORKING_DAYS` and friends), and a first response
is promised in working hours. A :class:`WorkCalendar` knows one organisation's time zone (WIB
``Asia/Jakarta``, WITA ``Asia/Makassar`` or WIT ``Asia/Jayapura``), its office hours and its days
off, and turns an arrival time into a deadline and two instants into "how late".

A day is off when it is, in this order of precedence (the first match is what
:meth:`WorkCalendar.day_off_reason` reports):

1. an Indonesian national public holiday, from the ``holidays`` package (names in Indonesian,
   as the package gives them; 2024's election days are included);
2. collective leave (*cuti bersama*), from ``data/cuti_bersama.json`` for the years listed
   there and from the ``holidays`` package's ``government`` category for other years; a year
   that neither knows yet has no collective leave (see docs/working-days.md for the yearly
   update);
3. one of the organisation's extra days off (a regional holiday, an office closure);
4. a weekend day (Saturday and Sunday unless told otherwise).

Conventions every caller relies on:

- Every datetime given must be timezone-aware (a naive one raises :class:`ValueError`); every
  datetime returned is aware and expressed in the calendar's zone (compare it freely with UTC
  datetimes, or ``.astimezone(UTC)`` it to store).
- Days are local days: an instant belongs to the date it has on the organisation's clock, so
  the same UTC instant can be Thursday night in Jakarta and Friday morning in Jayapura.
- Working days: the day of arrival never counts, whatever the hour; day 1 is the first working
  day after it, and a deadline of N working days falls at the end of office hours on day N.
- Working hours: only time inside office hours on a working day counts; a message that arrives
  outside them starts counting when the office next opens.
- Clock arithmetic is wall-clock in the calendar's zone. Indonesia has no daylight saving time,
  so this is exact for the three Indonesian zones; other zones are accepted (handy in tests)
  but an hour can be miscounted on the night their clocks change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

#: SP4N-LAPOR! handling deadlines, in working days from the arrival of a report.
LAPOR_FORWARD_WORKING_DAYS = 3
LAPOR_FOLLOW_UP_WORKING_DAYS = 5
LAPOR_CLOSE_WORKING_DAYS = 10

#: Machine codes returned by :meth:`WorkCalendar.day_off_reason` for days off that are not a
#: named public holiday. Stable: store and compare them, translate them only for display.
CUTI_BERSAMA = "cuti bersama"
EXTRA = "extra"
WEEKEND = "weekend"

#: Collective-leave dates by year, with the decree each year comes from.
CUTI_BERSAMA_FILE = Path(__file__).resolve().parent / "data" / "cuti_bersama.json"

DeadlineState = Literal["ok", "due_soon", "breached"]

_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)


@cache
def national_holidays(year: int) -> dict[date, str]:
    """Indonesia's national public holidays in ``year``, date to name (in Indonesian).

    Straight from the ``holidays`` package's ``public`` category. Islamic holidays of years the
    government has not fixed yet carry the package's "(perkiraan)" (estimated) label.
    """
    # Without an explicit language the package picks one from the process locale (LANG and
    # friends), so the same server could name a holiday in English one day and Indonesian the next.
    found = holidays.country_holidays("ID", years=year, categories=("public",), language="id")
    return {day: name for day, name in found.items() if day.year == year}


@cache
def _cuti_bersama_from_file() -> dict[int, frozenset[date]]:
    raw = json.loads(CUTI_BERSAMA_FILE.read_text(encoding="utf-8"))
    by_year: dict[int, frozenset[date]] = {}
    for year, entry in raw["years"].items():
        dates = frozenset(date.fromisoformat(day) for day in entry["dates"])
        # A date filed under the wrong year would silently never match: refuse it loudly.
        misfiled = sorted(day for day in dates if day.year != int(year))
        if misfiled:
            raise ValueError(f"{CUTI_BERSAMA_FILE}: {misfiled} listed under {year}")
        by_year[int(year)] = dates
    return by_year


@cache
def cuti_bersama(year: int) -> frozenset[date]:
    """The collective-leave (*cuti bersama*) dates of ``year``.

    The data file's list when it has the year (it wins, so that a revised decree can be followed
    before the ``holidays`` package catches up, removals included); otherwise the package's
    ``government`` category; empty for a year that neither knows (the decree for a year is
    published the September or October before).
    """
    from_file = _cuti_bersama_from_file()
    if year in from_file:
        return from_file[year]
    found = holidays.country_holidays("ID", years=year, categories=("government",))
    return frozenset(day for day in found if day.year == year)


def deadline_state(now: datetime, due: datetime, warn_before: timedelta) -> DeadlineState:
    """Where ``now`` stands against the deadline ``due``.

    ``"breached"`` once ``now`` is past ``due``; ``"due_soon"`` from ``warn_before`` (wall-clock
    time, not working time) before ``due`` up to and including ``due`` itself; ``"ok"`` before
    that. Both datetimes must be aware; ``warn_before`` must not be negative.
    """
    _require_aware(now, "now")
    _require_aware(due, "due")
    if warn_before < timedelta(0):
        raise ValueError(f"warn_before must not be negative, got {warn_before}")
    if now > due:
        return "breached"
    if now >= due - warn_before:
        return "due_soon"
    return "ok"


class WorkCalendar:
    """One organisation's working days and office hours.

    ``time_zone`` is an IANA name (``"Asia/Jakarta"``, ``"Asia/Makassar"``,
    ``"Asia/Jayapura"``). ``extra_days_off`` are local dates the organisation is closed on top of
    the national calendar (a regional holiday, say). ``work_start`` and ``work_end`` are naive
    local times bounding office hours, with no break (08:00 to 16:00 by default).
    ``weekend`` holds weekday numbers, Monday being 0 (Saturday and Sunday by default).

    Raises :class:`ValueError` for an unknown zone, office hours that end before they start, or a
    week without a working day.
    """

    def __init__(
        self,
        time_zone: str,
        extra_days_off: Iterable[date] = (),
        work_start: time = time(8, 0),
        work_end: time = time(16, 0),
        weekend: Iterable[int] = (5, 6),
    ) -> None:
        try:
            self.zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"Unknown time zone {time_zone!r}; use an IANA name such as 'Asia/Jakarta'"
            ) from exc
        self.time_zone = time_zone

        self.extra_days_off = frozenset(extra_days_off)
        for day in self.extra_days_off:
            _require_date(day, "extra_days_off")

        if work_start.tzinfo is not None or work_end.tzinfo is not None:
            raise ValueError("work_start and work_end are local clock times: pass them naive")
        if work_start >= work_end:
            raise ValueError(f"work_start ({work_start}) must be before work_end ({work_end})")
        self.work_start = work_start
        self.work_end = work_end

        self.weekend = frozenset(weekend)
        if not self.weekend <= set(range(7)):
            raise ValueError(f"weekend holds weekday numbers 0 (Monday) to 6, got {weekend!r}")
        if len(self.weekend) == 7:
            raise ValueError("weekend covers the whole week: nothing could ever be due")
        self._reasons: dict[date, str | None] = {}

    def __repr__(self) -> str:
        return (
            f"WorkCalendar({self.time_zone!r}, work_start={self.work_start}, "
            f"work_end={self.work_end}, weekend={sorted(self.weekend)}, "
            f"extra_days_off={len(self.extra_days_off)} days)"
        )

    # Days

    def local_date(self, moment: datetime) -> date:
        """The date ``moment`` (aware) has on the organisation's clock."""
        _require_aware(moment, "moment")
        return moment.astimezone(self.zone).date()

    def day_off_reason(self, day: date) -> str | None:
        """Why the local date ``day`` is not a working day, or ``None`` when it is one.

        The national holiday's name as the ``holidays`` package gives it (in Indonesian; two
        holidays on one day come joined by "; "), else :data:`CUTI_BERSAMA`, :data:`EXTRA` or
        :data:`WEEKEND`, in that order of precedence. Raises :class:`TypeError` for a datetime:
        turn an instant into a day with :meth:`local_date` first.
        """
        _require_date(day, "day")
        # Asked a dozen times per message while a batch's deadlines are worked out.
        try:
            return self._reasons[day]
        except KeyError:
            pass
        reason = self._day_off_reason(day)
        self._reasons[day] = reason
        return reason

    def _day_off_reason(self, day: date) -> str | None:
        name = national_holidays(day.year).get(day)
        if name:
            return name
        if day in cuti_bersama(day.year):
            return CUTI_BERSAMA
        if day in self.extra_days_off:
            return EXTRA
        if day.weekday() in self.weekend:
            return WEEKEND
        return None

    def is_working_day(self, day: date) -> bool:
        """Whether the local date ``day`` is a working day (see :meth:`day_off_reason`)."""
        return self.day_off_reason(day) is None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after the local date ``day``."""
        _require_date(day, "day")
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def opens(self, day: date) -> datetime:
        """When office hours start on ``day``, aware in the calendar's zone."""
        return datetime.combine(day, self.work_start, tzinfo=self.zone)

    def closes(self, day: date) -> datetime:
        """When office hours end on ``day``, aware in the calendar's zone."""
        return datetime.combine(day, self.work_end, tzinfo=self.zone)

    # Deadlines

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The deadline ``days`` working days after ``start``, aware in the calendar's zone.

        The local date of ``start`` never counts, whatever the hour and whether or not it is a
        working day; day 1 is the first working day after it; the deadline is the end of office
        hours on day ``days``. So a report arriving on Monday with 3 days is due on Thursday at
        16:00, and one arriving on Friday evening, Saturday or a holiday counts from the next
        working day. ``days`` must be a positive integer (:class:`ValueError` otherwise).
        """
        _require_aware(start, "start")
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an integer, got {days!r}")
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        day = self.local_date(start)
        for _ in range(days):
            day = self.next_working_day(day)
        return self.closes(day)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The instant ``hours`` working hours after ``start``, aware in the calendar's zone.

        Only time inside office hours on working days counts. Arriving before opening counts from
        opening; arriving after closing, on a weekend or on a day off counts from the next
        opening. A deadline that lands exactly on closing time stays there rather than moving to
        the next morning. ``hours`` must be a positive finite number (:class:`ValueError`
        otherwise); fractions are kept to the microsecond.
        """
        _require_aware(start, "start")
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise TypeError(f"hours must be a number, got {hours!r}")
        if not math.isfinite(hours) or hours <= 0:
            raise ValueError(f"hours must be a positive number, got {hours}")
        remaining = timedelta(hours=hours)
        cursor = start.astimezone(self.zone)
        day = cursor.date()
        while True:
            if self.is_working_day(day):
                cursor = max(cursor, self.opens(day))
                available = self.closes(day) - cursor
                if available > timedelta(0):
                    if remaining <= available:
                        return cursor + remaining
                    remaining -= available
            day = self.next_working_day(day)
            cursor = self.opens(day)

    # Measuring

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """How many working days lie after ``a``'s local date, up to and including ``b``'s.

        The inverse of :meth:`add_working_days`: ``working_days_between(start,
        add_working_days(start, n)) == n``. For "how late", pass the deadline and the moment the
        work was done: 0 means done on the deadline's own day (even after closing time; use
        :meth:`working_hours_between` for that), 1 on the next working day, and so on. Negative
        when ``b`` comes before ``a``.
        """
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_days_between(b, a)
        day, last = self.local_date(a), self.local_date(b)
        count = 0
        while day < last:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """How many working hours (office hours on working days) lie between ``a`` and ``b``.

        The inverse of :meth:`add_working_hours` up to float rounding. Negative when ``b``
        comes before ``a``.
        """
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_hours_between(b, a)
        a, b = a.astimezone(self.zone), b.astimezone(self.zone)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            if self.is_working_day(day):
                overlap = min(b, self.closes(day)) - max(a, self.opens(day))
                if overlap > timedelta(0):
                    total += overlap
            day += _ONE_DAY
        return total / _ONE_HOUR


def _require_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")


def _require_date(day: date, name: str) -> None:
    # datetime is a subclass of date: accepting one would silently use its own (often UTC)
    # calendar date instead of the organisation's.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"{name} takes dates; turn an instant into one with local_date()")
