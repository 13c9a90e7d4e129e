"""Metric snapshots: taken at fixed ages of a post, once a day for followers, never twice,
and a count a network does not give stored as missing, not as zero."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from humas.analytics import jobs
from humas.analytics.models import AccountSnapshot, PostSnapshot
from humas.analytics.snapshots import collect_channel, due_age
from humas.channels.models import ChannelPost
from humas.channels.providers.base import AccountMetrics, PostMetrics, ProviderError
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
from humas.publishing.testing import make_channel

pytestmark = pytest.mark.django_db

#: 10:00 WIB on a Wednesday.
PUBLISHED = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hours", "taken", "due"),
    [
        (0.5, [], None),
        (1, [], 1),
        (5.9, [1], None),
        (6.2, [1], 6),
        (30, [1, 6], 24),
        (30, [1, 6, 24], None),
        # The worker was stopped for two days: only the latest passed age, not the missed ones.
        (80, [1], 72),
        (24 * 7 + 1, [168], None),
        (24 * 8 + 3, [168], 192),
        (24 * 90 + 1, [], 2160),
        (24 * 200, [2160], None),
    ],
)
def test_a_post_is_due_for_the_latest_age_it_has_passed(hours, taken, due):
    assert due_age(PUBLISHED, PUBLISHED + timedelta(hours=hours), taken) == due


@pytest.fixture
def channel(org, fake_network):  # noqa: F811
    return make_channel(org, "pemkot-satu")


def post(org, channel, external_id="p1", at=PUBLISHED):
    return ChannelPost.objects.create(
        organisation=org, channel=channel, external_id=external_id, published_at=at
    )


def test_snapshots_follow_a_post_through_its_ages_and_are_not_taken_twice(org, channel):
    one = post(org, channel)
    for hours in (0.5, 1.2, 1.3, 7, 25, 25.5):
        collect_channel(channel, now=PUBLISHED + timedelta(hours=hours))
    assert list(PostSnapshot.objects.order_by("age_hours").values_list("age_hours", flat=True)) == [
        1,
        6,
        24,
    ]
    snapshot = PostSnapshot.objects.get(age_hours=6)
    assert (snapshot.likes, snapshot.reposts, snapshot.replies) == (3, 2, 1)
    assert snapshot.taken_at == PUBLISHED + timedelta(hours=7)
    one.refresh_from_db()
    assert one.metrics["likes"] == 3
    assert one.metrics_at == PUBLISHED + timedelta(hours=25)


def test_a_count_the_network_does_not_give_is_stored_as_missing_not_zero(org, channel):
    post(org, channel)
    collect_channel(channel, now=PUBLISHED + timedelta(hours=2))
    snapshot = PostSnapshot.objects.get()
    # The fake network, like Bluesky and Mastodon, gives no views; this one no quotes either.
    assert snapshot.quotes is None and snapshot.views is None
    assert snapshot.likes == 3


def test_a_post_gone_from_the_network_keeps_its_history_and_gets_no_zeros(
    org, channel, monkeypatch
):
    post(org, channel)
    collect_channel(channel, now=PUBLISHED + timedelta(hours=2))
    monkeypatch.setattr(type(channel.provider()), "fetch_post_metrics", lambda self, ids: {})
    collect_channel(channel, now=PUBLISHED + timedelta(hours=7))
    assert list(PostSnapshot.objects.values_list("age_hours", "likes")) == [(1, 3)]


def test_deleted_and_old_posts_are_not_asked_about(org, channel, monkeypatch):
    asked = []
    original = type(channel.provider()).fetch_post_metrics

    def spy(self, ids):
        asked.extend(ids)
        return original(self, ids)

    monkeypatch.setattr(type(channel.provider()), "fetch_post_metrics", spy)
    now = PUBLISHED + timedelta(hours=2)
    post(org, channel, "fresh")
    gone = post(org, channel, "gone")
    ChannelPost.objects.filter(pk=gone.pk).update(deleted_at=now)
    post(org, channel, "ancient", at=PUBLISHED - timedelta(days=200))
    collect_channel(channel, now=now)
    assert asked == ["fresh"]


def test_followers_are_counted_once_a_day_in_the_organisations_time_zone(org, channel):
    # 23:30 WIB on 4 November is 16:30 UTC; 00:30 WIB on 5 November is 17:30 UTC.
    evening = datetime(2026, 11, 4, 16, 30, tzinfo=UTC)
    collect_channel(channel, now=evening)
    collect_channel(channel, now=evening + timedelta(minutes=20))
    collect_channel(channel, now=evening + timedelta(hours=1))
    days = list(AccountSnapshot.objects.order_by("day").values_list("day", "followers"))
    assert days == [(date(2026, 11, 4), 10), (date(2026, 11, 5), 10)]


def test_a_network_error_is_recorded_on_the_channel_and_the_job_goes_on(
    org,
    channel,
    fake_network,  # noqa: F811
    monkeypatch,
):
    second = make_channel(org, "pemkot-dua")
    post(org, channel)
    post(org, second, "p2")
    calls = []

    def flaky(self, ids):
        calls.append(ids)
        if len(calls) == 1:
            raise ProviderError("server busy", "transient")
        return {i: PostMetrics(external_id=i, likes=1) for i in ids}

    monkeypatch.setattr(fake_network, "fetch_post_metrics", flaky)
    monkeypatch.setattr(fake_network, "fetch_account_metrics", lambda self: AccountMetrics(5))
    jobs.collect_metrics()
    assert len(calls) == 2
    assert PostSnapshot.objects.count() == 1
    channel.refresh_from_db()
    second.refresh_from_db()
    assert [c.last_error_kind for c in (channel, second)].count("transient") == 1
