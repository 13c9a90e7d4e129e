"""Inbox health: how much citizens wrote and how well the organisation answered, for the
dashboards (:func:`inbox_health`) and the reports (:func:`notable_resolved`).

The definitions are those of docs/metrics.md ("Inbox health") and of the inbox KPIs in
:mod:`humas.analytics.kpis`: the headline medians and the deadline share here equal
``kpis.median_first_response`` and ``kpis.resolved_within_deadline`` for the same period and
scope (the tests check it), but are computed by aggregates in the database, so an overview
page does not read one row per conversation.
Days are the organisation's local days.

On PostgreSQL the medians are taken in the database (``percentile_cont``); SQLite, used in
development and tests, has no such aggregate, so there the durations are read and the median
is taken in Python with the same rule (the middle value, or the mean of the two middle ones).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from humas.accounts.models import Organisation, Unit
from humas.analytics import kpis
from humas.analytics.charts import Chart, Series
from humas.analytics.periods import Period
from humas.channels.models import ChannelAccount
from humas.inbox.models import (
    Case as ComplaintCase,
)
from humas.inbox.models import (
    CaseStatus,
    Category,
    Conversation,
    Direction,
    Message,
    Sentiment,
)
from humas.lib.workdays import WorkCalendar

# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One period's headline figures. Counts are real zeros; a median or a share is ``None``
    when there is nothing to measure (nothing answered, nothing resolved)."""

    #: Messages from citizens written on the period's days.
    inbound_messages: int
    #: Conversations opened on the period's days.
    conversations_opened: int
    #: Of those, the median wait for the first answer (answered ones only).
    median_first_response: timedelta | None
    #: Of those, the median time from opening to resolution (resolved ones only).
    median_resolution: timedelta | None
    #: Complaints opened in the period, resolved, with a resolution deadline: the base of
    #: ``resolved_within_deadline``.
    complaints_resolved: int
    #: Share of those resolved by their deadline, percent with two decimals.
    resolved_within_deadline: Decimal | None


@dataclass(frozen=True)
class InboxHealth:
    period: Period
    previous_period: Period
    current: Figures
    previous: Figures
    #: In a fixed order; see :data:`CHART_KEYS`.
    charts: list[Chart]

    def chart(self, key: str) -> Chart:
        for chart in self.charts:
            if chart.key == key:
                return chart
        raise KeyError(key)

    def change(self, name: str) -> Any:
        """``current − previous`` of one figure of :class:`Figures` (an int, a timedelta or
        percentage points), ``None`` when either side has no value."""
        now, before = getattr(self.current, name), getattr(self.previous, name)
        if now is None or before is None:
            return None
        return now - before


#: The charts of :class:`InboxHealth`, in order (also the CSV file names and page anchors).
CHART_KEYS = (
    "inbound-per-day",
    "sentiment-per-day",
    "conversations-by-category",
    "conversations-by-unit",
    "first-response-per-day",
)


@dataclass(frozen=True)
class ResolvedComplaint:
    """A complaint case resolved in the period, as a report lists it: no citizen's name,
    handle or words, only what the organisation did with it."""

    tracking_number: str
    category: str
    unit: str | None
    opened: date
    resolved: date
    #: Working days from receipt to resolution on the organisation's calendar (the day of
    #: receipt not counted, as the SP4N-LAPOR! deadlines count them).
    working_days: int
    #: Resolved by the case's closing deadline (``Case.close_due``).
    within_deadline: bool
    escalated: bool


# --- medians -------------------------------------------------------------------------------


class _Median(Aggregate):
    """PostgreSQL's continuous median: the middle value, or the mean of the two middle ones
    (as :func:`_median`); NULLs are ignored, so unanswered conversations drop out."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _median(values: list[timedelta]) -> timedelta | None:
    """The same rule as ``kpis.median_first_response``."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _duration(later: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(later) - F("opened_at"), output_field=DurationField())


