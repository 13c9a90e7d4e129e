"""Dashboards: the same numbers as the KPI functions, the previous period, the organisation's
day boundaries, deleted posts, missing counts as gaps, the CSV, and who may see them."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from humas.analytics import dashboards, kpis, metrics
from humas.analytics.charts import chart_csv
from humas.analytics.inbox_health import inbox_health
from humas.analytics.models import Goal, PostSnapshot
from humas.analytics.periods import Period, month
from humas.analytics.testing import make_published, record_followers
from humas.channels.models import ChannelPost
from humas.inbox.models import Conversation, Message
from humas.inbox.testing import make_conversation
from humas.publishing.models import Delivery, DeliveryStatus, Pillar
from humas.publishing.testing import make_channel, make_post

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
NOVEMBER = month(2026, 11)
_ids = count(1)


@pytest.fixture(autouse=True)
def _no_cached_dashboards():
    """Pages reuse a computed dashboard for a minute (per process): tests that build
    different data for an organisation with the same id must not see each other's."""
    cache.clear()


def at(year: int, month_: int, day: int, hour: int = 9, minute: int = 0, zone=WIB) -> datetime:
    return datetime(year, month_, day, hour, minute, tzinfo=zone)


def published(channel, moment: datetime, text: str = "", **counts) -> ChannelPost:
    return make_published(channel, moment, text=text or f"Kabar nomor {next(_ids)}", **counts)


def followers(channel, day: date, n: int | None) -> None:
    record_followers(channel, day, n)


def values(chart, name: str) -> dict[str, Any]:
    series = next(item for item in chart.series if item.name == name)
    return dict(zip(chart.labels, series.values, strict=True))


# --- the same numbers as kpis and metrics --------------------------------------------------


def test_engagement_and_its_rate_are_those_of_kpis_and_metrics(org, bluesky, mastodon):
    followers(bluesky, date(2026, 10, 31), 1000)
    followers(mastodon, date(2026, 11, 2), 400)
    one = published(bluesky, at(2026, 11, 3), likes=10, reposts=5, replies=5, quotes=0)
    two = published(bluesky, at(2026, 11, 3, 20), likes=3, reposts=None, replies=None, quotes=None)
    three = published(mastodon, at(2026, 11, 9), likes=7, reposts=1, replies=0, quotes=None)
    published(mastodon, at(2026, 11, 10))  # no snapshot yet: counted as a post, not rated

    board = dashboards.overview(org, NOVEMBER)

    start, end = NOVEMBER.bounds(org)
    assert board.figure("posts").value == 4
    assert board.figure("engagement").value == sum(
        metrics.engagement(post.snapshots.get()) or 0 for post in (one, two, three)
    )
    assert board.figure("engagement").value == 20 + 3 + 8
    assert board.figure("engagement_rate").value == kpis.engagement_rate(org, start, end)
    assert board.figure("engagement_rate").value == Decimal("1.43")  # (2.00 + 0.30 + 2.00) / 3
    assert board.figure("follower_growth").value == kpis.follower_growth(org, start, end)
    # Per day: the 3rd has both Bluesky posts.
    assert values(board.chart("engagement"), "This period")["2026-11-03"] == 23
    assert values(board.chart("engagement-rate"), "This period")["2026-11-03"] == Decimal("1.15")


