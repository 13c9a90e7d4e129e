"""The crisis pages in a browser: a spike noticed and acknowledged, an official warning read.

A burst of citizens' messages (stored the real way, then judged by the real spike job) raises
alerts; a responder finds them from the inbox, reads the messages that made one (a citizen's
HTML shown as text) and acknowledges it, which sends it to the end of the list. An
administrator sets the organisation's area and adds BMKG's nowcast feed on the CAP pages;
the feed is polled in-process with HTTP faked by respx (nothing leaves), and the warning for
the area comes first, marked as ours, with its figures on its own page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
from humas.crisis import actions, feeds
from humas.crisis.models import CapAlert, CapFeed, CrisisArea, SpikeAlert
from humas.crisis.testing import arrive
from humas.publishing.testing import make_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "hujan-deras-kali-meluap"
FIXTURES = Path(__file__).resolve().parents[2] / "humas" / "crisis" / "tests" / "fixtures"
#: 10:00 in Jakarta: the spike job's run.
SPIKE_AT = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)
BURST = "Air <b>banjir</b> masuk rumah di Cipinang"
RSS_URL = "https://example.bmkg.go.id/alerts/nowcast/id/rss.xml"
JABAR_URL = "https://example.bmkg.go.id/alerts/nowcast/id/CJB20261129017_alert.xml"
SULSEL_URL = "https://example.bmkg.go.id/alerts/nowcast/id/CSS20261129004_alert.xml"
#: 20:30 WIB, while the nowcast is valid.
POLL_AT = datetime(2026, 11, 29, 13, 30, tzinfo=UTC)


def sign_in(page, email: str) -> None:
    page.goto("/masuk/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")


def member(org, email: str, role: str):
    person = make_member(org, email, role, password=PASSWORD)
    person.language = "en"
    person.save()
    return person


def row_ids(page, table: str) -> list[str]:
    return [
        row.get_attribute("data-testid") or ""
        for row in page.locator(f"[data-testid={table}] tbody tr").all()
    ]


def test_a_responder_finds_a_spike_from_the_inbox_and_acknowledges_it(
    page,
    fake_network,  # noqa: F811
):
    org = make_org("Pemerintah Kota Siaga")
    member(org, "piket@siaga.go.id", Role.RESPONDER)
    channel = make_channel(org, "pemkot-siaga")
    # One quiet message at this hour on each of the five days before, then eight at once.
    arrive(
        channel,
        "Terima kasih atas pelayanannya",
        [SPIKE_AT - timedelta(days=d, minutes=30) for d in range(1, 6)],
    )
    burst = arrive(channel, BURST, [SPIKE_AT - timedelta(minutes=50 - i) for i in range(8)])
    raised = actions.detect_spikes(org, SPIKE_AT)
    assert ("inbound", "") in {(a.signal, a.key) for a in raised}
    assert len(raised) > 1  # the words and the place spiked too: the list has an order
    # Same window for all: the whole organisation's alert is listed first, and opened.
    chosen = next(a for a in raised if (a.signal, a.key) == ("inbound", ""))

    sign_in(page, "piket@siaga.go.id")
    page.locator("[data-testid=inbox-link]").click()
    page.locator("[data-testid=spike-alerts-link]").click()
    page.wait_for_selector("[data-testid=spike-table]")
    before = row_ids(page, "spike-table")
    assert set(before) == {f"spike-{a.pk}" for a in raised}
    ours = page.locator(f"[data-testid=spike-{chosen.pk}]")
    assert ours.locator("[data-testid=spike-open]").count() == 1
    assert before[0] == f"spike-{chosen.pk}"

    # The alert's page: the messages that made it, the citizen's HTML as text.
    ours.locator("a").first.click()
    page.wait_for_selector("[data-testid=spike-title]")
    assert page.locator("[data-testid=spike-messages] tbody tr").count() == len(burst)
    shown = page.locator(f"[data-testid=spike-message-{burst[0].pk}]")
    assert BURST in shown.inner_text()
    assert shown.locator("b").count() == 0
    assert "8 messages" in page.locator("[data-testid=spike-count]").inner_text()

    page.locator("[data-testid=spike-acknowledge]").click()
    page.wait_for_selector("[data-testid=spike-acknowledged]")
    assert "Alert acknowledged." in page.locator(".messages").inner_text()
    assert page.locator("[data-testid=spike-acknowledge]").count() == 0
    chosen.refresh_from_db()
    assert chosen.acknowledged_at is not None

    # Back on the list it is acknowledged, and after every alert still open.
    page.locator("a[href='/krisis/lonjakan/']").first.click()
    page.wait_for_selector("[data-testid=spike-table]")
    after = row_ids(page, "spike-table")
    assert after[-1] == f"spike-{chosen.pk}"
    ours = page.locator(f"[data-testid=spike-{chosen.pk}]")
    assert ours.locator("[data-testid=spike-acknowledged]").count() == 1
    assert ours.locator("[data-testid=spike-open]").count() == 0
    assert page.locator("[data-testid=spike-open]").count() == len(raised) - 1
    assert SpikeAlert.objects.filter(acknowledged_at__isnull=False).count() == 1
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
    assert not [m for m in page.console_messages if "error" in m.lower()]


def sulsel_alert() -> bytes:
    """The Jawa Barat nowcast moved to Makassar, with the identifier the RSS lists for it
    (as ``humas/crisis/tests/test_cap_feeds.py`` builds it)."""
    return (
        (FIXTURES / "bmkg_style.xml")
        .read_bytes()
        .replace(b"2026.11.29.13.05.017", b"2026.11.29.12.50.004")
        .replace(b"<areaDesc>Jawa Barat</areaDesc>", b"<areaDesc>Kota Makassar</areaDesc>")
        .replace(b"-6.950,107.800 -6.970,107.830", b"-5.100,119.400 -5.120,119.430")
        .replace(b"-7.000,107.820 -6.990,107.790 -6.950,107.800", b"-5.150,119.420 -5.100,119.400")
        .replace(
            b"-7.020,107.700 -7.040,107.720 -7.060,107.700 -7.040,107.680 -7.020,107.700",
            b"-5.200,119.500 -5.220,119.520 -5.240,119.500 -5.200,119.500",
        )
    )


def test_an_admin_sets_the_area_adds_a_feed_and_reads_the_warning_for_it(
    page, settings, respx_mock
):
    # The fake hosts are never resolved: respx answers before any connection is made.
    settings.HUMAS_ALLOW_PRIVATE_FEEDS = True
    respx_mock.get(RSS_URL).mock(
        return_value=httpx.Response(200, content=(FIXTURES / "nowcast_rss.xml").read_bytes())
    )
    respx_mock.get(JABAR_URL).mock(
        return_value=httpx.Response(200, content=(FIXTURES / "bmkg_style.xml").read_bytes())
    )
    respx_mock.get(SULSEL_URL).mock(return_value=httpx.Response(200, content=sulsel_alert()))
    org = make_org("Pemerintah Kabupaten Bandung")
    member(org, "admin@bandung.go.id", Role.ADMIN)

    sign_in(page, "admin@bandung.go.id")
    page.goto("/krisis/lonjakan/")
    page.locator("[data-testid=cap-link]").click()
    page.wait_for_selector("[data-testid=cap-feeds]")

    # 1. The area, by place names.
    page.locator("[data-testid=cap-area-link]").click()
    form = page.locator("[data-testid=cap-area-form]")
    form.locator("textarea[name=place_names]").fill("Kec. Cicalengka\nJawa Barat")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=cap-feeds]")
    assert "Area saved." in page.locator(".messages").inner_text()
    assert CrisisArea.objects.get(organisation=org).place_names == [
        "Kec. Cicalengka",
        "Jawa Barat",
    ]

    # 2. The feed.
    page.locator("[data-testid=cap-feed-new]").click()
    form = page.locator("[data-testid=cap-feed-form]")
    form.locator("input[name=name]").fill("BMKG nowcast")
    form.locator("input[name=url]").fill(RSS_URL)
    form.locator("select[name=kind]").select_option("rss")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=cap-feeds]")
    assert "Feed saved." in page.locator(".messages").inner_text()
    feed = CapFeed.objects.get(organisation=org)
    assert page.locator(f"[data-testid=cap-feed-{feed.pk}]").count() == 1
    assert "No alerts received so far." in page.locator("[data-testid=cap-alerts]").inner_text()

    # 3. The worker's poll, in-process, against the faked publisher.
    result = feeds.poll(feed, POLL_AT, budget=feeds.HostBudget(), sleep=lambda s: None)
    assert len(result.stored) == 2 and result.error == ""
    jabar = CapAlert.objects.get(url=JABAR_URL)
    sulsel = CapAlert.objects.get(url=SULSEL_URL)

    # 4. Ours first and marked as ours; the other one after it, unmarked.
    page.reload()
    assert row_ids(page, "cap-alerts") == [f"cap-alert-{jabar.pk}", f"cap-alert-{sulsel.pk}"]
    first = page.locator(f"[data-testid=cap-alert-{jabar.pk}]")
    assert first.locator("[data-testid=cap-ours]").count() == 1
    assert page.locator(f"[data-testid=cap-alert-{sulsel.pk}] [data-testid=cap-ours]").count() == 0

    first.locator("a").first.click()
    page.wait_for_selector("[data-testid=cap-title]")
    assert page.locator("[data-testid=cap-title]").inner_text() == (
        "Hujan Sedang hingga Lebat di Jawa Barat"
    )
    assert page.locator("[data-testid=cap-event]").inner_text() == (
        "Hujan Sedang hingga Lebat dan Angin Kencang"
    )
    assert "Immediate / Moderate / Observed" in page.locator("main dl").inner_text()
    assert page.locator("[data-testid=cap-area]").inner_text() == "Jawa Barat"
    assert page.locator("[data-testid=cap-ours]").count() == 1
    assert page.locator("[data-testid=cap-problems]").count() == 0
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
    assert not [m for m in page.console_messages if "error" in m.lower()]