def _grouped(
    rows: QuerySet[Conversation],
    bucket: Expression | None,
    counts: dict[str, Aggregate],
    medians: dict[str, Expression],
) -> dict[Any, dict[str, Any]]:
    """Per value of ``bucket`` (or for all ``rows`` under ``None``): the ``counts`` and the
    median of each of ``medians`` (``None`` where every value is NULL). One query on
    PostgreSQL, two elsewhere."""
    in_database = connection.vendor == "postgresql"
    aggregates: dict[str, Aggregate] = dict(counts)
    if in_database:
        aggregates.update({name: _Median(expression) for name, expression in medians.items()})
    grouped: dict[Any, dict[str, Any]] = {}
    if bucket is None:
        grouped[None] = dict(rows.order_by().aggregate(**aggregates))
    else:
        rows = rows.annotate(bucket=bucket)
        for found in rows.values("bucket").annotate(**aggregates).order_by():
            figures: dict[str, Any] = dict(found)
            grouped[figures.pop("bucket")] = figures
    if in_database or not medians:
        return grouped
    names = list(medians)
    durations = (
        rows.annotate(**medians)
        .filter(reduce(operator.or_, (Q(**{f"{name}__isnull": False}) for name in names)))
        .values_list(*([] if bucket is None else ["bucket"]), *names)
        .order_by()
    )
    collected: dict[Any, dict[str, list[timedelta]]] = {}
    for row in durations:
        key, measured = (None, row) if bucket is None else (row[0], row[1:])
        lists = collected.setdefault(key, {name: [] for name in names})
        for name, value in zip(names, measured, strict=True):
            if value is not None:
                lists[name].append(value)
    for key, figures in grouped.items():
        lists = collected.get(key, {})
        figures.update({name: _median(lists.get(name, [])) for name in names})
    return grouped


#: Conversations per (category, unit id), for the category and unit charts.
Mix = list[tuple[str, int | None, int]]


# --- queries -------------------------------------------------------------------------------


def _conversations(
    org: Organisation, start: datetime, end: datetime, channel: ChannelAccount | None
) -> QuerySet[Conversation]:
    rows = Conversation.objects.filter(organisation=org, opened_at__gte=start, opened_at__lt=end)
    if channel is not None:
        rows = rows.filter(channel=channel)
    return rows


def _inbound_per_day(
    org: Organisation,
    previous_start: datetime,
    start: datetime,
    end: datetime,
    channel: ChannelAccount | None,
) -> dict[date | None, int]:
    """Inbound messages per local day of ``[start, end)``, and under ``None`` the total of
    ``[previous_start, start)``: the previous period needs no days, and converting every
    message's time to a local day is most of this query's cost."""
    messages = Message.objects.filter(
        conversation__organisation=org,
        direction=Direction.IN,
        created_at__gte=previous_start,
        created_at__lt=end,
        # Implied (a conversation's last message is never before any of its inbound ones)
        # but stated, so that PostgreSQL joins only the organisation's recently active
        # conversations (read off the ``conv_newest`` index) instead of all of them.
        conversation__last_message_at__gte=previous_start,
    )
    if channel is not None:
        messages = messages.filter(conversation__channel=channel)
    day = Case(
        When(created_at__gte=start, then=TruncDate("created_at", tzinfo=kpis.zone_of(org))),
        default=Value(None),
        output_field=DateField(),
    )
    rows = messages.annotate(day=day).values("day").annotate(n=Count("*")).order_by()
    return {row["day"]: row["n"] for row in rows}


def _complaints() -> Q:
    return Q(category=Category.COMPLAINT, resolved_at__isnull=False, resolution_due__isnull=False)


