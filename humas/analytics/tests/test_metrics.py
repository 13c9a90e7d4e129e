"""Engagement and its rate, defined once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from humas.analytics.metrics import engagement, engagement_rate


@dataclass
class Counts:
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None


def test_engagement_adds_the_counts_the_network_gives_and_leaves_out_views():
    assert engagement(Counts(likes=10, reposts=3, replies=2, quotes=1, views=900)) == 16
    # Mastodon before 4.5 gives no quotes: the others still add up.
    assert engagement(Counts(likes=10, reposts=3, replies=2)) == 15
    assert engagement(Counts(likes=0, reposts=0, replies=0)) == 0


def test_no_counts_at_all_is_not_zero_engagement():
    assert engagement(Counts(views=100)) is None
    assert engagement_rate(Counts(views=100), 1000) is None


def test_the_rate_is_per_follower_in_percent_rounded_half_up():
    assert engagement_rate(Counts(likes=10, reposts=3, replies=2), 1000) == Decimal("1.50")
    assert engagement_rate(Counts(likes=1), 3) == Decimal("33.33")
    assert engagement_rate(Counts(likes=1), 8) == Decimal("12.50")
    assert engagement_rate(Counts(likes=1, replies=0), 200) == Decimal("0.50")


def test_without_followers_there_is_no_rate():
    assert engagement_rate(Counts(likes=5), 0) is None
    assert engagement_rate(Counts(likes=5), None) is None
