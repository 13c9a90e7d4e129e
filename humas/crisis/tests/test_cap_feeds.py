"""Polling CAP feeds: storing, duplicates, updates and cancels, who is told, and a
publisher that is down or asks for restraint. HTTP is faked with respx; nothing leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import translation

from humas.accounts.models import AuditEntry, Membership, Notification
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.crisis import feeds
from humas.crisis.models import CapAlert, CapFeed, CrisisArea

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RSS_URL = "https://example.bmkg.go.id/alerts/nowcast/id/rss.xml"
JABAR_URL = "https://example.bmkg.go.id/alerts/nowcast/id/CJB20261129017_alert.xml"
SULSEL_URL = "https://example.bmkg.go.id/alerts/nowcast/id/CSS20261129004_alert.xml"
NOW = datetime(2026, 11, 29, 13, 30, tzinfo=UTC)  # 20:30 WIB, while the nowcast runs


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sulsel_alert() -> bytes:
    """The same nowcast, for Makassar and with the identifier the RSS lists for it."""
    return (
        fixture("bmkg_style.xml")
        .replace(b"2026.11.29.13.05.017", b"2026.11.29.12.50.004")
        .replace(b"<areaDesc>Jawa Barat</areaDesc>", b"<areaDesc>Kota Makassar</areaDesc>")
        .replace(b"-6.950,107.800 -6.970,107.830", b"-5.100,119.400 -5.120,119.430")
        .replace(b"-7.000,107.820 -6.990,107.790 -6.950,107.800", b"-5.150,119.420 -5.100,119.400")
        .replace(
            b"-7.020,107.700 -7.040,107.720 -7.060,107.700 -7.040,107.680 -7.020,107.700",
            b"-5.200,119.500 -5.220,119.520 -5.240,119.500 -5.200,119.500",
        )
    )


def rss(*links: tuple[str, str]) -> bytes:
    items = "".join(
        f"<item><title>t</title><link>{link}</link><guid>{guid}</guid></item>"
        for link, guid in links
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()


@pytest.fixture(autouse=True)
def _english():
    """Messages in English, so tests match the source strings."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _public_network(settings):
    # The fake hosts are not resolved: respx answers before any connection is made.
    settings.HUMAS_ALLOW_PRIVATE_FEEDS = True


@pytest.fixture
def area(org):
    # Around Cicalengka: the Jawa Barat nowcast's first polygon overlaps it.
    return CrisisArea.objects.create(
        organisation=org,
        place_names=["Kab. Bandung"],
        polygon=[[-6.96, 107.80], [-6.96, 107.82], [-6.99, 107.82], [-6.99, 107.80]],
    )


@pytest.fixture
def piket(org):
    person = make_member(org, "piket@satu.go.id", Role.RESPONDER)
    Membership.objects.filter(user=person, organisation=org).update(on_duty=True)
    return person


@pytest.fixture
def feed(org):
    return CapFeed.objects.create(organisation=org, name="BMKG nowcast", url=RSS_URL)


@pytest.fixture
def bmkg(respx_mock):
    respx_mock.get(RSS_URL).mock(
        return_value=httpx.Response(200, content=fixture("nowcast_rss.xml"))
    )
    respx_mock.get(JABAR_URL).mock(
        return_value=httpx.Response(200, content=fixture("bmkg_style.xml"))
    )
    respx_mock.get(SULSEL_URL).mock(return_value=httpx.Response(200, content=sulsel_alert()))
    return respx_mock


def poll(feed, now=NOW, budget=None):
    feed.refresh_from_db()
    return feeds.poll(feed, now, budget=budget or feeds.HostBudget(), sleep=lambda s: None)


def told(kind="crisis.cap"):
    return list(Notification.objects.filter(kind=kind).order_by("pk"))


def store(feed, data, url, now=NOW):
    return feeds.store(feed, data, url=url, now=now)