def test_the_channel_and_campaign_scopes_match_kpis_too(org, editor, bluesky, mastodon, campaign):
    followers(bluesky, date(2026, 11, 1), 100)
    followers(mastodon, date(2026, 11, 1), 100)
    in_campaign = published(bluesky, at(2026, 11, 3), likes=10)
    published(bluesky, at(2026, 11, 4), likes=4)
    published(mastodon, at(2026, 11, 3), likes=2)
    post = make_post(org, editor, [bluesky])
    post.campaign = campaign
    post.save()
    Delivery.objects.create(
        organisation=org,
        post=post,
        variant=post.variants.get(),
        channel=bluesky,
        post_version=post.version,
        due_at=at(2026, 11, 3),
        status=DeliveryStatus.PUBLISHED,
        channel_post=in_campaign,
    )
    start, end = NOVEMBER.bounds(org)
    by_channel = dashboards.overview(org, NOVEMBER, channel=mastodon)
    by_campaign = dashboards.overview(org, NOVEMBER, campaign=campaign)
    assert by_channel.figure("engagement_rate").value == kpis.engagement_rate(
        org, start, end, channel=mastodon
    )
    assert by_channel.figure("engagement_rate").value == Decimal("2.00")
    assert by_campaign.figure("engagement_rate").value == Decimal("10.00")
    assert by_campaign.figure("posts").value == 1
    # Followers belong to channels: a campaign has no follower growth, and says why.
    assert by_campaign.figure("follower_growth").value is None
    assert by_campaign.figure("follower_growth").note


