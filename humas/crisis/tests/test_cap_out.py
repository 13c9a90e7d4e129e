"""CAP out: the organisation's own alerts (active and closed incidents) as CAP 1.2 documents
and an Atom feed listing them, public and cacheable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.crisis import cap, cap_out
from humas.crisis import incidents as actions
from humas.crisis.models import CapAlert, Incident, IncidentStatus

pytestmark = pytest.mark.django_db

CAP_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


def declare(org, title="Banjir di Cibeunying", **extra):
    fields = {"hazard": "flood", "area": "Kecamatan Cibeunying", "severity": "severe"}
    return actions.declare_incident(org, by=Actor.system(), title=title, **{**fields, **extra})


def proposed(org, title="Gempa usulan", alert=None):
    return Incident.objects.create(
        organisation=org,
        hazard="earthquake",
        title=title,
        status=IncidentStatus.PROPOSED,
        started_at=timezone.now(),
        proposed_by_alert=alert,
    )


def alert_url(incident):
    return reverse("crisis:cap_out_alert", args=[incident.organisation.slug, incident.pk])


def feed_url(org):
    return reverse("crisis:cap_out_feed", args=[org.slug])


def fetch_alert(client, incident):
    response = client.get(alert_url(incident))
    assert response.status_code == 200, response.content
    data = response.content
    assert cap.validate(data) == []
    return cap.parse(data, strict=True)


def test_a_declared_incident_is_a_valid_cap_alert_with_its_public_fields(client, org):
    incident = declare(org)
    alert = fetch_alert(client, incident)
    assert alert.identifier == f"humas-{org.slug}-incident-{incident.pk}-v1"
    assert alert.sender == urlsplit(settings.SITE_URL).hostname
    assert (alert.status, alert.msg_type, alert.scope) == ("Actual", "Alert", "Public")
    assert alert.references == ()
    assert [info.language for info in alert.infos] == ["id-ID", "en-US"]
    english = alert.infos[1]
    assert english.categories == ("Met",)
    assert english.event == "Flood"
    assert (english.urgency, english.severity, english.certainty) == (
        "Immediate",
        "Severe",
        "Observed",
    )
    assert english.sender_name == org.name
    assert english.headline == "Banjir di Cibeunying"
    assert "Kecamatan Cibeunying" in english.description
    assert [area.desc for area in english.areas] == ["Kecamatan Cibeunying"]


def test_the_same_incident_renders_the_same_message_twice(client, org):
    incident = declare(org)
    assert client.get(alert_url(incident)).content == client.get(alert_url(incident)).content


def test_a_closed_incident_is_an_update_referencing_the_first_alert_and_past(client, org):
    incident = declare(org)
    first = fetch_alert(client, incident)
    actions.close_incident(incident, by=Actor.system())
    closed = fetch_alert(client, incident)
    assert closed.identifier.endswith("-v2")
    assert closed.msg_type == "Update"
    assert closed.references == ((first.sender, first.identifier, first.sent),)
    assert closed.sent >= first.sent
    assert all(info.urgency == "Past" for info in closed.infos)


def test_a_confirmed_proposal_from_an_official_warning_is_likely_not_observed(client, org):
    warning = CapAlert.objects.create(
        organisation=org, identifier="bmkg-1", received_at=timezone.now()
    )
    incident = proposed(org, alert=warning)
    assert client.get(alert_url(incident)).status_code == 404
    actions.confirm_incident(incident, by=Actor.system())
    alert = fetch_alert(client, incident)
    assert alert.infos[0].certainty == "Likely"
    assert alert.infos[0].categories == ("Geo",)


def test_proposed_dismissed_and_other_organisations_incidents_are_not_found(client, org, other_org):
    waiting = proposed(org)
    dismissed = proposed(org, "Ditolak")
    actions.dismiss_incident(dismissed, by=Actor.system())
    theirs = declare(other_org)
    assert client.get(alert_url(waiting)).status_code == 404
    assert client.get(alert_url(dismissed)).status_code == 404
    assert (
        client.get(reverse("crisis:cap_out_alert", args=[org.slug, theirs.pk])).status_code == 404
    )
    assert client.get(reverse("crisis:cap_out_feed", args=["tidak-ada"])).status_code == 404


def test_the_feed_lists_only_this_organisations_confirmed_incidents(client, org, other_org):
    active = declare(org, "Aktif")
    closed = declare(org, "Selesai")
    actions.close_incident(closed, by=Actor.system())
    proposed(org, "Usulan")
    dismissed = proposed(org, "Ditolak")
    actions.dismiss_incident(dismissed, by=Actor.system())
    declare(other_org, "Milik kota lain")
    response = client.get(feed_url(org))
    assert response.status_code == 200
    items = cap.feed_links(response.content)
    expected = {settings.SITE_URL + alert_url(i): i.title for i in (active, closed)}
    assert {item.link: item.title for item in items} == expected
    for item in items:
        data = client.get(item.link.removeprefix(settings.SITE_URL)).content
        assert cap.validate(data) == []


def test_an_incident_closed_more_than_thirty_days_ago_leaves_the_feed(client, org):
    old = declare(org, "Lama")
    actions.close_incident(old, by=Actor.system())
    Incident.objects.filter(pk=old.pk).update(closed_at=timezone.now() - timedelta(days=31))
    assert cap.feed_links(client.get(feed_url(org)).content) == []
    # Its document stays where relays found it.
    assert client.get(alert_url(old)).status_code == 200


def test_the_public_pages_set_no_cookie_and_are_cacheable_for_a_minute(client, org):
    incident = declare(org)
    for url in (feed_url(org), alert_url(incident)):
        response = client.get(url)
        assert response.cookies == {}
        assert "public" in response["Cache-Control"]
        assert "max-age=60" in response["Cache-Control"]
        assert client.post(url).status_code == 405
    assert client.get(alert_url(incident))["Content-Type"].startswith("application/cap+xml")


def test_html_in_a_title_is_escaped_and_the_xml_stays_valid(client, org):
    title = '<script>alert("x")</script> & <b>banjir</b>\x0b'
    incident = declare(org, title=title, area="<img src=x> Cibeunying")
    response = client.get(alert_url(incident))
    assert b"<script>" not in response.content
    assert b"<img" not in response.content
    alert = fetch_alert(client, incident)
    assert alert.infos[0].headline == '<script>alert("x")</script> & <b>banjir</b>'
    feed = client.get(feed_url(org)).content
    assert b"<script>" not in feed
    assert cap.feed_links(feed)[0].title == '<script>alert("x")</script> & <b>banjir</b>'


def test_times_are_whole_seconds_with_the_organisations_offset(client, org):
    started = datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC)
    incident = declare(org, started_at=started)
    actions.close_incident(incident, by=Actor.system())
    data = client.get(alert_url(incident)).content.decode()
    times = re.findall(r"<(?:sent)>([^<]+)<", data) + [
        r.split(",")[2] for r in re.findall(r"<references>([^<]+)<", data)
    ]
    assert len(times) == 2
    offset = timezone.now().astimezone(cap_out.ZoneInfo(org.time_zone)).strftime("%z")
    for value in times:
        assert CAP_TIME.match(value), value
        assert value.endswith(f"{offset[:3]}:{offset[3:]}")


def test_the_incident_list_links_to_the_feed(client, org):
    person = make_member(org, "pimpinan@satu.go.id", Role.ADMIN)
    client.force_login(person)
    page = client.get(reverse("crisis:incident_list")).content.decode()
    assert feed_url(org) in page
