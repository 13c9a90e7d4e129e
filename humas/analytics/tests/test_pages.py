"""The campaign's tracked-links page: creating links, their figures, CSV, deactivating."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.accounts.testing import sign_in
from humas.analytics import actions
from humas.analytics.models import Conversion, LinkClickDay, TrackedLink
from humas.analytics.views import conversion_rate, rate_label
from humas.publishing.testing import make_post

pytestmark = pytest.mark.django_db


def page_url(campaign) -> str:
    return reverse("analytics:campaign_links", args=[campaign.pk])


def add_figures(link: TrackedLink, clicks: int, conversions: int) -> None:
    LinkClickDay.objects.create(link=link, day=date(2026, 12, 1), slot=0, clicks=clicks - 1)
    LinkClickDay.objects.create(link=link, day=date(2026, 12, 2), slot=3, clicks=1)
    for n in range(conversions):
        Conversion.objects.create(
            organisation=link.organisation,
            link=link,
            day=date(2026, 12, 2),
            source="pixel",
            dedupe_key=f"k{n}",
        )


def test_an_editor_creates_one_link_per_channel(client, editor, campaign, bluesky, mastodon):
    sign_in(client, editor)
    response = client.post(
        reverse("analytics:link_create", args=[campaign.pk]),
        {"destination": campaign.link, "channels": [bluesky.pk, mastodon.pk], "label": "Desember"},
    )
    assert response.status_code == 302
    links = {
        link.channel.network if link.channel else "": link
        for link in TrackedLink.objects.filter(campaign=campaign)
    }
    assert set(links) == {"bluesky", "mastodon"}
    assert "utm_source=mastodon" in links["mastodon"].destination
    assert links["bluesky"].code != links["mastodon"].code
    assert links["bluesky"].created_by == editor
    entry = AuditEntry.objects.get(action="analytics.links.created")
    assert entry.actor == editor
    assert sorted(entry.payload["codes"]) == sorted(link.code for link in links.values())


def test_without_a_channel_one_plain_link_is_made(client, editor, campaign):
    sign_in(client, editor)
    client.post(
        reverse("analytics:link_create", args=[campaign.pk]),
        {"destination": "https://dinkes.satu.go.id/poster"},
    )
    link = TrackedLink.objects.get(campaign=campaign)
    assert (link.channel, link.destination) == (None, "https://dinkes.satu.go.id/poster")


def test_a_link_can_be_made_for_one_post_of_the_campaign(client, editor, campaign, bluesky):
    post = make_post(campaign.organisation, editor, [bluesky])
    post.campaign = campaign
    post.save()
    sign_in(client, editor)
    client.post(
        reverse("analytics:link_create", args=[campaign.pk]),
        {"destination": campaign.link, "channels": [bluesky.pk], "post": post.pk},
    )
    assert TrackedLink.objects.get(campaign=campaign).post == post


@pytest.mark.parametrize(
    "destination", ["ftp://dinkes.satu.go.id/a", "javascript:alert(1)", "mailto:a@b.id"]
)
def test_only_http_and_https_destinations_are_accepted(client, editor, campaign, destination):
    sign_in(client, editor)
    response = client.post(
        reverse("analytics:link_create", args=[campaign.pk]), {"destination": destination}
    )
    assert response.status_code == 200
    assert not TrackedLink.objects.exists()


def test_the_action_refuses_a_non_web_destination_too(campaign):
    from humas.accounts.actions import ActionError

    with pytest.raises(ActionError):
        actions.create_links(campaign, destination="file:///etc/passwd", by=Actor.system())


def test_the_page_lists_clicks_conversions_and_the_rate(client, analyst, link, campaign, mastodon):
    (quiet,) = actions.create_links(
        campaign, destination=campaign.link, channels=[mastodon], by=Actor.system()
    )
    add_figures(link, clicks=8, conversions=2)
    sign_in(client, analyst)
    html = client.get(page_url(campaign)).content.decode()
    assert link.short_url in html
    assert "25.0 %" in html
    assert 'data-testid="total-clicks">8<' in html
    # No clicks: no rate, rather than a division by zero or a misleading 0 %.
    row = html[html.index(f'data-testid="link-{quiet.code}"') :]
    assert 'data-testid="rate">—<' in row
    # A read-only member sees the figures but not the form.
    assert 'data-testid="link-form"' not in html


def test_conversion_rate_is_conversions_over_clicks():
    assert conversion_rate(3, 12) == 0.25
    assert conversion_rate(5, 0) is None
    assert rate_label(5, 0) == "—"
    assert rate_label(1, 3) == "33.3 %"


def test_the_csv_has_one_row_per_link_with_its_figures(client, analyst, link, campaign):
    TrackedLink.objects.filter(pk=link.pk).update(label='=HYPERLINK("x")')
    add_figures(link, clicks=4, conversions=1)
    sign_in(client, analyst)
    response = client.get(reverse("analytics:campaign_links_csv", args=[campaign.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["code"] == link.code
    assert row["short_url"] == link.short_url
    assert row["network"] == "bluesky"
    assert (row["clicks"], row["conversions"], row["conversion_rate"]) == ("4", "1", "0.2500")
    # A label cannot become a spreadsheet formula.
    assert row["label"].startswith("'=")


def test_deactivating_a_link_stops_it_and_is_audited(client, editor, link, visitor):
    sign_in(client, editor)
    response = client.post(reverse("analytics:link_deactivate", args=[link.pk]))
    assert response.status_code == 302
    link.refresh_from_db()
    assert not link.is_active
    assert visitor.get(f"/l/{link.code}").status_code == 404
    entry = AuditEntry.objects.get(action="analytics.link.deactivated")
    assert entry.payload == {"code": link.code}


def test_an_analyst_cannot_create_or_deactivate(client, analyst, link, campaign):
    sign_in(client, analyst)
    create = reverse("analytics:link_create", args=[campaign.pk])
    assert client.post(create, {"destination": "https://a.id/"}).status_code == 403
    assert client.post(reverse("analytics:link_deactivate", args=[link.pk])).status_code == 403
    assert TrackedLink.objects.count() == 1


def test_another_organisation_cannot_see_or_touch_the_links(client, other_admin, link, campaign):
    sign_in(client, other_admin)
    assert client.get(page_url(campaign)).status_code == 404
    assert (
        client.get(reverse("analytics:campaign_links_csv", args=[campaign.pk])).status_code == 404
    )
    assert client.post(reverse("analytics:link_deactivate", args=[link.pk])).status_code == 404
    assert link.short_url not in client.get(reverse("analytics:link_list")).content.decode()


def test_creating_links_needs_the_csrf_token(editor, campaign):
    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, editor)
    response = browser.post(
        reverse("analytics:link_create", args=[campaign.pk]), {"destination": "https://a.id/"}
    )
    assert response.status_code == 403
    assert not TrackedLink.objects.exists()


def test_regenerating_the_secret_needs_the_csrf_token(admin):
    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, admin)
    response = browser.post(reverse("analytics:conversion_secret_regenerate"))
    assert response.status_code == 403


def test_the_overview_lists_campaigns_with_their_totals(client, analyst, link, campaign):
    add_figures(link, clicks=10, conversions=1)
    sign_in(client, analyst)
    html = client.get(reverse("analytics:link_list")).content.decode()
    assert campaign.name in html
    assert "10.0 %" in html


def test_an_admin_sees_and_regenerates_the_conversion_secret(client, admin, org):
    sign_in(client, admin)
    assert (
        'data-testid="conversion-secret"'
        not in client.get(reverse("analytics:conversion_settings")).content.decode()
    )
    client.post(reverse("analytics:conversion_secret_regenerate"))
    html = client.get(reverse("analytics:conversion_settings")).content.decode()
    assert actions.conversion_secret(org.pk) in html
    assert AuditEntry.objects.filter(action="analytics.conversion_secret.regenerated").exists()


def test_an_editor_cannot_see_the_conversion_secret(client, editor):
    sign_in(client, editor)
    assert client.get(reverse("analytics:conversion_settings")).status_code == 403
