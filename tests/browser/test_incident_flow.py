"""An incident in a browser: BMKG's nowcast for our area, read by the feed poller (HTTP
faked by respx, nothing leaves), proposes an incident; an approver finds it on /krisis/,
confirms it, makes themselves its lead, adds a note and reads the timeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.crisis import feeds
from humas.crisis.models import CapFeed, CrisisArea, Incident, IncidentStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "hujan-deras-kali-meluap"
FIXTURES = Path(__file__).resolve().parents[2] / "humas" / "crisis" / "tests" / "fixtures"
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


def test_an_approver_confirms_an_incident_proposed_by_an_official_warning(
    page, settings, respx_mock
):
    settings.HUMAS_ALLOW_PRIVATE_FEEDS = True
    respx_mock.get(RSS_URL).mock(
        return_value=httpx.Response(200, content=(FIXTURES / "nowcast_rss.xml").read_bytes())
    )
    respx_mock.get(JABAR_URL).mock(
        return_value=httpx.Response(200, content=(FIXTURES / "bmkg_style.xml").read_bytes())
    )
    respx_mock.get(SULSEL_URL).mock(return_value=httpx.Response(404))
    org = make_org("Pemerintah Kabupaten Bandung")
    approver = make_member(org, "approver@bandung.go.id", Role.APPROVER, password=PASSWORD)
    approver.language = "en"
    approver.save()
    make_member(org, "admin@bandung.go.id", Role.ADMIN, password=PASSWORD)
    CrisisArea.objects.create(organisation=org, place_names=["Jawa Barat"])
    feed = CapFeed.objects.create(organisation=org, name="BMKG nowcast", url=RSS_URL)

    feeds.poll(feed, POLL_AT, budget=feeds.HostBudget(), sleep=lambda s: None)
    incident = Incident.objects.get(organisation=org)
    assert incident.status == IncidentStatus.PROPOSED

    sign_in(page, "approver@bandung.go.id")
    page.locator("[data-testid=crisis-link]").click()
    page.wait_for_selector("[data-testid=incident-table]")
    row = page.locator(f"[data-testid=incident-{incident.pk}]")
    assert "Proposed" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_selector("[data-testid=incident-title]")
    assert page.locator("[data-testid=incident-hazard]").inner_text() == "Extreme weather"
    assert page.locator("[data-testid=incident-cap]").count() == 1

    page.locator("[data-testid=incident-confirm]").click()
    page.wait_for_selector("[data-testid=incident-close]")
    assert page.locator("[data-testid=incident-status]").inner_text() == "Active"

    page.locator("[data-testid=incident-lead-form] select[name=lead]").select_option(
        str(approver.pk)
    )
    page.locator("[data-testid=incident-lead-save]").click()
    page.wait_for_selector("[data-testid=incident-event-lead_changed]")
    assert page.locator("[data-testid=incident-lead]").inner_text() == str(approver)

    page.locator("[data-testid=incident-note-form] textarea[name=text]").fill(
        "Tim <b>BPBD</b> menuju Cicalengka"
    )
    page.locator("[data-testid=incident-note-add]").click()
    page.wait_for_selector("[data-testid=incident-event-note]")
    note = page.locator("[data-testid=incident-event-note]")
    assert "Tim <b>BPBD</b> menuju Cicalengka" in note.inner_text()
    assert note.locator("b").count() == 0
    kinds = [
        r.get_attribute("data-testid")
        for r in page.locator("[data-testid=incident-timeline] tbody tr").all()
    ]
    assert kinds == [
        "incident-event-proposed",
        "incident-event-confirmed",
        "incident-event-lead_changed",
        "incident-event-note",
    ]
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACTIVE and incident.lead == approver
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
    assert not [m for m in page.console_messages if "error" in m.lower()]
