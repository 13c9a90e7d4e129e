"""The transparency page in a browser: an administrator publishes it, a citizen reads it.

The administrator publishes from the settings page and sees the preview; a citizen, in a
browser of their own and without an account, opens the public address, reads the figures in
Bahasa Indonesia, switches to English, and the page breaks no rule of the Content Security
Policy (the bars are drawn with classes, not inline styles). Withdrawing it closes the address.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.inbox.models import Conversation
from humas.inbox.testing import make_conversation
from humas.publishing.testing import make_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ombak-tenang-pulau-tiga"


def test_an_admin_publishes_the_page_and_a_citizen_reads_it(
    page, live_server, settings, browser, artifacts
):
    settings.SITE_URL = live_server.url
    org = make_org("Pemerintah Kota Terbuka", time_zone="Asia/Makassar")
    admin = make_member(org, "admin@terbuka.go.id", Role.ADMIN, password=PASSWORD)
    admin.language = "en"
    admin.save()
    channel = make_channel(org, "@kotaterbuka")
    opened = timezone.now() - timedelta(days=3)
    for wait, category in ((20, "complaint"), (40, "information_request"), (None, "spam")):
        made = make_conversation(channel, f"Pesan warga {category}", author=f"warga-{category}")
        Conversation.objects.filter(pk=made.pk).update(
            opened_at=opened,
            category=category,
            responded_at=opened + timedelta(minutes=wait) if wait else None,
        )

    # 1. The administrator publishes the page and sees the preview.
    page.goto("/masuk/")
    page.locator("input[name=username]").fill("admin@terbuka.go.id")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")
    page.goto("/analitik/transparansi/")
    page.locator("[data-testid=tp-publish]").click()
    public_url = page.locator("[data-testid=tp-public-url]").inner_text()
    assert public_url == f"{live_server.url}/transparansi/{org.slug}/"
    assert page.locator("[data-testid=tp-total]").inner_text() == "3"

    # 2. A citizen reads it, in Indonesian, then in English.
    citizen = browser.new_context(locale="id-ID")
    visit = citizen.new_page()
    console: list[str] = []
    visit.on("console", lambda msg: console.append(msg.text))
    visit.goto(public_url)
    assert visit.locator("html").get_attribute("lang") == "id"
    assert visit.locator("[data-testid=tp-total]").inner_text() == "3"
    # The complaints bar is a third of the track: drawn by a class, without inline style.
    bar = visit.locator("[data-testid=tp-bars] li").first.locator(".tp-bar")
    track = visit.locator("[data-testid=tp-bars] li").first.locator(".tp-track")
    ratio = bar.bounding_box()["width"] / track.bounding_box()["width"]
    assert 0.3 <= ratio <= 0.36
    visit.locator("[data-testid=lang-en]").click()
    visit.wait_for_selector("html[lang=en]")
    assert "What these figures mean" in visit.content()
    assert visit.locator("[data-testid=tp-wait]").inner_text() == "30 min"
    visit.screenshot(path=str(artifacts / "transparency-page.png"), full_page=True)
    assert not citizen.cookies()
    assert not [m for m in console if "Content Security Policy" in m]

    citizen.close()

    # 3. Withdrawn, the address no longer answers (a browser that has the page keeps its
    # copy for up to 15 minutes: Cache-Control, see docs/transparency.md).
    page.locator("[data-testid=tp-withdraw]").click()
    page.wait_for_selector("[data-testid=tp-publish]")
    later = browser.new_context(locale="id-ID")
    assert later.new_page().goto(public_url).status == 404
    later.close()
