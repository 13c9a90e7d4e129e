"""The goals page: progress against targets, "not enough data yet", the form's refusals,
who may see and change goals, and the audit trail of the goal actions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.accounts.testing import sign_in
from humas.analytics import actions, goals
from humas.analytics.models import AccountSnapshot, Goal, GoalMetric
from humas.inbox.models import Conversation
from humas.inbox.testing import make_conversation

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
LIST = reverse("analytics:goal_list")
CREATE = reverse("analytics:goal_create")


def make_goal(org, editor, metric=GoalMetric.FOLLOWER_GROWTH, target="100", **scope) -> Goal:
    return actions.create_goal(
        org,
        metric=metric,
        target=Decimal(target),
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 30),
        by=Actor(user=editor),
        **scope,
    )


def form_data(**changes) -> dict[str, str]:
    data = {
        "metric": "follower_growth",
        "target": "100",
        "starts_on": "2026-11-01",
        "ends_on": "2026-11-30",
        "channel": "",
        "campaign": "",
    }
    data.update(changes)
    return data


def add_followers(channel, day: date, n: int) -> None:
    AccountSnapshot.objects.create(
        organisation=channel.organisation,
        channel=channel,
        day=day,
        taken_at=datetime(day.year, day.month, day.day, 10, tzinfo=WIB),
        followers=n,
    )


# --- progress ------------------------------------------------------------------------------


def test_progress_is_the_share_of_the_target_reached():
    assert goals.progress("follower_growth", Decimal(40), Decimal(100)) == 40
    assert goals.progress("engagement_rate", Decimal("3.3"), Decimal(2)) == 165
    assert goals.progress("follower_growth", Decimal(-20), Decimal(100)) == 0
    assert goals.progress("follower_growth", None, Decimal(100)) is None


def test_for_response_time_lower_is_better():
    # Target: a median of at most 60 minutes.
    assert goals.progress("first_response", Decimal(30), Decimal(60)) == 200
    assert goals.progress("first_response", Decimal(120), Decimal(60)) == 50
    assert goals.progress("first_response", Decimal(0), Decimal(60)) == 100


# --- the page ------------------------------------------------------------------------------


def test_the_page_shows_each_goals_value_target_and_progress(client, org, editor, bluesky):
    add_followers(bluesky, date(2026, 11, 1), 1000)
    add_followers(bluesky, date(2026, 11, 30), 1040)
    goal = make_goal(org, editor, target="80", channel=bluesky)
    sign_in(client, editor)
    response = client.get(LIST)
    assert response.status_code == 200
    row = response.context["rows"][0]
    assert (row.goal, row.value, row.progress) == (goal, Decimal(40), Decimal(50))
    html = response.content.decode()
    assert 'data-testid="goal-progress"><progress max="100" value="50"></progress> 50 %' in html
    assert "dinkes.bsky.social" in html


def test_a_goal_without_data_says_not_enough_data_yet(client, org, editor):
    make_goal(org, editor, metric=GoalMetric.ENGAGEMENT_RATE, target="2")
    sign_in(client, editor)
    response = client.get(LIST)
    assert response.context["rows"][0].value is None
    html = response.content.decode()
    assert "not enough data yet" in html
    assert " 0 %" not in html


def test_a_response_time_goal_says_lower_is_better_and_is_measured_in_minutes(
    client, org, editor, bluesky
):
    opened = datetime(2026, 11, 2, 8, tzinfo=WIB)
    conversation = make_conversation(bluesky)
    Conversation.objects.filter(pk=conversation.pk).update(
        opened_at=opened, responded_at=opened + timedelta(minutes=30)
    )
    make_goal(org, editor, metric=GoalMetric.FIRST_RESPONSE, target="60")
    sign_in(client, editor)
    response = client.get(LIST)
    row = response.context["rows"][0]
    assert (row.value, row.progress, row.met) == (Decimal(30), Decimal(200), True)
    html = response.content.decode()
    assert "lower is better" in html
    assert "30 min" in html


def test_the_tracked_links_page_links_to_the_goals(client, editor):
    sign_in(client, editor)
    assert LIST in client.get(reverse("analytics:link_list")).content.decode()


# --- adding, editing, deleting -------------------------------------------------------------


def test_an_editor_adds_a_goal_and_it_is_audited(client, org, editor, bluesky):
    sign_in(client, editor)
    response = client.post(CREATE, form_data(channel=str(bluesky.pk)))
    assert response.status_code == 302
    goal = Goal.objects.get()
    assert (goal.organisation, goal.channel, goal.target) == (org, bluesky, Decimal(100))
    assert goal.created_by == editor
    entry = AuditEntry.objects.get(action="analytics.goal.created")
    assert entry.actor == editor
    assert entry.payload["metric"] == "follower_growth"
    assert entry.payload["channel"] == bluesky.pk


def test_an_editor_changes_a_goal_and_it_is_audited(client, org, editor):
    goal = make_goal(org, editor)
    sign_in(client, editor)
    url = reverse("analytics:goal_edit", args=[goal.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, form_data(target="250", ends_on="2026-12-31"))
    assert response.status_code == 302
    goal.refresh_from_db()
    assert (goal.target, goal.ends_on) == (Decimal(250), date(2026, 12, 31))
    entry = AuditEntry.objects.get(action="analytics.goal.updated")
    assert entry.payload["before"]["target"] == "100.00"
    assert entry.payload["after"]["target"] == "250.00"


def test_an_editor_deletes_a_goal_and_it_is_audited(client, org, editor):
    goal = make_goal(org, editor)
    sign_in(client, editor)
    response = client.post(reverse("analytics:goal_delete", args=[goal.pk]))
    assert response.status_code == 302
    assert not Goal.objects.exists()
    entry = AuditEntry.objects.get(action="analytics.goal.deleted")
    assert entry.actor == editor
    assert entry.payload["metric"] == "follower_growth"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ends_on": "2026-10-31"}, "ends_on", "The end date cannot be before the start date."),
        ({"target": "0"}, "target", "The target must be greater than 0."),
        ({"target": "-5"}, "target", "The target must be greater than 0."),
        ({"metric": "reach"}, "metric", "Reach and impressions cannot be a goal"),
        (
            {"metric": "first_response", "campaign": "CAMPAIGN"},
            "campaign",
            "belong to channels, not to campaigns",
        ),
    ],
)
def test_the_form_refuses_a_goal_that_cannot_be_measured(
    client, editor, campaign, changes, field, message
):
    changes = {k: str(campaign.pk) if v == "CAMPAIGN" else v for k, v in changes.items()}
    sign_in(client, editor)
    response = client.post(CREATE, form_data(**changes))
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors)
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not Goal.objects.exists()


def test_the_form_refuses_a_channel_and_a_campaign_together(client, editor, bluesky, campaign):
    sign_in(client, editor)
    response = client.post(CREATE, form_data(channel=str(bluesky.pk), campaign=str(campaign.pk)))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Choose a channel or a campaign, not both."
    ]
    assert not Goal.objects.exists()


def test_the_action_refuses_reach_too(org, editor):
    from humas.accounts.actions import ActionError

    with pytest.raises(ActionError, match="Reach and impressions"):
        make_goal(org, editor, metric="reach")
    assert not AuditEntry.objects.filter(action__startswith="analytics.goal").exists()


# --- access --------------------------------------------------------------------------------


def test_an_analyst_sees_the_goals_but_cannot_change_them(client, org, editor, analyst):
    goal = make_goal(org, editor)
    sign_in(client, analyst)
    response = client.get(LIST)
    assert response.status_code == 200
    assert response.context["form"] is None
    assert reverse("analytics:goal_edit", args=[goal.pk]) not in response.content.decode()
    assert client.post(CREATE, form_data()).status_code == 403
    assert client.get(reverse("analytics:goal_edit", args=[goal.pk])).status_code == 403
    assert client.post(reverse("analytics:goal_delete", args=[goal.pk])).status_code == 403
    assert Goal.objects.count() == 1


def test_another_organisations_goal_is_not_found(client, org, editor, other_admin):
    goal = make_goal(org, editor)
    sign_in(client, other_admin)
    assert client.get(reverse("analytics:goal_edit", args=[goal.pk])).status_code == 404
    assert client.post(reverse("analytics:goal_delete", args=[goal.pk])).status_code == 404
    assert goal not in client.get(LIST).context["rows"]
    assert Goal.objects.filter(pk=goal.pk).exists()


def test_a_goal_cannot_use_another_organisations_channel(client, editor, other_org):
    from humas.publishing.testing import make_channel

    theirs = make_channel(other_org, "dua.bsky.social", network="bluesky")
    sign_in(client, editor)
    response = client.post(CREATE, form_data(channel=str(theirs.pk)))
    assert response.status_code == 200
    assert response.context["form"].errors["channel"]
    assert not Goal.objects.exists()
