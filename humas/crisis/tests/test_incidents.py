"""Incidents: declared by hand, proposed by a CAP alert or a spike, confirmed, led, noted,
closed; who may do what; the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Membership, Notification
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.crisis import feeds
from humas.crisis import incidents as actions
from humas.crisis.models import (
    CapFeed,
    CrisisArea,
    Incident,
    IncidentEventKind,
    IncidentStatus,
    SpikeAlert,
)

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = datetime(2026, 11, 29, 13, 30, tzinfo=UTC)


@pytest.fixture
def approver(org):
    return make_member(org, "approver@satu.go.id", Role.APPROVER)


@pytest.fixture
def responder(org):
    person = make_member(org, "responder@satu.go.id", Role.RESPONDER)
    Membership.objects.filter(user=person, organisation=org).update(on_duty=True)
    return person


@pytest.fixture
def feed(org):
    CrisisArea.objects.create(organisation=org, place_names=["Jawa Barat"])
    return CapFeed.objects.create(organisation=org, name="BMKG", url="https://x/rss.xml")


@pytest.fixture
def spike(org):
    return SpikeAlert.objects.create(
        organisation=org,
        signal="negative",
        key="banjir",
        key_kind="word",
        window_start=NOW - timedelta(minutes=30),
        window_end=NOW,
        count=12,
        expected=1.0,
        p_value=1e-6,
        peak_count=12,
    )


def receive(feed, name, url, capture, now=NOW, **changes):
    data = (FIXTURES / name).read_bytes()
    for old, new in changes.items():
        data = data.replace(old.encode(), new.encode())
    with capture(execute=True):
        return feeds.store(feed, data, url=url, now=now)


def kinds(incident):
    return list(incident.events.values_list("kind", flat=True))


def test_declaring_an_incident_by_hand_makes_it_active_audited_and_on_the_timeline(
    org, approver, as_user
):
    response = as_user(approver).post(
        reverse("crisis:incident_list"),
        {
            "hazard": "flood",
            "title": "Banjir Cicalengka",
            "area": "Kec. Cicalengka",
            "severity": "severe",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert incident.status == IncidentStatus.ACTIVE
    assert incident.created_by == approver
    assert kinds(incident) == [IncidentEventKind.DECLARED]
    assert incident.severity == "severe"
    assert AuditEntry.objects.filter(action="crisis.incident.declared").count() == 1


def test_a_matching_cap_alert_proposes_one_incident_and_tells_the_on_duty_members(
    org, feed, responder, django_capture_on_commit_callbacks
):
    alert = receive(feed, "bmkg_style.xml", "https://x/1.xml", django_capture_on_commit_callbacks)
    incident = Incident.objects.get()
    assert incident.proposed_by_alert == alert
    assert incident.status == IncidentStatus.PROPOSED
    assert incident.hazard == "extreme_weather"
    assert incident.severity == "moderate"
    assert incident.area == "Jawa Barat"
    assert kinds(incident) == [IncidentEventKind.PROPOSED]
    assert Notification.objects.filter(kind="crisis.incident", user=responder).count() == 1
    # Proposing again from the same alert does nothing.
    assert actions.propose_from_cap(alert, NOW) is None
    assert Incident.objects.count() == 1


def test_the_cap_alert_page_links_to_the_incident_it_proposed(
    org, feed, responder, as_user, django_capture_on_commit_callbacks
):
    alert = receive(feed, "bmkg_style.xml", "https://x/1.xml", django_capture_on_commit_callbacks)
    incident = Incident.objects.get()
    page = as_user(responder).get(reverse("crisis:cap_alert", args=[alert.pk])).content.decode()
    assert reverse("crisis:incident", args=[incident.pk]) in page
    assert 'data-testid="cap-incident"' in page


def test_an_update_adds_to_the_timeline_and_a_cancel_dismisses_the_proposal(
    org, feed, responder, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    receive(feed, "bmkg_style.xml", "https://x/1.xml", capture)
    receive(feed, "update.xml", "https://x/2.xml", capture)
    incident = Incident.objects.get()
    assert kinds(incident) == [IncidentEventKind.PROPOSED, IncidentEventKind.CAP_ALERT]
    assert incident.status == IncidentStatus.PROPOSED
    receive(feed, "cancel.xml", "https://x/3.xml", capture, now=NOW + timedelta(minutes=45))
    incident.refresh_from_db()
    assert Incident.objects.count() == 1
    assert incident.status == IncidentStatus.DISMISSED
    assert kinds(incident)[-1] == IncidentEventKind.CAP_ALERT


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("expired.xml", {}),
        ("bad_urgency.xml", {}),
        ("bmkg_style.xml", {"Jawa Barat": "Sulawesi Selatan"}),
        ("bmkg_style.xml", {"<status>Actual": "<status>Exercise"}),
    ],
)
def test_an_expired_invalid_exercise_or_other_area_alert_proposes_nothing(
    org, feed, responder, django_capture_on_commit_callbacks, name, changes
):
    receive(feed, name, "https://x/1.xml", django_capture_on_commit_callbacks, **changes)
    assert not Incident.objects.exists()


def test_the_hazard_is_guessed_from_indonesian_and_english_words():
    assert actions.guess_hazard("Gempa Bumi M5.2") == "earthquake"
    assert actions.guess_hazard("Banjir bandang") == "flood"
    assert actions.guess_hazard("Tanah longsor") == "landslide"
    assert actions.guess_hazard("Forest fire") == "fire"
    assert actions.guess_hazard("Wabah DBD") == "outbreak"
    assert actions.guess_hazard("something", categories=["Met"]) == "extreme_weather"
    assert actions.guess_hazard("jalan rusak") == "other"


def test_a_responder_proposes_an_incident_from_a_spike_once(org, spike, responder, as_user):
    client = as_user(responder)
    response = client.post(reverse("crisis:spike_propose", args=[spike.pk]))
    incident = Incident.objects.get()
    assert response["Location"] == reverse("crisis:incident", args=[incident.pk])
    assert incident.proposed_by_spike == spike
    assert incident.hazard == "flood"
    client.post(reverse("crisis:spike_propose", args=[spike.pk]))
    assert Incident.objects.count() == 1
    page = client.get(reverse("crisis:spike", args=[spike.pk])).content.decode()
    assert 'data-testid="spike-incident"' in page


def test_an_approver_confirms_leads_notes_and_closes_an_incident(
    org, spike, approver, responder, as_user
):
    incident = actions.propose_from_spike(spike, by=Actor.system())
    client = as_user(approver)
    client.post(reverse("crisis:incident_confirm", args=[incident.pk]))
    client.post(reverse("crisis:incident_lead", args=[incident.pk]), {"lead": responder.pk})
    client.post(reverse("crisis:incident_note", args=[incident.pk]), {"text": "Tim ke lokasi"})
    client.post(reverse("crisis:incident_close", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.CLOSED
    assert incident.lead == responder
    assert incident.closed_at is not None
    assert kinds(incident) == [
        IncidentEventKind.PROPOSED,
        IncidentEventKind.CONFIRMED,
        IncidentEventKind.LEAD_CHANGED,
        IncidentEventKind.NOTE,
        IncidentEventKind.CLOSED,
    ]
    assert AuditEntry.objects.filter(action__startswith="crisis.incident.").count() == 5


def test_a_proposal_can_be_dismissed_but_not_closed(org, spike, approver, as_user):
    incident = actions.propose_from_spike(spike, by=Actor.system())
    client = as_user(approver)
    client.post(reverse("crisis:incident_close", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.PROPOSED
    client.post(reverse("crisis:incident_dismiss", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.DISMISSED


def test_the_lead_must_be_a_member_of_the_organisation(org, other_org, spike, approver, as_user):
    stranger = make_member(other_org, "orang@dua.go.id", Role.ADMIN)
    incident = actions.propose_from_spike(spike, by=Actor.system())
    as_user(approver).post(
        reverse("crisis:incident_lead", args=[incident.pk]), {"lead": stranger.pk}
    )
    incident.refresh_from_db()
    assert incident.lead is None


def test_a_responder_may_read_and_note_but_not_confirm(org, spike, responder, as_user):
    incident = actions.propose_from_spike(spike, by=Actor.system())
    client = as_user(responder)
    assert client.get(reverse("crisis:incident", args=[incident.pk])).status_code == 200
    note = client.post(reverse("crisis:incident_note", args=[incident.pk]), {"text": "cek"})
    assert note.status_code == 302
    confirm = client.post(reverse("crisis:incident_confirm", args=[incident.pk]))
    assert confirm.status_code == 403
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.PROPOSED


def test_an_editor_sees_no_incident_and_another_organisation_gets_a_404(
    org, other_org, spike, editor, as_user
):
    incident = actions.propose_from_spike(spike, by=Actor.system())
    assert as_user(editor).get(reverse("crisis:incident_list")).status_code == 403
    assert as_user(editor).get(reverse("crisis:incident", args=[incident.pk])).status_code == 403
    outsider = make_member(other_org, "admin@dua.go.id", Role.ADMIN)
    url = reverse("crisis:incident", args=[incident.pk])
    assert as_user(outsider).get(url).status_code == 404
    post = as_user(outsider).post(reverse("crisis:incident_close", args=[incident.pk]))
    assert post.status_code == 404


def test_the_list_puts_proposed_first_and_closed_last(org, spike, approver, as_user):
    by = Actor.system()
    closed = actions.declare_incident(org, by=by, hazard="fire", title="Lama")
    actions.close_incident(closed, by=by)
    active = actions.declare_incident(org, by=by, hazard="flood", title="Aktif")
    proposed = actions.propose_from_spike(spike, by=by)
    page = as_user(approver).get(reverse("crisis:incident_list")).content.decode()
    order = [page.index(f'data-testid="incident-{i.pk}"') for i in (proposed, active, closed)]
    assert order == sorted(order)


def test_titles_and_notes_are_escaped(org, approver, as_user):
    by = Actor.system()
    incident = actions.declare_incident(org, by=by, hazard="other", title="<b>judul</b>")
    actions.add_note(incident, by=by, text="<script>alert(1)</script>")
    page = as_user(approver).get(reverse("crisis:incident", args=[incident.pk])).content.decode()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page
    assert "<b>judul</b>" not in page


def test_the_timeline_shows_times_in_the_organisations_zone(org, approver, as_user):
    org.time_zone = "Asia/Jayapura"
    org.save(update_fields=["time_zone"])
    incident = actions.declare_incident(
        org, by=Actor.system(), hazard="flood", title="Banjir", started_at=NOW
    )
    page = as_user(approver).get(reverse("crisis:incident", args=[incident.pk])).content.decode()
    started = page[page.index('data-testid="incident-started"') :][:80]
    # 13:30 UTC is 22:30 WIT.
    assert "22.30" in started or "22:30" in started
