"""KPI functions on hand-made data: values, the organisation's day and month boundaries,
and None when there is nothing to measure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from humas.analytics import kpis, metrics
from humas.analytics.models import (
    Conversion,
    LinkClickDay,
    PostSnapshot,
    TrackedLink,
)
from humas.analytics.testing import make_published, record_followers
from humas.channels.models import ChannelPost
from humas.inbox.models import Conversation
from humas.inbox.testing import make_conversation
from humas.publishing.models import Delivery, DeliveryStatus, Pillar
from humas.publishing.testing import make_post

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
_ids = count(1)


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


def november(org):
    return kpis.period_bounds(org, date(2026, 11, 1), date(2026, 11, 30))


def published(channel, at: datetime, **counts) -> ChannelPost:
    return make_published(channel, at, **counts)


def followers(channel, day: date, n: int | None) -> None:
    record_followers(channel, day, n)


# --- engagement rate -----------------------------------------------------------------------


def test_it_averages_each_posts_rate_from_the_metrics_module(org, bluesky):
    followers(bluesky, date(2026, 10, 31), 1000)
    one = published(bluesky, wib(2026, 11, 3, 9), likes=10, reposts=5, replies=5, quotes=0)
    two = published(bluesky, wib(2026, 11, 4, 9), likes=3, reposts=None, replies=None, quotes=None)
    start, end = november(org)
    first = metrics.engagement_rate(one.snapshots.get(), 1000)
    second = metrics.engagement_rate(two.snapshots.get(), 1000)
    assert first is not None and second is not None
    assert (first, second) == (Decimal("2.00"), Decimal("0.30"))
    assert kpis.engagement_rate(org, start, end) == (first + second) / 2 == Decimal("1.15")


def test_it_uses_the_latest_snapshot_of_a_post(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    post = published(bluesky, wib(2026, 11, 3, 9), likes=1)
    PostSnapshot.objects.create(
        organisation=org, post=post, age_hours=168, taken_at=wib(2026, 11, 10), likes=7
    )
    start, end = november(org)
    assert kpis.engagement_rate(org, start, end) == Decimal("7.00")


def test_it_divides_by_the_followers_of_the_publish_day_or_the_latest_before(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    followers(bluesky, date(2026, 11, 5), 200)
    followers(bluesky, date(2026, 11, 20), 400)
    published(bluesky, wib(2026, 11, 5, 8), likes=10)  # that day: 200
    published(bluesky, wib(2026, 11, 19, 8), likes=10)  # latest before: 200
    start, end = november(org)
    assert kpis.engagement_rate(org, start, end) == Decimal("5.00")


def test_a_post_at_2330_wib_on_the_last_day_of_the_month_belongs_to_that_month(org, bluesky):
    followers(bluesky, date(2026, 11, 30), 100)
    followers(bluesky, date(2026, 12, 1), 1000)
    # 16:30 UTC on 30 November: still November in Jakarta, and its followers are the 30th's.
    published(bluesky, wib(2026, 11, 30, 23, 30), likes=10)
    start, end = november(org)
    assert kpis.engagement_rate(org, start, end) == Decimal("10.00")
    december = kpis.period_bounds(org, date(2026, 12, 1), date(2026, 12, 31))
    assert kpis.engagement_rate(org, *december) is None


def test_a_post_just_after_midnight_wib_belongs_to_the_next_month(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    # 17:10 UTC on 30 November is 00:10 on 1 December in Jakarta.
    published(bluesky, datetime(2026, 11, 30, 17, 10, tzinfo=UTC), likes=10)
    assert kpis.engagement_rate(org, *november(org)) is None


def test_engagement_rate_is_none_without_posts_snapshots_or_followers(org, bluesky, mastodon):
    start, end = november(org)
    assert kpis.engagement_rate(org, start, end) is None
    published(bluesky, wib(2026, 11, 3, 9))  # no snapshot
    published(mastodon, wib(2026, 11, 3, 9), likes=5)  # no follower count
    assert kpis.engagement_rate(org, start, end) is None


def test_a_reply_to_a_citizen_is_not_a_post(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    reply = published(bluesky, wib(2026, 11, 3, 9), likes=50)
    conversation = make_conversation(bluesky)
    event = conversation.messages.get().event
    ChannelPost.objects.filter(pk=reply.pk).update(in_reply_to=event)
    assert kpis.engagement_rate(org, *november(org)) is None


def test_engagement_rate_narrows_to_a_channel_and_to_a_campaign(
    org, editor, bluesky, mastodon, campaign
):
    followers(bluesky, date(2026, 11, 1), 100)
    followers(mastodon, date(2026, 11, 1), 100)
    in_campaign = published(bluesky, wib(2026, 11, 3, 9), likes=10)
    published(mastodon, wib(2026, 11, 3, 9), likes=2)
    post = make_post(org, editor, [bluesky])
    post.campaign = campaign
    post.save()
    Delivery.objects.create(
        organisation=org,
        post=post,
        variant=post.variants.get(),
        channel=bluesky,
        post_version=post.version,
        due_at=wib(2026, 11, 3, 9),
        status=DeliveryStatus.PUBLISHED,
        channel_post=in_campaign,
    )
    start, end = november(org)
    assert kpis.engagement_rate(org, start, end) == Decimal("6.00")
    assert kpis.engagement_rate(org, start, end, channel=mastodon) == Decimal("2.00")
    assert kpis.engagement_rate(org, start, end, campaign=campaign) == Decimal("10.00")


def test_it_never_reads_another_organisations_posts(org, other_org, bluesky):
    from humas.publishing.testing import make_channel

    theirs = make_channel(other_org, "dua.bsky.social", network="bluesky")
    followers(theirs, date(2026, 11, 1), 100)
    published(theirs, wib(2026, 11, 3, 9), likes=10)
    assert kpis.engagement_rate(org, *november(org)) is None


# --- follower growth -----------------------------------------------------------------------


def test_follower_growth_is_the_end_minus_the_start_summed_over_channels(org, bluesky, mastodon):
    followers(bluesky, date(2026, 10, 28), 100)  # latest before the start
    followers(bluesky, date(2026, 11, 30), 160)
    followers(bluesky, date(2026, 12, 1), 999)  # after the period
    followers(mastodon, date(2026, 11, 1), 50)
    followers(mastodon, date(2026, 11, 15), 45)
    start, end = november(org)
    assert kpis.follower_growth(org, start, end) == 60 + -5
    assert kpis.follower_growth(org, start, end, channel=mastodon) == -5


def test_follower_growth_is_none_without_both_ends(org, bluesky, mastodon):
    start, end = november(org)
    assert kpis.follower_growth(org, start, end) is None
    followers(bluesky, date(2026, 11, 10), 100)  # no count at the start
    followers(mastodon, date(2026, 10, 1), 100)  # nothing within the period
    followers(mastodon, date(2026, 12, 2), 150)
    assert kpis.follower_growth(org, start, end) is None


def test_a_missing_follower_count_is_not_a_drop(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    followers(bluesky, date(2026, 11, 20), 130)
    followers(bluesky, date(2026, 11, 30), None)  # the network gave no count that day
    assert kpis.follower_growth(org, *november(org)) == 30


# --- inbox ---------------------------------------------------------------------------------


def conversation(channel, opened: datetime, **fields) -> Conversation:
    made = make_conversation(channel, author=f"warga{next(_ids)}")
    Conversation.objects.filter(pk=made.pk).update(opened_at=opened, **fields)
    made.refresh_from_db()
    return made


def test_median_first_response_of_conversations_opened_in_the_period(org, bluesky):
    opened = wib(2026, 11, 2, 8)
    for minutes in (10, 30, 50, 70):
        conversation(bluesky, opened, responded_at=opened + timedelta(minutes=minutes))
    conversation(bluesky, opened)  # not answered yet: no wait to measure
    conversation(bluesky, wib(2026, 10, 31, 23), responded_at=wib(2026, 11, 3))  # opened in October
    assert kpis.median_first_response(org, *november(org)) == timedelta(minutes=40)


def test_a_conversation_opened_at_2330_wib_on_the_last_day_counts_in_that_month(org, bluesky):
    opened = wib(2026, 11, 30, 23, 30)
    conversation(bluesky, opened, responded_at=opened + timedelta(hours=2))
    assert kpis.median_first_response(org, *november(org)) == timedelta(hours=2)
    december = kpis.period_bounds(org, date(2026, 12, 1), date(2026, 12, 31))
    assert kpis.median_first_response(org, *december) is None


def test_median_first_response_is_none_when_nothing_was_answered(org, bluesky):
    assert kpis.median_first_response(org, *november(org)) is None
    conversation(bluesky, wib(2026, 11, 2, 8))
    assert kpis.median_first_response(org, *november(org)) is None


def test_share_of_complaints_resolved_by_their_deadline(org, bluesky):
    opened = wib(2026, 11, 2, 8)
    due = opened + timedelta(days=3)
    complaint = {"category": "complaint", "resolution_due": due}
    conversation(bluesky, opened, resolved_at=due, **complaint)  # on the deadline: on time
    conversation(bluesky, opened, resolved_at=due - timedelta(days=1), **complaint)
    conversation(bluesky, opened, resolved_at=due + timedelta(minutes=1), **complaint)
    conversation(bluesky, opened, **complaint)  # still open: not counted yet
    conversation(bluesky, opened, category="information_request", resolved_at=due)
    assert kpis.resolved_within_deadline(org, *november(org)) == Decimal("66.67")


def test_resolved_within_deadline_is_none_without_resolved_complaints(org, bluesky):
    assert kpis.resolved_within_deadline(org, *november(org)) is None
    conversation(bluesky, wib(2026, 11, 2), category="complaint")
    assert kpis.resolved_within_deadline(org, *november(org)) is None


# --- tracked links -------------------------------------------------------------------------


def figures(link: TrackedLink, day: date, clicks: int, converted: int) -> None:
    LinkClickDay.objects.create(link=link, day=day, slot=next(_ids) % 8, clicks=clicks)
    if converted:
        Conversion.objects.create(
            organisation=link.organisation, link=link, day=day, count=converted, source="server"
        )


def test_conversions_and_conversion_rate_count_the_local_days_of_the_period(
    org, link, campaign, mastodon
):
    figures(link, date(2026, 11, 30), 40, 3)  # the last local day of November
    figures(link, date(2026, 12, 1), 100, 50)  # December
    other = TrackedLink.objects.create(organisation=org, destination="https://satu.go.id/")
    figures(other, date(2026, 11, 5), 60, 2)
    start, end = november(org)
    assert kpis.conversions(org, start, end) == 5
    assert kpis.conversion_rate(org, start, end) == Decimal("5.00")
    assert kpis.conversions(org, start, end, campaign=campaign) == 3
    assert kpis.conversion_rate(org, start, end, campaign=campaign) == Decimal("7.50")
    assert kpis.conversions(org, start, end, channel=mastodon) is None  # no link there


def test_conversions_are_a_real_zero_with_links_and_the_rate_none_without_clicks(org, link):
    start, end = november(org)
    assert kpis.conversions(org, start, end) == 0
    assert kpis.conversion_rate(org, start, end) is None


def test_conversions_are_none_without_any_tracked_link(org):
    assert kpis.conversions(org, *november(org)) is None


# --- pillar mix ----------------------------------------------------------------------------


def test_pillar_mix_gives_each_pillars_share_against_its_target(org, editor, bluesky):
    service = Pillar.objects.create(organisation=org, name="Layanan", target_share=60)
    health = Pillar.objects.create(organisation=org, name="Kesehatan", target_share=40)
    Pillar.objects.create(organisation=org, name="Lama", target_share=0, is_active=False)
    for pillar, at in [
        (service, wib(2026, 11, 2, 9)),
        (service, wib(2026, 11, 30, 23, 30)),  # still November in Jakarta
        (health, wib(2026, 11, 3, 9)),
        (None, wib(2026, 11, 4, 9)),
        (health, wib(2026, 12, 1, 0, 10)),  # December
    ]:
        post = make_post(org, editor, [bluesky])
        post.pillar, post.published_at = pillar, at
        post.save()
    mix = kpis.pillar_mix(org, *november(org))
    assert mix is not None
    assert [(row.pillar, row.posts, row.share, row.target) for row in mix] == [
        (health, 1, Decimal("25.00"), 40),
        (service, 2, Decimal("50.00"), 60),
        (None, 1, Decimal("25.00"), 0),
    ]
    # |25-40| + |50-60| + |25-0| = 50, halved: 25 points off the target mix.
    assert kpis.pillar_mix_match(mix) == Decimal("75.00")


def test_pillar_mix_is_none_when_nothing_was_published(org, editor, bluesky):
    Pillar.objects.create(organisation=org, name="Layanan", target_share=100)
    make_post(org, editor, [bluesky])  # a draft
    assert kpis.pillar_mix(org, *november(org)) is None
    assert kpis.pillar_mix_match(None) is None


def test_a_kpi_refuses_a_channel_and_a_campaign_together(org, bluesky, campaign):
    with pytest.raises(ValueError, match="not both"):
        kpis.engagement_rate(org, *november(org), channel=bluesky, campaign=campaign)
