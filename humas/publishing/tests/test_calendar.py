"""The publishing calendar: days in the organisation's zone, moving posts, good times to post."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from humas.channels.models import ChannelPost
from humas.publishing.insights import best_hours
from humas.publishing.models import DeliveryStatus, PostStatus
from humas.publishing.testing import make_channel, make_post

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")


@pytest.fixture
def late_post(org, editor, approver, channel):
    """Scheduled at 23:30 WIB on 1 December 2026 (16:30 UTC; 01:30 WIT on 2 December)."""
    return make_post(
        org,
        editor,
        [channel],
        title="Pengumuman malam",
        when=datetime(2026, 12, 1, 23, 30, tzinfo=WIB),
        approve_with=[approver],
    )


def _days_of(response, post):
    return [
        day["date"]
        for week in response.context["weeks"]
        for day in week
        if any(entry["post"].pk == post.pk for entry in day["entries"])
    ]


def _future_post(org, editor, approver, channel, *, days=3, at=time(9, 15)):
    zone = ZoneInfo(org.time_zone)
    day = timezone.now().astimezone(zone).date() + timedelta(days=days)
    return make_post(
        org,
        editor,
        [channel],
        when=datetime.combine(day, at, tzinfo=zone),
        approve_with=[approver],
    )


# --- placing posts ------------------------------------------------------------------------


def test_a_post_at_2330_wib_is_on_the_1st_for_an_organisation_in_wib(
    as_user, editor, org, late_post
):
    org.time_zone = "Asia/Jakarta"
    org.save()

    response = as_user(editor).get(reverse("publishing:calendar"), {"date": "2026-12-01"})

    assert response.status_code == 200
    assert _days_of(response, late_post) == [date(2026, 12, 1)]
    assert b'datetime="2026-12-01T23:30:00+07:00"' in response.content


def test_the_same_instant_is_on_the_2nd_for_an_organisation_in_wit(as_user, editor, org, late_post):
    org.time_zone = "Asia/Jayapura"
    org.save()

    response = as_user(editor).get(reverse("publishing:calendar"), {"date": "2026-12-01"})

    assert _days_of(response, late_post) == [date(2026, 12, 2)]
    assert b'datetime="2026-12-02T01:30:00+09:00"' in response.content


def test_a_published_post_without_a_schedule_is_placed_by_when_it_went_out(
    as_user, editor, org, channel
):
    post = make_post(org, editor, [channel])
    post.status = PostStatus.PUBLISHED
    post.published_at = datetime(2026, 12, 10, 8, 0, tzinfo=WIB)
    post.save()

    response = as_user(editor).get(reverse("publishing:calendar"), {"date": "2026-12-15"})

    assert _days_of(response, post) == [date(2026, 12, 10)]


def test_the_month_view_runs_monday_to_sunday_with_links_to_the_months_around(
    as_user, editor, late_post
):
    response = as_user(editor).get(reverse("publishing:calendar"), {"date": "2026-12-17"})

    weeks = response.context["weeks"]
    assert weeks[0][0]["date"] == date(2026, 11, 30)
    assert weeks[-1][-1]["date"] == date(2027, 1, 3)
    assert weeks[0][0]["outside"] is True
    assert "date=2026-11-01" in response.context["previous_link"]
    assert "date=2027-01-01" in response.context["next_link"]


def test_the_week_view_shows_seven_days_from_monday(as_user, editor, late_post):
    response = as_user(editor).get(
        reverse("publishing:calendar"), {"view": "week", "date": "2026-12-03"}
    )

    assert response.status_code == 200
    (week,) = response.context["weeks"]
    assert [day["date"] for day in week] == [
        date(2026, 11, 30) + timedelta(days=i) for i in range(7)
    ]
    assert _days_of(response, late_post) == [date(2026, 12, 1)]
    assert "date=2026-11-23" in response.context["previous_link"]
    assert "view=week" in response.context["next_link"]


def test_today_is_highlighted_in_the_organisations_zone(as_user, editor, org):
    today = timezone.now().astimezone(ZoneInfo(org.time_zone)).date()

    response = as_user(editor).get(reverse("publishing:calendar"))

    highlighted = [d["date"] for w in response.context["weeks"] for d in w if d["is_today"]]
    assert highlighted == [today]
    assert f'class="day today" data-date="{today.isoformat()}"'.encode() in response.content


def test_a_bad_date_or_view_falls_back_to_this_month(as_user, editor):
    response = as_user(editor).get(
        reverse("publishing:calendar"), {"date": "2026-13-45", "view": "year"}
    )

    assert response.status_code == 200
    assert response.context["view"] == "month"


def test_the_calendar_filters_by_channel(as_user, editor, org, late_post, channel):
    second = make_channel(org, "dinkes-satu")
    url = reverse("publishing:calendar")
    client = as_user(editor)

    on_second = client.get(url, {"date": "2026-12-01", "channel": second.pk})
    on_first = client.get(url, {"date": "2026-12-01", "channel": channel.pk})

    assert _days_of(on_second, late_post) == []
    assert _days_of(on_first, late_post) == [date(2026, 12, 1)]


def test_another_organisations_channel_is_no_filter_and_shows_nothing_of_theirs(
    as_user, editor, other_admin, other_org, other_channel, late_post
):
    theirs = make_post(other_org, other_admin, [other_channel])
    theirs.scheduled_at = late_post.scheduled_at
    theirs.save()

    response = as_user(editor).get(
        reverse("publishing:calendar"), {"date": "2026-12-01", "channel": other_channel.pk}
    )

    assert response.context["channel"] is None
    assert _days_of(response, late_post) == [date(2026, 12, 1)]
    assert _days_of(response, theirs) == []


# --- moving posts -------------------------------------------------------------------------


def test_dragging_a_post_to_another_day_keeps_its_local_time(
    as_user, editor, approver, org, channel
):
    org.time_zone = "Asia/Jayapura"
    org.save()
    post = _future_post(org, editor, approver, channel, at=time(9, 15))
    old_day = post.scheduled_at.astimezone(WIT).date()
    new_day = old_day + timedelta(days=2)

    response = as_user(editor).post(
        reverse("publishing:calendar_move"),
        {"post": post.pk, "to": new_day.isoformat(), "view": "month", "date": old_day.isoformat()},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert b'id="calendar-grid"' in response.content
    assert b"<html" not in response.content
    post.refresh_from_db()
    assert post.scheduled_at == datetime.combine(new_day, time(9, 15), tzinfo=WIT)
    assert post.status == PostStatus.SCHEDULED
    pending = post.deliveries.filter(status=DeliveryStatus.PENDING)
    assert [d.due_at for d in pending] == [post.scheduled_at]
    assert _days_of(response, post) == [new_day]


def test_moving_without_htmx_goes_back_to_the_same_calendar(
    as_user, editor, approver, org, channel
):
    post = _future_post(org, editor, approver, channel)
    new_day = post.scheduled_at.astimezone(WIB).date() + timedelta(days=1)

    response = as_user(editor).post(
        reverse("publishing:calendar_move"),
        {"post": post.pk, "to": new_day.isoformat(), "view": "week", "date": "2026-12-01"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("publishing:calendar") + "?view=week&date=2026-12-01"
    post.refresh_from_db()
    assert post.scheduled_at.astimezone(WIB).date() == new_day


def test_a_post_cannot_be_dragged_into_the_past(as_user, editor, approver, org, channel):
    post = _future_post(org, editor, approver, channel)
    before = post.scheduled_at

    response = as_user(editor).post(
        reverse("publishing:calendar_move"),
        {"post": post.pk, "to": "2020-01-01"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response.context["error"]
    assert b'data-testid="calendar-error"' in response.content
    post.refresh_from_db()
    assert post.scheduled_at == before


def test_a_draft_cannot_be_moved_on_the_calendar(as_user, editor, org, channel):
    post = make_post(org, editor, [channel])
    post.scheduled_at = datetime(2026, 12, 5, 10, 0, tzinfo=WIB)
    post.save()

    response = as_user(editor).post(
        reverse("publishing:calendar_move"),
        {"post": post.pk, "to": "2027-01-05"},
        headers={"HX-Request": "true"},
    )

    assert response.context["error"]
    post.refresh_from_db()
    assert (post.status, post.scheduled_at) == (
        PostStatus.DRAFT,
        datetime(2026, 12, 5, 10, 0, tzinfo=WIB),
    )


def test_another_organisations_post_cannot_be_moved(
    as_user, editor, other_org, other_admin, other_channel
):
    theirs = make_post(other_org, other_admin, [other_channel])

    response = as_user(editor).post(
        reverse("publishing:calendar_move"), {"post": theirs.pk, "to": "2027-01-05"}
    )

    assert response.status_code == 404


def test_an_analyst_sees_the_calendar_but_cannot_move_posts(
    as_user, analyst, editor, approver, org, channel
):
    post = _future_post(org, editor, approver, channel)
    before = post.scheduled_at
    client = as_user(analyst)

    page = client.get(reverse("publishing:calendar"), {"date": before.date().isoformat()})
    moved = client.post(
        reverse("publishing:calendar_move"),
        {"post": post.pk, "to": (before.date() + timedelta(days=1)).isoformat()},
    )

    assert page.status_code == 200
    assert _days_of(page, post)
    assert b"data-move-url" not in page.content
    assert b'draggable="true"' not in page.content
    assert moved.status_code == 403
    post.refresh_from_db()
    assert post.scheduled_at == before


def test_the_calendar_move_is_post_only(as_user, editor):
    response = as_user(editor).get(reverse("publishing:calendar_move"))

    assert response.status_code == 405


# --- good times to post -------------------------------------------------------------------


def _published(org, channel, n, *, at, likes=0, reposts=0, replies=0):
    return ChannelPost.objects.create(
        organisation=org,
        channel=channel,
        external_id=f"p-{n}",
        published_at=at,
        metrics={"likes": likes, "reposts": reposts, "replies": replies, "views": None},
    )


def _hours_ago_at(zone, days, hour):
    day = timezone.now().astimezone(zone).date() - timedelta(days=days)
    return datetime.combine(day, time(hour, 10), tzinfo=zone)


def test_best_hours_needs_five_posts_of_history(org, channel):
    for n in range(4):
        _published(org, channel, n, at=_hours_ago_at(WIB, n + 1, 9), likes=10)

    assert best_hours(org, channel) is None


def test_best_hours_ranks_hours_by_average_engagement_in_local_time(org, channel):
    org.time_zone = "Asia/Jakarta"
    org.save()
    for n in range(3):
        _published(org, channel, n, at=_hours_ago_at(WIB, n + 1, 9), likes=10, replies=2)
    for n in range(3, 6):
        _published(org, channel, n, at=_hours_ago_at(WIB, n + 1, 19), likes=20, reposts=5)
    # One great post long ago does not count.
    _published(org, channel, 99, at=_hours_ago_at(WIB, 120, 6), likes=10_000)

    assert best_hours(org, channel) == [19, 9]


def test_the_calendar_says_when_there_is_not_enough_history(as_user, editor, org, channel):
    for n in range(5):
        _published(org, channel, n, at=_hours_ago_at(WIB, n + 1, 7), likes=3)
    quiet = make_channel(org, "dinkes-satu")

    response = as_user(editor).get(reverse("publishing:calendar"))

    rows = {row["channel"]: row["hours"] for row in response.context["best_times"]}
    assert rows == {channel: [7], quiet: None}
    assert b"07:00" in response.content
    assert b"not enough history yet" in response.content