def test_it_stores_both_alerts_of_the_rss_and_tells_the_on_duty_members_about_ours_only(
    org, feed, area, piket, bmkg
):
    result = poll(feed)
    assert len(result.stored) == 2
    jabar = CapAlert.objects.get(url=JABAR_URL)
    sulsel = CapAlert.objects.get(url=SULSEL_URL)
    assert jabar.matches_area and not sulsel.matches_area
    assert jabar.problems == [] and jabar.msg_type == "Alert"
    assert jabar.headline == "Hujan Sedang hingga Lebat di Jawa Barat"
    assert (jabar.parsed or {})["identifier"] == "2.49.0.1.360.0.2026.11.29.13.05.017"
    notices = told()
    assert [(n.user, n.url) for n in notices] == [(piket, f"/krisis/cap/{jabar.pk}/")]
    assert jabar.notified_at is not None
    assert AuditEntry.objects.filter(action="crisis.cap.notified").count() == 1
    feed.refresh_from_db()
    assert feed.last_error == "" and feed.last_polled_at == NOW


def test_a_second_poll_fetches_no_cap_file_again_and_stores_nothing_twice(org, feed, area, bmkg):
    poll(feed)
    result = poll(feed, NOW + timedelta(minutes=1))
    assert result.polled and result.stored == [] and result.skipped == 2
    assert CapAlert.objects.count() == 2
    assert bmkg.routes[1].call_count == 1
    assert len(told()) == 0  # nobody on duty and no admin: nobody to tell, but no error


def test_the_same_alert_under_another_address_is_recognised_by_its_cap_key(org, feed):
    assert store(feed, fixture("bmkg_style.xml"), "https://a.example/1.xml") is not None
    assert store(feed, fixture("bmkg_style.xml"), "https://b.example/2.xml") is None
    assert CapAlert.objects.count() == 1


def test_an_update_supersedes_the_alert_and_people_are_told_it_was_updated(org, feed, area, piket):
    first = store(feed, fixture("bmkg_style.xml"), JABAR_URL)
    update = store(feed, fixture("update.xml"), "https://example.bmkg.go.id/u.xml")
    first.refresh_from_db()
    assert first.superseded_by == update and not first.cancelled
    titles = [n.title for n in told()]
    assert len(titles) == 2
    # Written in the organisation's language (Indonesian by default), whatever the test's.
    with translation.override(org.default_language):
        updated = translation.gettext("Official warning updated: %(what)s").split("%")[0]
    assert updated.startswith("Peringatan resmi")
    assert titles[1].startswith(updated)


def test_a_cancel_withdraws_the_alert_and_its_update(org, feed, area, piket):
    first = store(feed, fixture("bmkg_style.xml"), JABAR_URL)
    update = store(feed, fixture("update.xml"), "https://example.bmkg.go.id/u.xml")
    cancel = store(feed, fixture("cancel.xml"), "https://example.bmkg.go.id/c.xml")
    first.refresh_from_db()
    update.refresh_from_db()
    assert first.cancelled and update.cancelled
    assert first.superseded_by == cancel and update.superseded_by == cancel
    # The Cancel names no area; it concerns us because what it withdraws did.
    assert cancel.matches_area
    assert len(told()) == 3


def test_an_expired_alert_is_stored_and_flagged_but_nobody_is_told(org, feed, piket):
    CrisisArea.objects.create(organisation=org, place_names=["Bali"])
    alert = store(feed, fixture("expired.xml"), "https://example.bmkg.go.id/old.xml")
    assert alert.expired_on_arrival and alert.matches_area
    assert told() == []


def test_an_invalid_alert_is_kept_with_its_problems_and_nobody_is_told(org, feed, area, piket):
    alert = store(feed, fixture("bad_urgency.xml"), "https://example.bmkg.go.id/bad.xml")
    assert alert.problems and "urgency" in " ".join(alert.problems).lower()
    assert alert.matches_area
    assert told() == []


def test_an_invalid_update_does_not_supersede_anything(org, feed, area):
    first = store(feed, fixture("bmkg_style.xml"), JABAR_URL)
    broken = fixture("update.xml").replace(b"<urgency>Immediate<", b"<urgency>Soonish<")
    assert store(feed, broken, "https://x.example/u.xml").problems
    first.refresh_from_db()
    assert first.superseded_by is None


def test_unreadable_xml_is_kept_once_under_its_address(org, feed):
    store(feed, b"<alert>", "https://example.bmkg.go.id/broken.xml")
    assert store(feed, b"<alert>", "https://example.bmkg.go.id/broken.xml") is None
    alert = CapAlert.objects.get()
    assert alert.problems and alert.sent is None
    assert feeds._already_stored(
        feed, feeds.cap.FeedItem(link="https://example.bmkg.go.id/broken.xml")
    )