def _to_minutes(value: timedelta | None) -> Decimal | None:
    if value is None:
        return None
    minutes = Decimal(value // timedelta(microseconds=1)) / 60_000_000
    return minutes.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def inbox_health(
    org: Organisation, period: Period, *, channel: ChannelAccount | None = None
) -> InboxHealth:
    """The inbox's figures for ``period`` and the period before it, and its charts.

    Six queries on PostgreSQL (nine on SQLite, which reads durations for the medians), each
    bounded by the periods' days. ``channel`` narrows everything to one channel's
    conversations.
    """
    previous = period.previous()
    start, end = period.bounds(org)
    previous_start, _previous_end = previous.bounds(org)
    zone = kpis.zone_of(org)
    days = period.day_list()

    inbound = _inbound_per_day(org, previous_start, start, end, channel)

    def summary(first: datetime, last: datetime) -> dict[str, Any]:
        # One plain aggregate per period rather than one query grouped by period: grouping
        # made PostgreSQL sort both periods' rows by the group (on disk at 1,000,000
        # messages) before the medians sorted them again.
        (row,) = _grouped(
            _conversations(org, first, last, channel),
            None,
            counts={
                "opened": Count("*"),
                "complaints": Count("opened_at", filter=_complaints()),
                "on_time": Count(
                    "opened_at", filter=_complaints() & Q(resolved_at__lte=F("resolution_due"))
                ),
            },
            medians={"first": _duration("responded_at"), "resolution": _duration("resolved_at")},
        ).values()
        return row

    def figures(row: dict[str, Any], inbound_messages: int) -> Figures:
        return Figures(
            inbound_messages=inbound_messages,
            conversations_opened=row["opened"],
            median_first_response=row.get("first"),
            median_resolution=row.get("resolution"),
            complaints_resolved=row["complaints"],
            resolved_within_deadline=kpis.percent(row["on_time"], row["complaints"]),
        )

    current = _conversations(org, start, end, channel)
    per_day = _grouped(
        current,
        TruncDate("opened_at", tzinfo=zone),
        counts={
            sentiment: Count("opened_at", filter=Q(sentiment=sentiment))
            for sentiment in Sentiment.values
        },
        medians={"first": _duration("responded_at")},
    )
    mix: Mix = list(current.values_list("category", "unit_id").annotate(n=Count("*")).order_by())
    return InboxHealth(
        period=period,
        previous_period=previous,
        current=figures(summary(start, end), sum(inbound.get(day, 0) for day in days)),
        previous=figures(summary(previous_start, start), inbound.get(None, 0)),
        charts=[
            _inbound_chart(days, inbound),
            _sentiment_chart(days, per_day),
            _category_chart(mix),
            _unit_chart(org, mix),
            _first_response_chart(days, per_day),
        ],
    )


# --- charts --------------------------------------------------------------------------------


def _inbound_chart(days: list[date], inbound: dict[date | None, int]) -> Chart:
    return Chart(
        key="inbound-per-day",
        title=_("Messages from citizens per day"),
        kind="line",
        labels=[day.isoformat() for day in days],
        series=[Series(_("Messages"), [inbound.get(day, 0) for day in days])],
        unit=_("messages"),
        empty_text=_("No messages from citizens in this period."),
    )


def _sentiment_chart(days: list[date], per_day: dict[Any, dict[str, Any]]) -> Chart:
    return Chart(
        key="sentiment-per-day",
        title=_("Sentiment of new conversations per day"),
        kind="line",
        labels=[day.isoformat() for day in days],
        series=[
            Series(
                str(Sentiment(value).label),
                [per_day.get(day, {}).get(value, 0) for day in days],
            )
            for value in (Sentiment.POSITIVE, Sentiment.NEUTRAL, Sentiment.NEGATIVE)
        ],
        unit=_("conversations"),
        empty_text=_("No conversations were opened in this period."),
        notes=[
            _("Each conversation counts once, on the day it was opened, with its latest label.")
        ],
    )


def _category_chart(mix: Mix) -> Chart:
    counts: dict[str, int] = {}
    for category, _unit, n in mix:
        counts[category] = counts.get(category, 0) + n
    # Every category, in the inbox's order, so that one month's chart reads like the next.
    return Chart(
        key="conversations-by-category",
        title=_("Conversations by category"),
        kind="bar",
        labels=[str(label) for label in Category.labels] if counts else [],
        series=[
            Series(
                _("Conversations"),
                [counts.get(value, 0) for value in Category.values] if counts else [],
            )
        ],
        unit=_("conversations"),
        empty_text=_("No conversations were opened in this period."),
    )


def _unit_chart(org: Organisation, mix: Mix) -> Chart:
    counts: dict[int | None, int] = {}
    for _category, unit, n in mix:
        counts[unit] = counts.get(unit, 0) + n
    units = list(Unit.objects.filter(organisation=org).order_by("name").values_list("pk", "name"))
    labels = [name for _pk, name in units]
    values: list[int | Decimal | None] = [counts.get(pk, 0) for pk, _name in units]
    if counts.get(None):
        labels.append(_("No unit"))
        values.append(counts[None])
    total = sum(counts.values())
    return Chart(
        key="conversations-by-unit",
        title=_("Conversations by unit"),
        kind="bar",
        labels=labels if total else [],
        series=[Series(_("Conversations"), values if total else [])],
        unit=_("conversations"),
        empty_text=_("No conversations were opened in this period."),
    )


def _first_response_chart(days: list[date], per_day: dict[Any, dict[str, Any]]) -> Chart:
    return Chart(
        key="first-response-per-day",
        title=_("Median first-response time per day"),
        kind="line",
        labels=[day.isoformat() for day in days],
        series=[
            Series(
                _("Median"),
                [_to_minutes(per_day.get(day, {}).get("first")) for day in days],
            )
        ],
        unit=_("minutes"),
        empty_text=_("No conversation opened in this period has been answered yet."),
        notes=[_("Conversations are counted on the day they were opened.")],
    )


# --- reports -------------------------------------------------------------------------------


def notable_resolved(
    org: Organisation,
    period: Period,
    *,
    channel: ChannelAccount | None = None,
    limit: int = 5,
) -> list[ResolvedComplaint]:
    """Complaint cases resolved on the period's days, for a report: escalated ones first,
    then the ones that took longest, then the latest.

    Only the tracking number, the category and unit, dates and the deadline are given; the
    citizen's name, handle and words are never read.
    """
    start, end = period.bounds(org)
    cases = ComplaintCase.objects.filter(
        organisation=org,
        # A case sent back "in progress" after resolving keeps its resolved_at; it is not
        # resolved (yet) and not listed.
        status__in=[CaseStatus.RESOLVED, CaseStatus.CLOSED],
        resolved_at__gte=start,
        resolved_at__lt=end,
    )
    if channel is not None:
        cases = cases.filter(conversation__channel=channel)
    rows = (
        cases.annotate(
            taken=ExpressionWrapper(F("resolved_at") - F("received_at"), DurationField())
        )
        .order_by("-escalated", "-taken", "-resolved_at", "-pk")
        .values_list(
            "tracking_number",
            "conversation__category",
            "unit__name",
            "received_at",
            "resolved_at",
            "close_due",
            "escalated",
        )[:limit]
    )
    calendar = WorkCalendar(org.time_zone)
    labels = dict(Category.choices)
    listed = []
    for number, category, unit, received, resolved, due, escalated in rows:
        if resolved is None:  # filtered out above; tells the type checker
            continue
        listed.append(
            ResolvedComplaint(
                tracking_number=number,
                category=str(labels.get(category, category)),
                unit=unit,
                opened=kpis.local_day(received, org),
                resolved=kpis.local_day(resolved, org),
                working_days=calendar.working_days_between(received, resolved),
                within_deadline=resolved <= due,
                escalated=escalated,
            )
        )
    return listed
