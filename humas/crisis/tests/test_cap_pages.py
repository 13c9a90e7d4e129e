"""The CAP pages: who reads the alerts, who sets the feeds and the area, what is shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

from humas.accounts.models import AuditEntry
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.crisis import feeds
from humas.crisis.models import CapAlert, CapFeed, CrisisArea

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = datetime(2026, 11, 29, 13, 30, tzinfo=UTC)


@pytest.fixture
def responder(org):
    return make_member(org, "responder@satu.go.id", Role.RESPONDER)


@pytest.fixture
def feed(org):
    return CapFeed.objects.create(
        organisation=org, name="BMKG", url="https://example.bmkg.go.id/rss.xml"
    )


def receive(feed, name, url, **changes):
    data = (FIXTURES / name).read_bytes()
    for old, new in changes.items():
        data = data.replace(old.encode(), new.encode())
    return feeds.store(feed, data, url=url, now=NOW)


def test_the_list_shows_matching_alerts_first_and_marks_invalid_and_expired_ones(
    org, feed, responder, as_user
):
    CrisisArea.objects.create(organisation=org, place_names=["Jawa Barat"])
    elsewhere = receive(feed, "expired.xml", "https://x/1.xml")
    ours = receive(feed, "bmkg_style.xml", "https://x/2.xml")
    invalid = receive(feed, "bad_urgency.xml", "https://x/3.xml", **{"13.05.017": "13.05.099"})
    page = as_user(responder).get(reverse("crisis:cap_list")).content.decode()
    first = min(page.index(f'data-testid="cap-alert-{a.pk}"') for a in (ours, invalid))
    assert first < page.index(f'data-testid="cap-alert-{elsewhere.pk}"')
    row = page[page.index(f'data-testid="cap-alert-{invalid.pk}"') :]
    assert 'data-testid="cap-invalid"' in row[: row.index("</tr>")]
    row = page[page.index(f'data-testid="cap-alert-{elsewhere.pk}"') :]
    assert 'data-testid="cap-expired"' in row[: row.index("</tr>")]
    assert "BMKG" in page


def test_the_alert_page_shows_times_in_the_organisations_zone_and_the_problems(
    org, feed, responder, as_user
):
    org.time_zone = "Asia/Makassar"
    org.save(update_fields=["time_zone"])
    alert = receive(feed, "bad_urgency.xml", "https://x/3.xml")
    page = as_user(responder).get(reverse("crisis:cap_alert", args=[alert.pk])).content.decode()
    assert 'data-testid="cap-problems"' in page
    # Sent 20:05 WIB is 21:05 WITA; expires 23:10 WIB is 00:10 WITA the next day.
    sent = page[page.index('data-testid="cap-sent"') :][:80]
    assert "21.05" in sent or "21:05" in sent
    assert "Hujan sedang hingga lebat" in page


def test_a_superseded_alert_links_to_what_replaced_it(org, feed, responder, as_user):
    first = receive(feed, "bmkg_style.xml", "https://x/1.xml")
    update = receive(feed, "update.xml", "https://x/2.xml")
    page = as_user(responder).get(reverse("crisis:cap_alert", args=[first.pk])).content.decode()
    assert reverse("crisis:cap_alert", args=[update.pk]) in page
    assert 'data-testid="cap-superseded"' in page


def test_an_admin_adds_a_feed_with_one_audit_entry(org, admin, as_user):
    response = as_user(admin).post(
        reverse("crisis:cap_feed_create"),
        {
            "name": "BMKG nowcast",
            "url": "https://www.bmkg.go.id/alerts/nowcast/id/rss.xml",
            "kind": "rss",
            "enabled": "on",
            "min_interval": "60",
        },
    )
    assert response.status_code == 302
    feed = CapFeed.objects.get(organisation=org)
    assert feed.kind == "rss" and feed.enabled
    assert AuditEntry.objects.filter(action="crisis.cap_feed.created").count() == 1


def test_a_feed_polled_faster_than_once_a_minute_is_refused(org, admin, as_user):
    response = as_user(admin).post(
        reverse("crisis:cap_feed_create"),
        {"name": "Cepat", "url": "https://x.example/rss", "kind": "rss", "min_interval": "10"},
    )
    assert response.status_code == 200
    assert not CapFeed.objects.exists()


def test_changing_a_feeds_address_polls_it_afresh(org, admin, as_user, feed):
    feed.etag = '"abc"'
    feed.last_error = "HTTP 503"
    feed.last_polled_at = NOW
    feed.save()
    as_user(admin).post(
        reverse("crisis:cap_feed_edit", args=[feed.pk]),
        {"name": "BMKG", "url": "https://baru.example/rss", "kind": "atom", "min_interval": "120"},
    )
    feed.refresh_from_db()
    assert (feed.url, feed.kind, feed.enabled, feed.min_interval) == (
        "https://baru.example/rss",
        "atom",
        False,
        120,
    )
    assert feed.etag == "" and feed.last_error == "" and feed.last_polled_at is None
    assert AuditEntry.objects.filter(action="crisis.cap_feed.changed").count() == 1


def test_an_admin_sets_the_area_as_names_and_a_polygon(org, admin, as_user):
    response = as_user(admin).post(
        reverse("crisis:cap_area"),
        {
            "place_names": "Kec. Cicalengka\n\nKab. Bandung\nkab. bandung\n",
            "polygon": "-6.96,107.80\n-6.96,107.82\n-6.99,107.82\n-6.96,107.80\n",
        },
    )
    assert response.status_code == 302
    area = CrisisArea.objects.get(organisation=org)
    assert area.place_names == ["Kec. Cicalengka", "Kab. Bandung"]
    assert area.polygon == [[-6.96, 107.80], [-6.96, 107.82], [-6.99, 107.82]]
    assert AuditEntry.objects.filter(action="crisis.area.changed").count() == 1
    page = as_user(admin).get(reverse("crisis:cap_area")).content.decode()
    assert "Kec. Cicalengka" in page and "-6.99,107.82" in page


@pytest.mark.parametrize("polygon", ["-6.96,107.80\n-6.96,107.82", "utara\n", "95,10\n1,1\n2,2"])
def test_a_bad_polygon_is_refused(org, admin, as_user, polygon):
    response = as_user(admin).post(
        reverse("crisis:cap_area"), {"place_names": "", "polygon": polygon}
    )
    assert response.status_code == 200
    assert not CrisisArea.objects.exists()


def test_a_responder_reads_the_alerts_but_cannot_change_the_feeds(org, feed, responder, as_user):
    client = as_user(responder)
    assert client.get(reverse("crisis:cap_list")).status_code == 200
    assert client.get(reverse("crisis:cap_feed_edit", args=[feed.pk])).status_code == 403
    assert client.get(reverse("crisis:cap_area")).status_code == 403


def test_another_organisations_feed_and_alert_are_not_found(org, feed, other_admin, as_user):
    alert = receive(feed, "bmkg_style.xml", "https://x/1.xml")
    client = as_user(other_admin)
    assert client.get(reverse("crisis:cap_feed_edit", args=[feed.pk])).status_code == 404
    assert client.get(reverse("crisis:cap_alert", args=[alert.pk])).status_code == 404
    assert "Jawa Barat" not in client.get(reverse("crisis:cap_list")).content.decode()


def test_the_spike_list_links_to_the_cap_page(org, responder, as_user):
    page = as_user(responder).get(reverse("crisis:spike_list")).content.decode()
    assert reverse("crisis:cap_list") in page


def test_an_alert_without_a_safe_web_link_shows_none(org, feed, responder, as_user):
    alert = receive(
        feed,
        "bmkg_style.xml",
        "https://x/1.xml",
        **{"https://example.bmkg.go.id/infografis": "javascript:alert(1)//"},
    )
    assert (CapAlert.objects.get(pk=alert.pk).parsed or {})["infos"][0]["web"].startswith(
        "javascript:"
    )
    page = as_user(responder).get(reverse("crisis:cap_alert", args=[alert.pk])).content.decode()
    assert "javascript:alert" not in page
