"""The period a dashboard or a report covers: local days of the organisation, inclusive.

Read from a query string as ``?dari=YYYY-MM-DD&sampai=YYYY-MM-DD`` or ``?bulan=YYYY-MM``;
without either, the default the caller chooses (the last 28 days for dashboards, the last
whole month for reports). The comparison period is the month before for a whole month, and
otherwise the same number of days right before.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils.translation import gettext as _

from humas.accounts.models import Organisation
from humas.analytics import kpis

#: Longest period a page or report computes (about two years): a typo in a year must not
#: make a dashboard walk decades of rows.
MAX_DAYS = 732


class PeriodError(ValueError):
    """A period the user asked for that cannot be shown; the message is for the user."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError(_("The end date is before the start date."))
        if self.days > MAX_DAYS:
            raise PeriodError(_("A period can be at most %(days)d days long.") % {"days": MAX_DAYS})

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def day_list(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range(self.days)]

    def bounds(self, org: Organisation) -> tuple[datetime, datetime]:
        """``[start, end)`` as aware datetimes at the organisation's local midnights."""
        return kpis.period_bounds(org, self.first, self.last)

    def previous(self) -> Period:
        """What this period is compared with: the month before for a whole month (October
        for November, as leadership reads a monthly report), otherwise the period of the
        same length that ends the day before this one starts."""
        last = self.first - timedelta(days=1)
        if self.is_month:
            return month(last.year, last.month)
        return Period(last - timedelta(days=self.days - 1), last)

    @property
    def is_month(self) -> bool:
        return self.first.day == 1 and self.last == month(self.first.year, self.first.month).last

    def query(self) -> str:
        """The query string that reads back as this period."""
        if self.is_month:
            return f"bulan={self.first:%Y-%m}"
        return f"dari={self.first.isoformat()}&sampai={self.last.isoformat()}"


def month(year: int, number: int) -> Period:
    return Period(date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1]))


def last_days(today: date, days: int) -> Period:
    """``days`` days ending yesterday (today is not over yet)."""
    last = today - timedelta(days=1)
    return Period(last - timedelta(days=days - 1), last)


def last_month(today: date) -> Period:
    previous = today.replace(day=1) - timedelta(days=1)
    return month(previous.year, previous.month)


def today_in(org: Organisation, now: datetime | None = None) -> date:
    from django.utils import timezone

    return kpis.local_day(now or timezone.now(), org)


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(
            _("%(name)s is not a date (use YYYY-MM-DD): %(text)s") % {"name": name, "text": text}
        ) from None


def parse(params: Mapping[str, str], default: Period) -> Period:
    """The period asked for in ``params``, or ``default``; :class:`PeriodError` with a
    message for the user when it cannot be read."""
    text = (params.get("bulan") or "").strip()
    if text:
        try:
            year, number = (int(part) for part in text.split("-"))
            return month(year, number)
        except (ValueError, calendar.IllegalMonthError):
            raise PeriodError(
                _("%(text)s is not a month (use YYYY-MM).") % {"text": text}
            ) from None
    first_text = (params.get("dari") or "").strip()
    last_text = (params.get("sampai") or "").strip()
    if not first_text and not last_text:
        return default
    first = _date(first_text, _("Start")) if first_text else default.first
    last = _date(last_text, _("End")) if last_text else default.last
    return Period(first, last)