def test_a_feed_that_times_out_gets_an_error_and_the_other_feeds_are_still_polled(
    org, feed, area, bmkg
):
    slow = CapFeed.objects.create(organisation=org, name="Lambat", url="https://slow.example/rss")
    bmkg.get(slow.url).mock(side_effect=httpx.ReadTimeout("too slow"))
    stored = feeds.poll_all(NOW, budget=feeds.HostBudget(), sleep=lambda s: None)
    slow.refresh_from_db()
    assert "could not be reached" in slow.last_error and "timed out" in slow.last_error
    assert stored == 2


def test_a_feed_answering_an_error_or_garbage_records_it(org, feed, respx_mock):
    respx_mock.get(RSS_URL).mock(return_value=httpx.Response(503))
    assert "503" in poll(feed).error
    respx_mock.get(RSS_URL).mock(return_value=httpx.Response(200, content=b"<html/>"))
    assert "Not an RSS or Atom feed" in poll(feed, NOW + timedelta(minutes=5)).error


def test_a_feed_is_not_polled_again_before_its_minimum_interval(org, feed, bmkg):
    poll(feed)
    assert not poll(feed, NOW + timedelta(seconds=59)).polled
    assert bmkg.routes[0].call_count == 1
    assert poll(feed, NOW + timedelta(seconds=60)).polled


def test_the_host_budget_counts_the_list_and_the_cap_files_and_defers_the_rest(org, feed, bmkg):
    budget = feeds.HostBudget(per_minute=2)
    result = poll(feed, budget=budget)
    assert len(result.stored) == 1 and result.deferred == 1
    # The validators are not kept after a partial read: the next poll reads the list again.
    assert CapFeed.objects.get(pk=feed.pk).etag == ""
    second_feed = CapFeed.objects.create(organisation=org, name="Lagi", url=RSS_URL + "?2")
    assert not poll(second_feed, NOW + timedelta(seconds=30), budget=budget).polled
    later = poll(feed, NOW + timedelta(minutes=2), budget=budget)
    assert len(later.stored) == 1 and later.skipped == 1


def test_a_single_alert_url_is_stored_from_the_one_request(org, respx_mock):
    url = "https://pvmbg.example/merapi.xml"
    route = respx_mock.get(url).mock(
        return_value=httpx.Response(200, content=fixture("circle.xml"))
    )
    single = CapFeed.objects.create(organisation=org, name="Merapi", url=url, kind="single")
    assert len(poll(single).stored) == 1
    assert route.call_count == 1
    # Read again next time (the address may carry a newer alert), but not stored twice.
    assert poll(single, NOW + timedelta(minutes=1)).stored == []
    assert route.call_count == 2 and CapAlert.objects.count() == 1


def test_a_cap_file_larger_than_the_limit_is_not_read(org, feed, bmkg, monkeypatch):
    # Between the list's size (1.3 kB) and the alerts' (1.7 kB).
    monkeypatch.setattr(feeds, "MAX_FILE_BYTES", 1500)
    error = poll(feed).error
    assert f"{JABAR_URL}: The file is larger than 1500 bytes" in error
    assert CapAlert.objects.count() == 0


def test_an_exercise_for_our_area_is_stored_without_telling_anybody(org, feed, area, piket):
    data = fixture("bmkg_style.xml").replace(b"<status>Actual", b"<status>Exercise")
    assert store(feed, data, JABAR_URL).matches_area
    assert told() == []


def test_the_job_is_registered_every_minute():
    from humas.crisis import jobs  # noqa: F401
    from humas.ops.jobs import JOBS

    assert JOBS["crisis.poll_cap_feeds"].interval == timedelta(seconds=60)


def test_an_unchanged_list_costs_one_conditional_request(org, feed, respx_mock):
    route = respx_mock.get(RSS_URL)
    route.mock(
        return_value=httpx.Response(200, content=rss(), headers={"ETag": '"v1"'}),
    )
    poll(feed)
    route.mock(return_value=httpx.Response(304))
    result = poll(feed, NOW + timedelta(minutes=1))
    assert result.polled and result.error == ""
    assert route.calls.last.request.headers["If-None-Match"] == '"v1"'
