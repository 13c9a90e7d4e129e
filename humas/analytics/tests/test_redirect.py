"""``/l/<code>``: a 302 to the destination, one click counted per person, nothing kept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from unittest import mock

import pytest
from django.db.models import Sum

from humas.accounts.models import Organisation
from humas.analytics.models import Conversion, LinkClickDay, TrackedLink
from humas.analytics.tests.conftest import BROWSER

pytestmark = pytest.mark.django_db


def clicks(link: TrackedLink, day: date | None = None) -> int:
    rows = LinkClickDay.objects.filter(link=link)
    if day is not None:
        rows = rows.filter(day=day)
    return rows.aggregate(n=Sum("clicks"))["n"] or 0


def test_it_redirects_to_the_destination_with_the_code_for_the_landing_page(visitor, link):
    response = visitor.get(f"/l/{link.code}")
    assert response.status_code == 302
    assert response["Location"] == (
        "https://dinkes.satu.go.id/imunisasi?ref=kampanye&utm_source=bluesky"
        f"&utm_medium=social&utm_campaign=imunisasi-anak&hl={link.code}"
    )
    assert response["Cache-Control"] == "no-store"


def test_it_counts_each_click(visitor, link):
    for _ in range(3):
        visitor.get(f"/l/{link.code}")
    assert clicks(link) == 3


def test_it_answers_an_anonymous_visitor_with_one_lookup_and_one_counter_write(
    visitor, link, django_assert_num_queries
):
    # No session, user, membership or notification query: a citizen without cookies costs
    # the link lookup and the counter upsert, nothing else.
    with django_assert_num_queries(2):
        assert visitor.get(f"/l/{link.code}").status_code == 302


def test_even_through_the_whole_middleware_chain_an_anonymous_click_costs_two_queries(
    visitor, link, settings, django_assert_num_queries
):
    # Without the short cut: sessions, authentication, the organisation and language
    # middleware must not touch the database for a visitor without cookies either.
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "humas.analytics.middleware.TrackedLinkMiddleware"
    ]
    with django_assert_num_queries(2):
        assert visitor.get(f"/l/{link.code}").status_code == 302
    assert not visitor.cookies


def test_it_counts_by_day_in_the_organisations_time_zone_across_midnight(visitor, link):
    Organisation.objects.filter(pk=link.organisation_id).update(time_zone="Asia/Jayapura")
    # 14:59 UTC is 23:59 on the 4th in Jayapura (UTC+9); 15:00 UTC is 00:00 on the 5th.
    for moment in (
        datetime(2026, 12, 4, 14, 59, tzinfo=UTC),
        datetime(2026, 12, 4, 15, 0, tzinfo=UTC),
    ):
        with mock.patch("django.utils.timezone.now", return_value=moment):
            visitor.get(f"/l/{link.code}")
    assert clicks(link, date(2026, 12, 4)) == 1
    assert clicks(link, date(2026, 12, 5)) == 1


def test_the_same_utc_moment_is_a_different_day_in_jakarta(visitor, link):
    with mock.patch(
        "django.utils.timezone.now", return_value=datetime(2026, 12, 4, 16, 59, tzinfo=UTC)
    ):
        visitor.get(f"/l/{link.code}")
    assert clicks(link, date(2026, 12, 4)) == 1  # 23:59 WIB


@pytest.mark.parametrize(
    "agent",
    [
        "TelegramBot (like TwitterBot)",
        "Twitterbot/1.0",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "http.rb/5.1.1 (Mastodon/4.2.1; +https://kota.social/)",
        "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
        "",
    ],
)
def test_link_preview_fetchers_are_redirected_but_not_counted(client, link, agent):
    response = client.get(f"/l/{link.code}", HTTP_USER_AGENT=agent)
    assert response.status_code == 302
    assert clicks(link) == 0


def test_a_head_request_is_redirected_but_not_counted(visitor, link):
    assert visitor.head(f"/l/{link.code}").status_code == 302
    assert clicks(link) == 0


def test_a_browser_prefetch_is_not_a_click(visitor, link):
    visitor.get(f"/l/{link.code}", HTTP_SEC_PURPOSE="prefetch;prerender")
    assert clicks(link) == 0


def test_an_unknown_code_is_a_friendly_404_in_the_visitors_language(client):
    client.cookies.clear()
    response = client.get("/l/tidakada", HTTP_USER_AGENT=BROWSER, HTTP_ACCEPT_LANGUAGE="id")
    assert response.status_code == 404
    assert response["Content-Language"] == "id"
    assert '<html lang="id">' in response.content.decode()
    response = client.get("/l/tidakada", HTTP_USER_AGENT=BROWSER, HTTP_ACCEPT_LANGUAGE="en-GB")
    assert response.status_code == 404
    assert response["Content-Language"] == "en"
    assert "Link not found" in response.content.decode()


def test_a_visitor_without_a_language_preference_gets_indonesian(client):
    client.cookies.clear()
    response = client.get("/l/tidakada", HTTP_USER_AGENT=BROWSER)
    assert response["Content-Language"] == "id"


def test_an_overlong_code_is_a_404_without_a_lookup(visitor, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert visitor.get("/l/" + "a" * 40).status_code == 404


def test_an_inactive_link_no_longer_redirects(visitor, link):
    TrackedLink.objects.filter(pk=link.pk).update(is_active=False)
    assert visitor.get(f"/l/{link.code}").status_code == 404
    assert clicks(link) == 0


def test_a_post_to_the_link_is_refused(visitor, link):
    assert visitor.post(f"/l/{link.code}").status_code == 405


def test_nothing_about_the_visitor_is_stored(visitor, link):
    visitor.get(
        f"/l/{link.code}",
        REMOTE_ADDR="203.0.113.77",
        HTTP_REFERER="https://t.co/abc",
    )
    # The click tables hold counters and the conversion table holds numbers, labels and a
    # hash: no address, agent, referrer, cookie or person. A new field fails this on purpose.
    assert {f.name for f in LinkClickDay._meta.get_fields()} == {
        "id",
        "link",
        "day",
        "slot",
        "clicks",
    }
    assert {f.name for f in Conversion._meta.get_fields()} == {
        "id",
        "organisation",
        "link",
        "day",
        "count",
        "value",
        "label",
        "source",
        "dedupe_key",
        "created_at",
    }
    row = LinkClickDay.objects.get(link=link)
    assert "203.0.113.77" not in str(row.__dict__)
    assert "sessionid" not in visitor.cookies


def test_a_code_is_url_safe_and_unguessable(link):
    assert len(link.code) == 8
    assert set(link.code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert TrackedLink._meta.get_field("code").unique


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_clicks_on_one_link_are_all_counted(link):
    import threading

    from django.db import connection

    from humas.analytics.tracking import count_click

    def click_many() -> None:
        try:
            for _ in range(50):
                count_click(link.pk, date(2026, 12, 4))
        finally:
            connection.close()

    threads = [threading.Thread(target=click_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clicks(link, date(2026, 12, 4)) == 400
    # spread over the slots instead of one hot row
    assert LinkClickDay.objects.filter(link=link).count() > 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_click_write_skips_the_wal_flush_for_itself_only(link):
    from django.db import connection, transaction

    from humas.analytics.tracking import count_click

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    count_click(link.pk, date(2026, 12, 4))
    assert setting() == "on"
    # Inside a caller's transaction the plain upsert is used: their commit stays durable.
    with transaction.atomic():
        count_click(link.pk, date(2026, 12, 4))
        assert setting() == "on"
    assert clicks(link, date(2026, 12, 4)) == 2


def test_the_redirect_skips_sessions_but_keeps_the_security_headers(visitor, link):
    response = visitor.get(f"/l/{link.code}")
    assert response["X-Content-Type-Options"] == "nosniff"
    # No Referer for the landing page: where the visitor clicked stays with them.
    assert response["Referrer-Policy"] == "same-origin"
    assert "Vary" not in response
    assert not response.cookies


def test_the_not_found_page_refuses_framing_and_scripts(visitor):
    response = visitor.get("/l/tidakada")
    assert response["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_a_code_with_a_trailing_slash_or_odd_characters_is_not_found(visitor, link):
    assert visitor.get(f"/l/{link.code}/").status_code == 404
    assert visitor.get("/l/a.b").status_code == 404


def test_an_unknown_host_is_refused_before_the_lookup(client, link):
    response = client.get(f"/l/{link.code}", HTTP_HOST="evil.example", HTTP_USER_AGENT="Mozilla")
    assert response.status_code == 400


def test_new_codes_never_start_with_a_character_a_spreadsheet_reads_as_a_formula(monkeypatch):
    from humas.analytics import models

    drawn = iter(["-abc12345", "_xyz12345", "Q7k2mZ9a"])
    monkeypatch.setattr(models.secrets, "token_urlsafe", lambda n: next(drawn))
    assert models.new_code() == "Q7k2mZ9a"
