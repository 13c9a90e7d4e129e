"""Inbox health: the figures and charts dashboards show and the cases reports list."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from humas.accounts.actions import create_unit
from humas.accounts.testing import SYSTEM
from humas.analytics import kpis
from humas.analytics.charts import Chart
from humas.analytics.inbox_health import CHART_KEYS, inbox_health, notable_resolved
from humas.analytics.periods import Period, month
from humas.channels.models import ChannelAccount
from humas.inbox.models import Case, CaseStatus, Contact, Conversation, Direction, Message
from humas.inbox.testing import make_conversation
from humas.lib.workdays import WorkCalendar
from humas.publishing.testing import make_channel

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
NOVEMBER = month(2026, 11)
_ids = count(1)


def wib(month_: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month_, day, hour, minute, tzinfo=WIB)


def conversation(
    channel: ChannelAccount, opened: datetime, *, replies: tuple[datetime, ...] = (), **fields: Any
) -> Conversation:
    """A conversation opened by one citizen's message at ``opened``, plus further messages
    from the citizen at ``replies``; ``fields`` set its answer, resolution and labels."""
    made = make_conversation(channel, author=f"warga{next(_ids)}")
    Message.objects.filter(conversation=made).update(created_at=opened)
    for at in replies:
        Message.objects.create(
            conversation=made, direction=Direction.IN, text="lagi", created_at=at
        )
    fields.setdefault("sentiment", "neutral")
    fields.setdefault("category", "other")
    Conversation.objects.filter(pk=made.pk).update(
        opened_at=opened, last_message_at=max((opened, *replies)), **fields
    )
    made.refresh_from_db()
    return made


def answered(
    channel: ChannelAccount, opened: datetime, minutes: int, **fields: Any
) -> Conversation:
    return conversation(channel, opened, responded_at=opened + timedelta(minutes=minutes), **fields)


def column(chart: Chart, series: int = 0) -> dict[str, object]:
    """One series of a chart by its labels."""
    return dict(zip(chart.labels, chart.series[series].values, strict=True))


# --- figures -------------------------------------------------------------------------------


def test_it_counts_the_periods_messages_conversations_and_medians(org, bluesky):
    opened = wib(11, 2, 8)
    for minutes in (10, 30, 50, 70):
        answered(bluesky, opened, minutes, resolved_at=opened + timedelta(hours=minutes))
    # A second message from the citizen the next day: two inbound messages, one conversation.
    chatty = conversation(bluesky, wib(11, 3, 9), replies=(wib(11, 4, 9),))
    Message.objects.create(  # our reply is not an inbound message
        conversation=chatty, direction=Direction.OUT, text="Baik", created_at=wib(11, 4, 10)
    )

    health = inbox_health(org, NOVEMBER)

    assert health.current.inbound_messages == 6
    assert health.current.conversations_opened == 5
    assert health.current.median_first_response == timedelta(minutes=40)
    assert health.current.median_resolution == timedelta(hours=40)
    start, end = NOVEMBER.bounds(org)
    assert health.current.median_first_response == kpis.median_first_response(org, start, end)


def test_an_odd_number_of_answers_takes_the_middle_one(org, bluesky):
    for minutes in (5, 90, 20):
        answered(bluesky, wib(11, 10, 9), minutes)
    assert inbox_health(org, NOVEMBER).current.median_first_response == timedelta(minutes=20)


def test_the_deadline_share_is_that_of_the_kpi(org, bluesky):
    opened = wib(11, 2, 8)
    due = opened + timedelta(days=3)
    complaint: dict[str, Any] = {"category": "complaint", "resolution_due": due}
    conversation(bluesky, opened, resolved_at=due, **complaint)  # on the deadline: on time
    conversation(bluesky, opened, resolved_at=due - timedelta(days=1), **complaint)
    conversation(bluesky, opened, resolved_at=due + timedelta(minutes=1), **complaint)
    conversation(bluesky, opened, **complaint)  # still open: not counted yet
    conversation(bluesky, opened, category="complaint", resolved_at=due, resolution_due=None)
    conversation(bluesky, opened, category="information_request", resolved_at=due)

    figures = inbox_health(org, NOVEMBER).current

    assert figures.complaints_resolved == 3
    assert figures.resolved_within_deadline == Decimal("66.67")
    assert figures.resolved_within_deadline == kpis.resolved_within_deadline(
        org, *NOVEMBER.bounds(org)
    )


def test_the_previous_period_is_the_same_number_of_days_right_before(org, bluesky):
    period = Period(date(2026, 11, 11), date(2026, 11, 20))
    answered(bluesky, wib(11, 1, 9), 100)  # day 1 of the previous period
    answered(bluesky, wib(11, 10, 23, 59), 60)  # its last minute
    answered(bluesky, wib(10, 31, 23, 59), 1)  # before it: in neither
    answered(bluesky, wib(11, 11), 30)

    health = inbox_health(org, period)

    assert health.previous_period == Period(date(2026, 11, 1), date(2026, 11, 10))
    assert health.previous.inbound_messages == 2
    assert health.previous.conversations_opened == 2
    assert health.previous.median_first_response == timedelta(minutes=80)
    assert health.current.conversations_opened == 1
    assert health.change("conversations_opened") == -1
    assert health.change("median_first_response") == timedelta(minutes=-50)
    assert health.change("resolved_within_deadline") is None


def test_a_message_at_2330_in_jayapura_belongs_to_that_local_day(org, bluesky):
    org.time_zone = "Asia/Jayapura"
    org.save(update_fields=["time_zone"])
    late = datetime(2026, 11, 30, 23, 30, tzinfo=WIT)  # 14:30 UTC, still 30 November in WIT
    answered(bluesky, late, 15)
    after_midnight = datetime(2026, 12, 1, 0, 30, tzinfo=WIT)  # 15:30 UTC on 30 November
    answered(bluesky, after_midnight, 45)

    november = inbox_health(org, NOVEMBER)
    december = inbox_health(org, month(2026, 12))

    assert november.current.inbound_messages == 1
    assert november.current.median_first_response == timedelta(minutes=15)
    assert column(november.chart("inbound-per-day"))["2026-11-30"] == 1
    first_response = column(november.chart("first-response-per-day"))
    assert first_response["2026-11-30"] == Decimal("15.0")
    assert december.current.inbound_messages == 1
    assert column(december.chart("inbound-per-day"))["2026-12-01"] == 1
    assert december.previous.inbound_messages == 1


def test_an_empty_period_has_no_medians_and_zero_counts(org, bluesky):
    conversation(bluesky, wib(11, 2, 8))  # opened, never answered or resolved

    health = inbox_health(org, month(2026, 12))

    assert health.current.inbound_messages == 0
    assert health.current.conversations_opened == 0
    assert health.current.median_first_response is None
    assert health.current.median_resolution is None
    assert health.current.complaints_resolved == 0
    assert health.current.resolved_within_deadline is None
    assert [chart.key for chart in health.charts] == list(CHART_KEYS)
    inbound = health.chart("inbound-per-day")
    assert len(inbound.labels) == 31
    assert set(inbound.series[0].values) == {0}  # a real zero on each day
    assert health.chart("first-response-per-day").is_empty  # gaps, not zero minutes
    assert health.chart("conversations-by-category").is_empty
    assert health.chart("conversations-by-unit").is_empty
    # November: opened but never answered is still no median.
    assert health.previous.conversations_opened == 1
    assert health.previous.median_first_response is None


def test_a_channel_scope_counts_only_that_channels_conversations(org, bluesky, mastodon):
    answered(bluesky, wib(11, 2, 8), 10, replies=(wib(11, 2, 9),))
    answered(mastodon, wib(11, 2, 8), 90)

    everything = inbox_health(org, NOVEMBER)
    one = inbox_health(org, NOVEMBER, channel=mastodon)

    assert everything.current.inbound_messages == 3
    assert everything.current.median_first_response == timedelta(minutes=50)
    assert one.current.inbound_messages == 1
    assert one.current.conversations_opened == 1
    assert one.current.median_first_response == timedelta(minutes=90)


def test_another_organisations_conversations_are_never_counted(org, other_org, bluesky):
    theirs = make_channel(other_org, "dishub.bsky.social", network="bluesky")
    answered(
        theirs,
        wib(11, 2, 8),
        5,
        category="complaint",
        unit=create_unit(other_org, name="Dinas Perhubungan", code="dishub", by=SYSTEM),
    )
    answered(bluesky, wib(11, 2, 8), 60)

    health = inbox_health(org, NOVEMBER)

    assert health.current.inbound_messages == 1
    assert health.current.conversations_opened == 1
    assert health.current.median_first_response == timedelta(minutes=60)
    assert "Dinas Perhubungan" not in health.chart("conversations-by-unit").labels
    assert inbox_health(org, NOVEMBER, channel=theirs).current.conversations_opened == 0


# --- charts --------------------------------------------------------------------------------


def test_the_charts_group_new_conversations_by_day_sentiment_category_and_unit(org, unit, bluesky):
    create_unit(org, name="Bappeda", code="bappeda", by=SYSTEM)
    answered(bluesky, wib(11, 2, 8), 10, sentiment="negative", category="complaint", unit=unit)
    answered(bluesky, wib(11, 2, 9), 30, sentiment="negative", category="complaint")
    conversation(bluesky, wib(11, 3, 23, 30), sentiment="positive", category="appreciation")

    health = inbox_health(org, NOVEMBER)

    sentiment = health.chart("sentiment-per-day")
    assert [series.name for series in sentiment.series] == ["Positive", "Neutral", "Negative"]
    rows = {row[0]: row[1:] for row in sentiment.rows()}
    assert rows["2026-11-02"] == [0, 0, 2]
    assert rows["2026-11-03"] == [1, 0, 0]
    assert rows["2026-11-04"] == [0, 0, 0]
    categories = column(health.chart("conversations-by-category"))
    assert categories["Complaint"] == 2
    assert categories["Appreciation"] == 1
    assert categories["Emergency"] == 0
    units = health.chart("conversations-by-unit")
    assert units.rows() == [["Bappeda", 0], ["Dinas Kesehatan", 1], ["No unit", 2]]
    first_response = column(health.chart("first-response-per-day"))
    assert first_response["2026-11-02"] == Decimal("20.0")
    assert first_response["2026-11-03"] is None  # opened, not answered: a gap
    assert health.chart("first-response-per-day").unit == "minutes"


# --- notable complaints resolved -------------------------------------------------------------


def case(
    conv: Conversation,
    received: datetime,
    resolved: datetime | None,
    *,
    status: str = CaseStatus.RESOLVED,
    **fields: Any,
) -> Case:
    calendar = WorkCalendar(conv.organisation.time_zone)
    return Case.objects.create(
        organisation=conv.organisation,
        conversation=conv,
        tracking_number=f"LPR-2026-TEST-{next(_ids):04d}",
        status=status,
        received_at=received,
        forward_due=calendar.add_working_days(received, 3),
        follow_up_due=calendar.add_working_days(received, 5),
        close_due=calendar.add_working_days(received, 10),
        resolved_at=resolved,
        **fields,
    )


def test_notable_resolved_lists_cases_resolved_in_the_period_with_their_deadline(
    org, unit, bluesky
):
    received = wib(11, 2, 10)  # a Monday
    quick = case(
        conversation(bluesky, received, category="complaint"),
        received,
        wib(11, 5, 15),
        unit=unit,
    )
    late = case(conversation(bluesky, received, category="complaint"), received, wib(11, 18, 9))
    escalated = case(
        conversation(bluesky, received, category="complaint"),
        received,
        wib(11, 4, 9),
        escalated=True,
    )
    # Not listed: sent back in progress, resolved in October, another month's.
    case(conversation(bluesky, received), received, wib(11, 6), status=CaseStatus.IN_PROGRESS)
    case(conversation(bluesky, wib(10, 1)), wib(10, 1), wib(10, 30))
    case(conversation(bluesky, received), received, wib(12, 1, 0, 1), status=CaseStatus.CLOSED)

    listed = notable_resolved(org, NOVEMBER)

    assert [row.tracking_number for row in listed] == [
        escalated.tracking_number,
        late.tracking_number,
        quick.tracking_number,
    ]
    first_quick = listed[2]
    assert first_quick.category == "Complaint"
    assert first_quick.unit == "Dinas Kesehatan"
    assert first_quick.opened == date(2026, 11, 2)
    assert first_quick.resolved == date(2026, 11, 5)
    assert first_quick.working_days == 3
    assert first_quick.within_deadline is True
    assert listed[1].working_days == 12
    assert listed[1].within_deadline is False
    assert listed[0].escalated is True
    assert len(notable_resolved(org, NOVEMBER, limit=2)) == 2


def test_notable_resolved_holds_no_personal_data(org, bluesky):
    conv = conversation(bluesky, wib(11, 2, 10), category="complaint")
    Contact.objects.filter(pk=conv.contact_id).update(
        display_name="Siti Aminah", handle="@siti.aminah"
    )
    Message.objects.filter(conversation=conv).update(
        text="Saya Siti Aminah, NIK 3201234567890001, jalan rusak", author_label="Siti Aminah"
    )
    case(conv, wib(11, 2, 10), wib(11, 3, 10))

    (row,) = notable_resolved(org, NOVEMBER)

    values = " ".join(str(value) for value in asdict(row).values())
    for personal in ("Siti", "siti", "3201234567890001", "jalan rusak", "warga"):
        assert personal not in values


def test_notable_resolved_keeps_to_the_organisation_and_the_channel(
    org, other_org, bluesky, mastodon
):
    theirs = make_channel(other_org, "dishub.bsky.social", network="bluesky")
    case(conversation(theirs, wib(11, 2, 10)), wib(11, 2, 10), wib(11, 3, 10))
    ours = case(conversation(mastodon, wib(11, 2, 10)), wib(11, 2, 10), wib(11, 3, 10))

    assert [row.tracking_number for row in notable_resolved(org, NOVEMBER)] == [
        ours.tracking_number
    ]
    assert notable_resolved(org, NOVEMBER, channel=bluesky) == []