def test_a_pillar_dashboard_counts_the_posts_of_that_pillar(org, editor, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    pillar = Pillar.objects.create(organisation=org, name="Kesehatan")
    mine = published(bluesky, at(2026, 11, 3), likes=6)
    published(bluesky, at(2026, 11, 4), likes=50)
    post = make_post(org, editor, [bluesky])
    post.pillar = pillar
    post.save()
    Delivery.objects.create(
        organisation=org,
        post=post,
        variant=post.variants.get(),
        channel=bluesky,
        post_version=post.version,
        due_at=at(2026, 11, 3),
        status=DeliveryStatus.PUBLISHED,
        channel_post=mine,
    )
    board = dashboards.overview(org, NOVEMBER, pillar=pillar)
    assert board.figure("posts").value == 1
    assert board.figure("engagement").value == 6
    assert board.figure("engagement_rate").value == Decimal("6.00")


def test_a_month_is_compared_with_the_month_before_day_by_day(org, bluesky):
    followers(bluesky, date(2026, 9, 1), 100)
    published(bluesky, at(2026, 10, 31, 23, 30), likes=4)  # 31 October, local time
    published(bluesky, at(2026, 10, 1), likes=8)
    published(bluesky, at(2026, 11, 2), likes=10)
    published(bluesky, at(2026, 11, 20), likes=20)
    board = dashboards.overview(org, NOVEMBER)
    assert board.previous == month(2026, 10)
    posts = board.figure("posts")
    assert (posts.value, posts.previous, posts.change) == (2, 2, 0)
    rate = board.figure("engagement_rate")
    assert (rate.value, rate.previous) == (Decimal("15.00"), Decimal("6.00"))
    assert rate.change == Decimal("9.00")
    assert rate.change_percent is None  # a rate changes in points, not in percent
    # October is drawn under November, day by day; its 31st day has no November day.
    drawn = values(board.chart("engagement"), "Previous period")
    assert drawn["2026-11-01"] == 8
    assert drawn["2026-11-30"] is None
    assert len(drawn) == 30


def test_a_range_of_days_is_compared_with_as_many_days_before(org, bluesky):
    followers(bluesky, date(2026, 10, 1), 100)
    published(bluesky, at(2026, 10, 31, 23, 30), likes=4)  # 31 October, local time
    published(bluesky, at(2026, 11, 2), likes=10)
    published(bluesky, at(2026, 11, 20), likes=20)
    period = Period(date(2026, 11, 1), date(2026, 11, 29))
    board = dashboards.overview(org, period)
    assert board.previous == Period(date(2026, 10, 3), date(2026, 10, 31))
    posts = board.figure("posts")
    assert (posts.value, posts.previous, posts.change) == (2, 1, 1)
    assert posts.change_percent == Decimal("100.00")
    # The previous period is drawn under this one, day by day: its 29th day under the 29th.
    drawn = values(board.chart("engagement"), "Previous period")
    assert drawn["2026-11-29"] == 4
    assert drawn["2026-11-02"] is None


# --- the organisation's days ---------------------------------------------------------------


def test_a_day_ends_at_local_midnight_in_jayapura(org, bluesky):
    org.time_zone = "Asia/Jayapura"
    org.save()
    followers(bluesky, date(2026, 11, 1), 100)
    # 23:59 WIT on the 10th is 14:59 UTC; 00:00 WIT on the 11th is 15:00 UTC the same day.
    published(bluesky, at(2026, 11, 10, 23, 59, zone=WIT), likes=3)
    published(bluesky, datetime(2026, 11, 10, 15, 0, tzinfo=UTC), likes=5)
    board = dashboards.overview(org, NOVEMBER)
    per_day = values(board.chart("engagement"), "This period")
    assert (per_day["2026-11-10"], per_day["2026-11-11"]) == (3, 5)
    first_ten = dashboards.overview(org, Period(date(2026, 11, 1), date(2026, 11, 10)))
    assert first_ten.figure("engagement").value == 3
    assert first_ten.figure("engagement_rate").value == kpis.engagement_rate(
        org, *Period(date(2026, 11, 1), date(2026, 11, 10)).bounds(org)
    )
    # The top posts show the local time.
    (top, _second) = dashboards.top_posts(org, NOVEMBER)
    assert top.published_at.strftime("%Y-%m-%d %H:%M") == "2026-11-11 00:00"


# --- history and gaps ----------------------------------------------------------------------


def test_a_deleted_post_stays_in_the_figures_and_is_marked(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    gone = published(bluesky, at(2026, 11, 5), likes=30)
    published(bluesky, at(2026, 11, 6), likes=10)
    ChannelPost.objects.filter(pk=gone.pk).update(deleted_at=at(2026, 11, 7))
    board = dashboards.overview(org, NOVEMBER)
    assert board.figure("posts").value == 2
    assert board.figure("engagement").value == 40
    (top, second) = dashboards.top_posts(org, NOVEMBER)
    assert (top.pk, top.deleted, top.rate) == (gone.pk, True, Decimal("30.00"))
    assert second.deleted is False


def test_a_count_a_network_does_not_give_is_a_gap_not_zero(org, bluesky):
    telegram = make_channel(org, "@dinkes_kota", network="telegram")
    followers(bluesky, date(2026, 11, 1), 100)
    followers(bluesky, date(2026, 11, 2), None)  # the network gave no count that day
    followers(bluesky, date(2026, 11, 4), 104)
    published(telegram, at(2026, 11, 3), likes=None, reposts=None, replies=None, quotes=None)
    board = dashboards.overview(org, NOVEMBER)
    drawn = board.chart("followers")
    series = values(drawn, "dinkes.bsky.social (Bluesky)")
    assert series["2026-11-01"] == 100
    assert series["2026-11-02"] is None
    assert series["2026-11-03"] is None  # no snapshot at all: a gap too
    assert series["2026-11-04"] == 104
    assert board.figure("engagement").value is None
    assert values(board.chart("engagement"), "This period")["2026-11-03"] is None
    assert "Likes, Reposts, Replies, Quotes: not provided by Telegram." in board.notes


def test_where_our_citizens_are_counts_engagement_and_messages_per_network(org, bluesky, mastodon):
    followers(bluesky, date(2026, 11, 1), 100)
    published(bluesky, at(2026, 11, 3), likes=5, reposts=1)
    published(mastodon, at(2026, 11, 3), likes=2)
    for author in ("sari", "budi"):
        conversation = make_conversation(mastodon, author=author)
        Message.objects.filter(conversation=conversation).update(created_at=at(2026, 11, 12))
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=at(2026, 11, 12))
    board = dashboards.overview(org, NOVEMBER)
    chart = board.chart("networks")
    assert chart.labels == ["Bluesky", "Mastodon"]
    assert values(chart, "Engagement") == {"Bluesky": 6, "Mastodon": 2}
    assert values(chart, "Citizens' messages") == {"Bluesky": 0, "Mastodon": 2}
    # The same messages as the inbox health counts.
    health = inbox_health(org, NOVEMBER)
    assert health.current.inbound_messages == sum(values(chart, "Citizens' messages").values())


def test_top_and_bottom_posts_rank_by_engagement_rate(org, bluesky, mastodon):
    followers(bluesky, date(2026, 11, 1), 1000)
    followers(mastodon, date(2026, 11, 1), 10)
    big = published(bluesky, at(2026, 11, 3), text="Vaksin  gratis\nhari ini", likes=50)
    small = published(mastodon, at(2026, 11, 4), likes=3)
    published(mastodon, at(2026, 11, 5))  # no counts: not ranked
    best = dashboards.top_posts(org, NOVEMBER, limit=1)
    worst = dashboards.top_posts(org, NOVEMBER, limit=1, worst=True)
    assert [row.pk for row in best] == [small.pk]  # 30 % beats 5 %
    assert [row.pk for row in worst] == [big.pk]
    assert worst[0].text == "Vaksin gratis hari ini"
    assert (worst[0].network, worst[0].engagement, worst[0].rate) == (
        "Bluesky",
        50,
        Decimal("5.00"),
    )


def test_best_times_group_by_local_weekday_and_hour_and_flag_few_posts(org, bluesky):
    followers(bluesky, date(2026, 1, 1), 100)
    # Three Tuesdays at 09:xx local time, one Saturday at 20:00.
    for day, likes in ((3, 2), (10, 4), (17, 6)):
        published(bluesky, at(2026, 11, day, 9, 15), likes=likes)
    published(bluesky, at(2026, 11, 7, 20), likes=50)
    published(bluesky, at(2025, 11, 1, 9), likes=99)  # over a year before: left out
    times = dashboards.best_times(org, until=date(2026, 11, 30))
    tuesday_nine = times.cells[(1, 9)]
    assert (tuesday_nine.posts, tuesday_nine.rate, tuesday_nine.few) == (3, Decimal("4.00"), False)
    saturday = times.cells[(5, 20)]
    assert (saturday.posts, saturday.rate, saturday.few) == (1, Decimal("50.00"), True)
    # The best slots leave out cells with too few posts, however high their rate.
    assert [(day, hour) for day, hour, _cell in times.best()] == [(1, 9)]
    assert times.by_day[1].posts == 3


# --- the pages ----------------------------------------------------------------------------


def test_the_overview_page_shows_figures_charts_tables_and_goals(as_user, org, editor, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    published(bluesky, at(2026, 11, 3), likes=10)
    goal = Goal.objects.create(
        organisation=org,
        metric="engagement_rate",
        target=Decimal("5"),
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 30),
    )
    client = as_user(editor)
    response = client.get(reverse("analytics:dashboard"), {"bulan": "2026-11"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="figure-engagement_rate"' in page
    assert 'data-chart="chart-data-engagement"' in page
    assert f'data-testid="goal-{goal.pk}"' in page
    assert "200 %" in page  # 10 % against a 5 % target
    data = json.loads(
        page.split('id="chart-data-engagement" type="application/json">')[1].split("</script>")[0]
    )
    assert data["labels"][2] == "2026-11-03"
    assert data["series"][0]["values"][2] == 10
    assert data["series"][0]["values"][0] is None
    assert "analytics/dashboard.js" in page


def test_the_csv_download_is_the_charts_table(as_user, org, editor, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    published(bluesky, at(2026, 11, 3), likes=10)
    published(bluesky, at(2026, 11, 4), likes=1)
    client = as_user(editor)
    url = reverse("analytics:chart_csv", args=["engagement-rate"])
    response = client.get(url, {"kanal": bluesky.pk, "bulan": "2026-11"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "engagement-rate-2026-11-01-2026-11-30.csv" in response["Content-Disposition"]
    with translation.override("en"):  # the language the editor's page is in
        chart = dashboards.overview(org, NOVEMBER, channel=bluesky).chart("engagement-rate")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Date", "This period", "Previous period"]
    assert len(rows) == 1 + len(chart.labels)
    for row, table_row in zip(rows[1:], chart.rows(), strict=True):
        assert row == ["" if cell is None else str(cell) for cell in table_row]
    assert rows[3] == ["2026-11-03", "10.00", ""]
    assert response.content.decode() == chart_csv(chart, "Date")


def test_a_new_snapshot_shows_at_once_despite_the_reused_dashboard(as_user, editor, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    post = published(bluesky, at(2026, 11, 3), likes=10)
    client = as_user(editor)
    url = reverse("analytics:chart_csv", args=["engagement"])
    assert ["2026-11-03", "10", ""] in list(
        csv.reader(io.StringIO(client.get(url, {"bulan": "2026-11"}).content.decode()))
    )
    PostSnapshot.objects.create(
        organisation=post.organisation, post=post, age_hours=72, taken_at=at(2026, 11, 6), likes=25
    )
    assert ["2026-11-03", "25", ""] in list(
        csv.reader(io.StringIO(client.get(url, {"bulan": "2026-11"}).content.decode()))
    )


def test_an_unknown_chart_is_not_found(as_user, editor):
    response = as_user(editor).get(reverse("analytics:chart_csv", args=["nope"]))
    assert response.status_code == 404


def test_a_period_that_cannot_be_read_is_explained(as_user, editor):
    response = as_user(editor).get(reverse("analytics:dashboard"), {"bulan": "2026-13"})
    assert response.status_code == 200
    assert b'data-testid="period-error"' in response.content
    assert b"2026-13 is not a month" in response.content


def test_the_scoped_pages_and_the_best_times_page_answer(as_user, editor, bluesky, campaign):
    client = as_user(editor)
    for url in (
        reverse("analytics:channel_dashboard", args=[bluesky.pk]),
        reverse("analytics:campaign_dashboard", args=[campaign.pk]),
        reverse("analytics:best_times") + f"?kanal={bluesky.pk}",
    ):
        assert client.get(url).status_code == 200, url


# --- access --------------------------------------------------------------------------------


def test_another_organisations_channel_is_not_found(as_user, editor, other_org):
    theirs = make_channel(other_org, "dua.bsky.social", network="bluesky")
    client = as_user(editor)
    assert client.get(reverse("analytics:channel_dashboard", args=[theirs.pk])).status_code == 404
    csv_url = reverse("analytics:chart_csv", args=["followers"])
    assert client.get(csv_url, {"kanal": theirs.pk}).status_code == 404


def test_a_role_without_reports_view_is_refused(as_user, agent, bluesky):
    client = as_user(agent)
    assert client.get(reverse("analytics:dashboard")).status_code == 403
    assert client.get(reverse("analytics:channel_dashboard", args=[bluesky.pk])).status_code == 403
    assert client.get(reverse("analytics:chart_csv", args=["engagement"])).status_code == 403


# --- cost ----------------------------------------------------------------------------------


def test_the_overview_reads_as_many_queries_for_forty_posts_as_for_two(org, bluesky, mastodon):
    followers(bluesky, date(2026, 10, 1), 100)
    followers(mastodon, date(2026, 10, 1), 100)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            board = dashboards.overview(org, NOVEMBER)
            dashboards.ranked(org, board.posts)
        return len(captured)

    published(bluesky, at(2026, 11, 1), likes=1)
    published(mastodon, at(2026, 10, 15), likes=1)
    few = queries()
    for day in range(1, 21):
        published(bluesky, at(2026, 11, day), likes=day)
        published(mastodon, at(2026, 10, day), likes=day)
    assert queries() == few
    assert few <= 15
