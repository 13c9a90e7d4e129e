"""The public transparency page's figures: how fast and how well the organisation answers.

:func:`compute` turns the organisation's conversations into plain JSON — numbers, dates and
category keys, nothing else — for the last 30 local days and each of the last 12 whole
months. :func:`refresh` stores them on the :class:`TransparencyPage`; the daily job and the
settings page's actions call it, the public page only reads what is stored (docs/transparency.md).

The response and deadline figures are the KPI functions of :mod:`humas.analytics.kpis`, so
the public sees the same numbers as the dashboards and goals. Every conversation counts,
spam and abusive ones included:

- spam is shown as its own category, so the volume is what the organisation really
  received and anyone can see how much of it was junk; spam carries no deadlines
  ("Mark as spam" clears them) and is almost never answered, so it hardly moves the
  response figures, and where someone did answer it, the answer was real work;
- an abusive message is still a message from a citizen in some category (often a
  complaint): it counts there. The flag is not published: it is a guess of the triage
  engine that a later message may reverse.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count, F
from django.utils import timezone

from humas.accounts.models import Organisation
from humas.analytics import kpis, periods
from humas.analytics.goals import minutes
from humas.analytics.models import TransparencyPage
from humas.inbox.models import Category, Conversation

#: Bumped when the shape of the stored figures changes; the page shows nothing it cannot read.
FORMAT = 1
ROLLING_DAYS = 30
MONTHS = 12
#: The order categories are listed in (the public page keeps it from month to month).
CATEGORIES = [choice.value for choice in Category]


def _figures(org: Organisation, period: periods.Period) -> dict[str, Any]:
    start, end = period.bounds(org)
    wait = kpis.median_first_response(org, start, end)
    on_time = kpis.resolved_within_deadline(org, start, end)
    opened = Conversation.objects.filter(organisation=org, opened_at__gte=start, opened_at__lt=end)
    by_category = dict.fromkeys(CATEGORIES, 0)
    counts = opened.order_by().values("category").annotate(n=Count("pk"))
    for category, count in counts.values_list("category", "n"):
        # A value outside the choices (an old label, a hand edit) is counted, as "other":
        # only known keys are ever published.
        key = category if category in by_category else Category.OTHER.value
        by_category[key] += count
    complaints = opened.filter(
        category=Category.COMPLAINT, resolved_at__isnull=False, resolution_due__isnull=False
    )
    return {
        "first": period.first.isoformat(),
        "last": period.last.isoformat(),
        "conversations": sum(by_category.values()),
        "by_category": by_category,
        # The denominators, so that "85 %" can be read as "of 40 complaints".
        "answered": opened.filter(responded_at__isnull=False).count(),
        "complaints_measured": complaints.count(),
        "complaints_on_time": complaints.filter(resolved_at__lte=F("resolution_due")).count(),
        "median_first_response_minutes": None if wait is None else float(minutes(wait)),
        "resolved_within_deadline_percent": None if on_time is None else float(on_time),
    }


def months_before(today: date, count: int = MONTHS) -> list[periods.Period]:
    """The ``count`` whole months before the one ``today`` is in, oldest first."""
    found: list[periods.Period] = []
    cursor = today.replace(day=1)
    for _ in range(count):
        cursor = (cursor - timedelta(days=1)).replace(day=1)
        found.append(periods.month(cursor.year, cursor.month))
    return found[::-1]


def compute(org: Organisation, today: date) -> dict[str, Any]:
    """The figures as of the local day ``today``, which is not over and not included.

    Plain JSON: numbers, ISO dates and category keys. ``None`` (``null``) where there is
    nothing to measure, never a made-up 0.
    """
    rolling = periods.last_days(today, ROLLING_DAYS)
    return {
        "format": FORMAT,
        "computed_for": rolling.last.isoformat(),
        "time_zone": org.time_zone,
        "categories": CATEGORIES,
        "last_30_days": _figures(org, rolling),
        "months": [
            {"month": f"{month.first:%Y-%m}", **_figures(org, month)}
            for month in months_before(today)
        ],
    }


def is_current(page: TransparencyPage, today: date | None = None) -> bool:
    """Whether the stored figures already include the last whole local day."""
    today = today or periods.today_in(page.organisation)
    return page.computed_for == today - timedelta(days=1) and page.figures.get("format") == FORMAT


def refresh(page: TransparencyPage, today: date | None = None) -> TransparencyPage:
    """Compute and store the figures of ``page`` (as of the organisation's today)."""
    org = page.organisation
    today = today or periods.today_in(org)
    page.figures = compute(org, today)
    page.computed_for = today - timedelta(days=1)
    page.computed_at = timezone.now()
    page.save(update_fields=["figures", "computed_for", "computed_at", "updated_at"])
    return page
