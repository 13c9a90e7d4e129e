"""The spike pages: who reads them, who acknowledges, and what they show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from humas.accounts.models import AuditEntry
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.crisis.models import SpikeAlert

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)


def make_alert(org, **fields):
    values = {
        "signal": "inbound",
        "key": "",
        "key_kind": "all",
        "window_start": NOW - timedelta(hours=1),
        "window_end": NOW,
        "count": 12,
        "expected": 2.5,
        "p_value": 1e-5,
        "peak_count": 12,
        **fields,
    }
    return SpikeAlert.objects.create(organisation=org, **values)


@pytest.fixture
def responder(org):
    return make_member(org, "responder@satu.go.id", Role.RESPONDER)


def test_the_list_shows_unacknowledged_alerts_first(org, responder, as_user):
    seen = make_alert(org, key="banjir", key_kind="word", acknowledged_at=NOW, window_end=NOW)
    fresh = make_alert(org, key="listrik", key_kind="word", window_end=NOW - timedelta(hours=5))
    page = as_user(responder).get(reverse("crisis:spike_list")).content.decode()
    assert page.index(f'data-testid="spike-{fresh.pk}"') < page.index(
        f'data-testid="spike-{seen.pk}"'
    )
    assert "listrik" in page


def test_the_list_shows_only_the_callers_organisation(org, other_org, other_admin, as_user):
    make_alert(org, key="rahasia", key_kind="word")
    page = as_user(other_admin).get(reverse("crisis:spike_list")).content.decode()
    assert "rahasia" not in page


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMIN, 200),
        (Role.RESPONDER, 200),
        (Role.EDITOR, 403),
        (Role.ANALYST, 403),
        (Role.APPROVER, 403),
        (Role.UNIT_AGENT, 403),
    ],
)
def test_alerts_are_read_by_those_who_see_the_whole_inbox(org, unit, as_user, role, status):
    alert = make_alert(org)
    person = make_member(
        org, f"{role}@satu.go.id", role, unit=unit if role == Role.UNIT_AGENT else None
    )
    client = as_user(person)
    assert client.get(reverse("crisis:spike_list")).status_code == status
    assert client.get(reverse("crisis:spike", args=[alert.pk])).status_code == status


def test_a_responder_acknowledges_an_alert_once_with_an_audit_entry(org, responder, as_user):
    alert = make_alert(org)
    client = as_user(responder)
    page = client.get(reverse("crisis:spike", args=[alert.pk])).content.decode()
    assert 'data-testid="spike-acknowledge"' in page
    response = client.post(reverse("crisis:spike_acknowledge", args=[alert.pk]))
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == responder
    assert alert.acknowledged_at is not None
    (entry,) = AuditEntry.objects.filter(action="crisis.spike.acknowledged")
    assert entry.actor == responder
    assert entry.target_id == str(alert.pk)
    page = client.get(reverse("crisis:spike", args=[alert.pk])).content.decode()
    assert 'data-testid="spike-acknowledge"' not in page
    assert 'data-testid="spike-acknowledged"' in page
    # A second click (another tab) changes nothing and writes nothing.
    client.post(reverse("crisis:spike_acknowledge", args=[alert.pk]))
    assert AuditEntry.objects.filter(action="crisis.spike.acknowledged").count() == 1


def test_acknowledging_is_a_post(org, responder, as_user):
    alert = make_alert(org)
    response = as_user(responder).get(reverse("crisis:spike_acknowledge", args=[alert.pk]))
    assert response.status_code == 405


def test_another_organisations_alert_is_not_found(org, other_admin, as_user):
    alert = make_alert(org)
    client = as_user(other_admin)
    assert client.get(reverse("crisis:spike", args=[alert.pk])).status_code == 404
    assert client.post(reverse("crisis:spike_acknowledge", args=[alert.pk])).status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_the_database_keeps_one_active_alert_per_key(org):
    from django.db import IntegrityError, transaction

    make_alert(org, key="banjir")
    make_alert(org, key="banjir", is_active=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_alert(org, key="banjir")
