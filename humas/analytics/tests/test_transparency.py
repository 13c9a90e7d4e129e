"""The public transparency page: its figures are the KPIs, its days the organisation's, it
shows nothing personal, answers 404 until published, and is kept fresh once a local day."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.accounts.testing import make_org, sign_in
from humas.analytics import actions, jobs, kpis, transparency
from humas.analytics.goals import minutes
from humas.analytics.models import TransparencyPage
from humas.inbox.models import Contact, Conversation
from humas.inbox.testing import make_conversation
from humas.publishing.testing import make_channel

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")
SETTINGS = reverse("analytics:transparency_settings")
RECOMPUTE = reverse("analytics:transparency_recompute")
_ids = itertools.count()


def conversation(channel, opened: datetime, **fields) -> Conversation:
    made = make_conversation(channel, author=f"warga{next(_ids)}")
    Conversation.objects.filter(pk=made.pk).update(opened_at=opened, **fields)
    made.refresh_from_db()
    return made


def public(org) -> str:
    return reverse("analytics:transparency", args=[org.slug])


def publish(org, admin) -> TransparencyPage:
    return actions.set_transparency(org, enabled=True, by=Actor(user=admin))


def at(moment: datetime, monkeypatch) -> None:
    """Make it ``moment`` for everything that asks django.utils.timezone.now()."""
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- the figures ---------------------------------------------------------------------------


def november_conversations(channel) -> None:
    opened = datetime(2026, 11, 2, 8, tzinfo=WIB)
    asks = {"category": "information_request"}
    for wait in (10, 30, 50, 70):
        conversation(channel, opened, responded_at=opened + timedelta(minutes=wait), **asks)
    conversation(channel, opened, **asks)  # not answered yet
    due = opened + timedelta(days=3)
    complaint = {"category": "complaint", "resolution_due": due}
    conversation(channel, opened, resolved_at=due, **complaint)  # on the deadline: on time
    conversation(channel, opened, resolved_at=due - timedelta(days=1), **complaint)
    conversation(channel, opened, resolved_at=due + timedelta(minutes=1), **complaint)  # late
    conversation(channel, opened, **complaint)  # still open
    conversation(channel, opened, category="spam")
    conversation(channel, opened, category="aspiration", abusive=True)


def test_the_figures_of_a_month_are_the_kpis_of_that_month(org, bluesky):
    november_conversations(bluesky)
    figures = transparency.compute(org, date(2026, 12, 10))

    month = figures["months"][-1]
    assert month["month"] == "2026-11"
    start, end = kpis.period_bounds(org, date(2026, 11, 1), date(2026, 11, 30))
    wait = kpis.median_first_response(org, start, end)
    assert wait == timedelta(minutes=40)
    assert month["median_first_response_minutes"] == float(minutes(wait)) == 40.0
    share = kpis.resolved_within_deadline(org, start, end)
    assert share == Decimal("66.67")
    assert Decimal(str(month["resolved_within_deadline_percent"])) == share
    assert (month["complaints_measured"], month["complaints_on_time"]) == (3, 2)
    assert month["answered"] == 4
    assert month["conversations"] == 11
    assert month["by_category"] == {
        "complaint": 4,
        "information_request": 5,
        "aspiration": 1,
        "appreciation": 0,
        "emergency": 0,
        "spam": 1,
        "other": 0,
    }


def test_the_last_30_days_end_yesterday_and_a_month_without_conversations_has_no_rates(
    org, bluesky
):
    november_conversations(bluesky)
    figures = transparency.compute(org, date(2026, 11, 20))
    rolling = figures["last_30_days"]
    assert (rolling["first"], rolling["last"]) == ("2026-10-21", "2026-11-19")
    assert figures["computed_for"] == "2026-11-19"
    assert rolling["conversations"] == 11
    # Twelve whole months before November, oldest first; none had a conversation.
    assert [m["month"] for m in figures["months"]][:1] == ["2025-11"]
    assert figures["months"][-1]["month"] == "2026-10"
    assert len(figures["months"]) == 12
    october = figures["months"][-1]
    assert october["conversations"] == 0
    assert october["median_first_response_minutes"] is None
    assert october["resolved_within_deadline_percent"] is None


def test_months_follow_the_organisations_time_zone():
    papua = make_org("Kota Jayapura", time_zone="Asia/Jayapura")
    channel = make_channel(papua, "@kotajayapura")
    # 23:30 WIT on 31 October is 14:30 UTC: October. 00:10 WIT on 1 November is still
    # 31 October in UTC, and in Jakarta: November all the same, for Jayapura.
    conversation(channel, datetime(2026, 10, 31, 23, 30, tzinfo=WIT))
    conversation(channel, datetime(2026, 11, 1, 0, 10, tzinfo=WIT), category="complaint")
    months = {m["month"]: m for m in transparency.compute(papua, date(2026, 12, 5))["months"]}
    assert months["2026-10"]["conversations"] == 1
    assert months["2026-11"]["conversations"] == 1
    assert months["2026-11"]["by_category"]["complaint"] == 1


def test_an_unknown_category_is_counted_as_other(org, bluesky):
    conversation(bluesky, datetime(2026, 11, 2, 8, tzinfo=WIB), category="label lama")
    month = transparency.compute(org, date(2026, 12, 1))["months"][-1]
    assert "label lama" not in month["by_category"]
    assert month["by_category"]["other"] == 1


def test_another_organisations_conversations_are_not_counted(org, other_org, bluesky):
    november_conversations(make_channel(other_org, "@kotadua"))
    month = transparency.compute(org, date(2026, 12, 1))["months"][-1]
    assert month["conversations"] == 0


# --- the public page -----------------------------------------------------------------------


def test_it_answers_404_until_published_like_an_unknown_organisation(visitor, org, admin):
    assert visitor.get(public(org)).status_code == 404
    assert visitor.get("/transparansi/tidak-ada/").status_code == 404
    publish(org, admin)
    assert visitor.get(public(org)).status_code == 200
    actions.set_transparency(org, enabled=False, by=Actor(user=admin))
    assert visitor.get(public(org)).status_code == 404


def test_publishing_computes_the_figures_at_once(visitor, org, admin, bluesky):
    conversation(bluesky, timezone.now() - timedelta(days=2), category="complaint")
    page = publish(org, admin)
    assert page.computed_for == kpis.local_day(timezone.now(), org) - timedelta(days=1)
    html = visitor.get(public(org)).content.decode()
    assert 'data-testid="tp-total">1<' in html
    assert "tp-pending" not in html


def test_it_needs_no_login_sets_no_cookie_and_may_be_cached(visitor, org, admin):
    publish(org, admin)
    response = visitor.get(public(org))
    assert response.status_code == 200
    assert not response.cookies
    assert "public" in response["Cache-Control"]
    assert "max-age=900" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]  # the language cookie changes the page
    assert visitor.post(public(org)).status_code == 405


def test_it_is_in_indonesian_unless_english_is_asked_for(visitor, org, admin):
    publish(org, admin)
    response = visitor.get(public(org))
    assert response["Content-Language"] == "id"
    assert '<html lang="id">' in response.content.decode()
    english = visitor.get(public(org), {"lang": "en"})
    assert english["Content-Language"] == "en"
    assert "What these figures mean" in english.content.decode()
    visitor.cookies["django_language"] = "en"  # the site's language switch
    assert visitor.get(public(org))["Content-Language"] == "en"


def test_it_shows_the_local_day_it_was_updated(visitor, admin):
    papua = make_org("Kota Jayapura", time_zone="Asia/Jayapura")
    page = TransparencyPage.objects.create(organisation=papua, enabled=True)
    transparency.refresh(page, date(2026, 12, 1))
    # 16:30 UTC on 30 November is 01:30 on 1 December in Jayapura.
    TransparencyPage.objects.filter(pk=page.pk).update(
        computed_at=datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    )
    html = visitor.get(public(papua), {"lang": "en"}).content.decode()
    assert "Updated 1 December 2026, with the figures up to and including 30 November 2026" in html


def test_it_shows_no_personal_data(visitor, org, admin, unit, bluesky):
    made = make_conversation(
        bluesky, "Nomor saya 081234567890, jalan rusak parah di Gang Melati", author="sitirahayu"
    )
    Contact.objects.filter(pk=made.contact_id).update(display_name="Siti Rahayu")
    Conversation.objects.filter(pk=made.pk).update(
        opened_at=timezone.now() - timedelta(days=3),
        responded_at=timezone.now() - timedelta(days=2),
        category="complaint",
        unit=unit,
        assignee=admin,
    )
    publish(org, admin)
    html = visitor.get(public(org)).content.decode()
    assert 'data-testid="tp-total">1<' in html  # the conversation is counted…
    for personal in (
        "Siti",
        "sitirahayu",
        "081234567890",
        "Gang Melati",
        "jalan rusak",
        unit.name,
        admin.email,
        bluesky.handle,
    ):
        assert personal not in html  # …and nothing about it is shown


def test_html_in_the_organisation_name_or_a_category_is_escaped(visitor, admin):
    org = make_org("<script>alert(1)</script> Kota Tiga")
    page = TransparencyPage.objects.create(organisation=org, enabled=True)
    transparency.refresh(page, date(2026, 12, 1))
    figures = page.figures
    figures["categories"].append("<b>tebal</b>")
    figures["last_30_days"]["by_category"]["<b>tebal</b>"] = 1
    TransparencyPage.objects.filter(pk=page.pk).update(figures=figures)
    html = visitor.get(public(org)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kota Tiga" in html
    assert "<b>tebal</b>" not in html
    assert "&lt;b&gt;tebal&lt;/b&gt;" in html


def test_the_page_reads_only_the_stored_figures(
    visitor, org, admin, bluesky, django_assert_max_num_queries
):
    publish(org, admin)
    conversation(bluesky, timezone.now() - timedelta(days=2))
    with django_assert_max_num_queries(3):
        html = visitor.get(public(org)).content.decode()
    # Not in the figures until the next computation.
    assert 'data-testid="tp-total">0<' in html


# --- the daily job -------------------------------------------------------------------------


def test_the_job_recomputes_once_per_local_day_of_each_organisation(org, admin, monkeypatch):
    papua = make_org("Kota Jayapura", time_zone="Asia/Jayapura")
    for each in (org, papua):
        TransparencyPage.objects.create(organisation=each, enabled=True)
    TransparencyPage.objects.create(organisation=make_org("Kota Empat"))  # not published

    # 16:00 UTC: 23:00 in Jakarta, already 01:00 the next day in Jayapura.
    at(datetime(2026, 12, 1, 16, 0, tzinfo=UTC), monkeypatch)
    assert jobs.update_transparency() == 2
    assert TransparencyPage.objects.get(organisation=org).computed_for == date(2026, 11, 30)
    assert TransparencyPage.objects.get(organisation=papua).computed_for == date(2026, 12, 1)
    assert TransparencyPage.objects.filter(computed_at__isnull=False).count() == 2

    at(datetime(2026, 12, 1, 16, 50, tzinfo=UTC), monkeypatch)
    assert jobs.update_transparency() == 0

    # 17:30 UTC: past midnight in Jakarta too.
    at(datetime(2026, 12, 1, 17, 30, tzinfo=UTC), monkeypatch)
    assert jobs.update_transparency() == 1
    assert TransparencyPage.objects.get(organisation=org).computed_for == date(2026, 12, 1)


def test_one_organisations_failure_does_not_stop_the_others(org, other_org, monkeypatch):
    for each in (org, other_org):
        TransparencyPage.objects.create(organisation=each, enabled=True)
    real = transparency.compute

    def failing(organisation, today):
        if organisation == org:
            raise RuntimeError("database hiccup")
        return real(organisation, today)

    monkeypatch.setattr(transparency, "compute", failing)
    assert jobs.update_transparency() == 1
    assert TransparencyPage.objects.get(organisation=other_org).computed_for is not None
    assert TransparencyPage.objects.get(organisation=org).computed_for is None


# --- the settings page ---------------------------------------------------------------------


def test_an_admin_publishes_previews_and_withdraws_the_page(client, org, admin):
    sign_in(client, admin)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert 'data-testid="tp-publish"' in page.content.decode()

    client.post(SETTINGS, {"enabled": "1"})
    page = client.get(SETTINGS).content.decode()
    assert public(org) in page
    assert 'data-testid="transparency-rolling"' in page  # the preview
    assert TransparencyPage.objects.get(organisation=org).enabled

    client.post(SETTINGS, {"enabled": ""})
    assert not TransparencyPage.objects.get(organisation=org).enabled


def test_toggling_and_recomputing_are_audited(client, org, admin):
    sign_in(client, admin)
    client.post(SETTINGS, {"enabled": "1"})
    client.post(SETTINGS, {"enabled": "1"})  # already published: refused, nothing written
    client.post(RECOMPUTE)
    client.post(SETTINGS, {"enabled": ""})
    entries = list(
        AuditEntry.objects.filter(action__startswith="analytics.transparency.")
        .order_by("pk")
        .values_list("action", "actor__email", "organisation_id")
    )
    assert entries == [
        ("analytics.transparency.published", admin.email, org.pk),
        ("analytics.transparency.recomputed", admin.email, org.pk),
        ("analytics.transparency.withdrawn", admin.email, org.pk),
    ]


@pytest.mark.parametrize("role", ["editor", "analyst"])
def test_only_admins_may_change_the_page(client, org, request, role):
    sign_in(client, request.getfixturevalue(role))
    assert client.get(SETTINGS).status_code == 403
    assert client.post(SETTINGS, {"enabled": "1"}).status_code == 403
    assert client.post(RECOMPUTE).status_code == 403
    assert not TransparencyPage.objects.filter(organisation=org).exists()


def test_another_organisations_admin_changes_only_their_own_page(
    client, org, other_org, other_admin
):
    sign_in(client, other_admin)
    client.post(SETTINGS, {"enabled": "1"})
    assert TransparencyPage.objects.get(organisation=other_org).enabled
    assert not TransparencyPage.objects.filter(organisation=org).exists()
