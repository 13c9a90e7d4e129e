"""An incident's messages: which citizens' messages are tied to it, the job that ties them,
and the inbox listing their conversations first while the incident is active."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.accounts.roles import PERMISSIONS, Role
from humas.accounts.testing import make_member
from humas.channels.models import InboundEvent
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
from humas.crisis import incidents
from humas.crisis.incident_messages import (
    first_conversations,
    incident_terms,
    link_all,
    link_messages,
)
from humas.crisis.jobs import link_incident_messages
from humas.crisis.models import Incident, IncidentMessage
from humas.crisis.testing import arrive
from humas.inbox import actions as inbox_actions
from humas.publishing.testing import make_channel

pytestmark = pytest.mark.django_db

#: When the flood began (10:00 in Bandung on a Wednesday).
STARTED = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)
DURING = STARTED + timedelta(minutes=20)
INBOX = reverse("inbox:list")
PHONE = "081234567890"


@pytest.fixture
def channel(org, fake_network):  # noqa: F811
    return make_channel(org, "pemkot-satu")


@pytest.fixture
def other_channel(other_org, fake_network):  # noqa: F811
    return make_channel(other_org, "pemkot-dua")


@pytest.fixture
def responder(org):
    return make_member(org, "responder@satu.go.id", Role.RESPONDER)


def active(org, *, hazard="flood", **fields):
    # Made directly: what declaring an incident sets off (holding posts) is not the subject.
    return Incident.objects.create(
        organisation=org, status="active", hazard=hazard, started_at=STARTED, **fields
    )


@pytest.fixture
def flood(org):
    return active(org, title="Banjir Coblong", area="Kecamatan Coblong, Kec. Sukajadi")


def linked(incident):
    return dict(
        IncidentMessage.objects.filter(incident=incident).values_list("message_id", "matched_on")
    )


def first_box(client):
    """The sections above the inbox list, as their periodic refresh asks for them."""
    response = client.get(INBOX, {"fragment": "first"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def test_the_terms_are_the_places_without_their_prefix_and_the_hazards_words(org):
    incident = Incident(
        organisation=org,
        hazard="flood",
        area="Kecamatan Coblong, Kec. Sukajadi",
        started_at=STARTED,
    )
    assert incident_terms(incident) == [
        ("area", "coblong"),
        ("area", "sukajadi"),
        ("hazard", "banjir"),
        ("hazard", "flood"),
    ]


def test_a_cap_area_is_split_on_semicolons_and_dan_and_short_names_are_left_out(org):
    incident = Incident(
        organisation=org,
        hazard="landslide",
        area="Kab. Bandung Barat; Desa Ciu dan Kota Cimahi",
        started_at=STARTED,
    )
    assert incident_terms(incident) == [
        ("area", "bandung barat"),
        ("area", "cimahi"),
        ("hazard", "longsor"),
        ("hazard", "landslide"),
    ]


def test_a_message_naming_the_area_during_the_incident_is_linked(
    flood, channel, other_channel, org
):
    (ours,) = arrive(channel, "Banjir di COBLONG sudah sepinggang", [DURING])
    (before,) = arrive(channel, "Banjir di coblong", [STARTED - timedelta(minutes=5)])
    (theirs,) = arrive(other_channel, "Banjir di coblong", [DURING])
    (elsewhere,) = arrive(channel, "Jalan rusak di Coblongan", [DURING])
    assert link_all(flood) == 1
    assert linked(flood) == {ours.pk: "area:coblong"}
    assert before.pk not in linked(flood)
    assert theirs.pk not in linked(flood)
    assert elsewhere.pk not in linked(flood)


def test_an_emergency_without_the_place_is_linked(flood, channel):
    (sos,) = arrive(
        channel, "Tolong ada orang terjebak", [DURING], labels={"category": "emergency"}
    )
    (critical,) = arrive(channel, "Cepat tolong", [DURING], labels={"urgency": "critical"})
    (ordinary,) = arrive(channel, "Tolong cek lampu jalan", [DURING])
    link_all(flood)
    assert linked(flood) == {sos.pk: "emergency", critical.pk: "emergency"}
    assert ordinary.pk not in linked(flood)


def test_a_hazard_word_alone_links_only_when_the_incident_has_no_place(org, flood, channel):
    nowhere = active(org, title="Banjir")
    (wet,) = arrive(channel, "Rumah kami kebanjiran pak", [DURING])
    link_all(flood)
    link_all(nowhere)
    assert linked(flood) == {}
    assert linked(nowhere) == {wet.pk: "hazard:banjir"}


def test_linking_twice_links_once(flood, channel):
    (message,) = arrive(channel, "Banjir di Sukajadi", [DURING])
    assert link_all(flood) == 1
    assert link_all(flood) == 0
    assert link_messages(flood, since=timezone.now() - timedelta(minutes=10)) == 0
    assert IncidentMessage.objects.filter(message=message).count() == 1


def test_the_job_links_messages_that_arrived_lately_even_if_written_long_before(flood, channel):
    (read_long_ago,) = arrive(channel, "Banjir di sukajadi", [DURING])
    InboundEvent.objects.filter(message=read_long_ago).update(
        received_at=timezone.now() - timedelta(hours=1)
    )
    # Written at the start of the flood, received now: a channel's backlog after an outage.
    (late,) = arrive(channel, "Banjir di coblong", [DURING])
    assert link_incident_messages() == 1
    assert linked(flood) == {late.pk: "area:coblong"}
    # The one-time full reading (when the incident became active) is what finds older ones.
    assert link_all(flood) == 1


def test_the_job_leaves_closed_incidents_alone(flood, channel):
    incidents.close_incident(flood, by=Actor.system("tests"))
    arrive(channel, "Banjir di coblong", [timezone.now()])
    assert link_incident_messages() == 0


def test_the_inbox_shows_the_incidents_conversations_first(flood, channel, responder, as_user):
    (message,) = arrive(channel, "Banjir di coblong, air masuk rumah", [DURING])
    arrive(channel, "Lampu jalan mati", [DURING + timedelta(minutes=5)])
    link_all(flood)
    page = as_user(responder).get(INBOX).content.decode()
    box = page.index('data-testid="first-section"')
    assert box < page.index('data-testid="inbox-table"')
    section = page[box : page.index('data-testid="inbox-table"')]
    assert "Banjir Coblong" in section
    assert reverse("crisis:incident", args=[flood.pk]) in section
    assert reverse("inbox:conversation", args=[message.conversation_id]) in section
    assert "Lampu jalan mati" not in section


def test_the_box_masks_personal_data_for_a_role_without_the_right(
    flood, channel, responder, as_user, monkeypatch
):
    arrive(channel, f"Banjir di coblong, hubungi {PHONE}", [DURING])
    link_all(flood)
    assert PHONE in first_box(as_user(responder))
    monkeypatch.setitem(PERMISSIONS, "personal_data.view", (frozenset({Role.ADMIN}), "test"))
    box = first_box(as_user(responder))
    assert 'data-testid="first-section"' in box
    assert "coblong" in box.lower()
    assert PHONE not in box


def test_a_unit_agent_sees_only_their_units_conversations_and_no_incident_link(
    flood, channel, responder, agent, unit, as_user
):
    (ours,) = arrive(channel, "Banjir di coblong", [DURING], author="a")
    (not_ours,) = arrive(channel, "Banjir di sukajadi", [DURING], author="b")
    inbox_actions.route_conversation(ours.conversation, unit, by=Actor(user=responder))
    link_all(flood)
    box = first_box(as_user(agent))
    assert reverse("inbox:conversation", args=[ours.conversation_id]) in box
    assert reverse("inbox:conversation", args=[not_ours.conversation_id]) not in box
    assert reverse("crisis:incident", args=[flood.pk]) not in box


def test_resolved_conversations_leave_the_box(flood, channel, responder):
    (message,) = arrive(channel, "Banjir di coblong", [DURING])
    link_all(flood)
    assert first_conversations(flood.organisation) == [(flood, [message.conversation])]
    inbox_actions.resolve_conversation(message.conversation, by=Actor(user=responder))
    assert first_conversations(flood.organisation) == [(flood, [])]


def test_a_closed_incident_has_no_box(flood, channel, responder, as_user):
    arrive(channel, "Banjir di coblong", [DURING])
    link_all(flood)
    incidents.close_incident(flood, by=Actor.system("tests"))
    page = as_user(responder).get(INBOX).content.decode()
    assert 'data-testid="first-section"' not in page
    assert "Banjir Coblong" not in first_box(as_user(responder))


def test_the_box_comes_and_goes_with_the_incident_between_two_views(
    org, channel, responder, as_user
):
    client = as_user(responder)
    assert 'data-testid="first-section"' not in client.get(INBOX).content.decode()
    flood = active(org, title="Banjir Coblong", area="Kecamatan Coblong")
    arrive(channel, "Banjir di coblong", [DURING])
    link_all(flood)
    # The same process answered "no incident" a moment ago: declaring one is seen at once.
    assert "Banjir Coblong" in first_box(client)
    incidents.close_incident(flood, by=Actor.system("tests"))
    assert "Banjir Coblong" not in first_box(client)


def test_another_organisation_never_sees_the_box(flood, channel, other_admin, as_user):
    arrive(channel, "Banjir di coblong", [DURING])
    link_all(flood)
    page = as_user(other_admin).get(INBOX).content.decode()
    assert 'data-testid="first-section"' not in page
