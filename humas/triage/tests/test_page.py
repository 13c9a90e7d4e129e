"""The administrators' page: corrections, versions, retrain in the background, roll back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from humas.accounts.testing import SYSTEM, sign_in
from humas.triage import active_version, record_correction, retrain
from humas.triage.models import ModelVersion, RetrainRun, RetrainStatus
from humas.triage.tests.test_retrain import STREET_LIGHTS, teach

pytestmark = pytest.mark.django_db


def test_it_shows_the_corrections_per_field_and_the_shipped_model_in_use(client, org, admin):
    teach(org)
    record_correction(org, text="slot gacor", field="category", value="spam", by=SYSTEM)
    sign_in(client, admin)
    page = client.get(reverse("triage:manage"))
    assert page.status_code == 200
    html = page.content.decode()
    assert page.context["counts"] == [
        ("sentiment", 0),
        ("category", 1),
        ("urgency", len(STREET_LIGHTS)),
        ("abusive", 0),
    ]
    assert 'data-testid="retrain"' in html
    assert "<script" not in html.split("</head>", 1)[1]
    assert "style=" not in html


def test_retrain_now_runs_in_the_background_and_the_new_version_becomes_active(
    client, org, admin, django_capture_on_commit_callbacks
):
    teach(org)
    sign_in(client, admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("triage:retrain"))
    assert response.status_code == 302
    run = RetrainRun.objects.get(organisation=org)
    assert (run.status, run.progress) == (RetrainStatus.DONE, 100)
    assert run.version == active_version(org)
    page = client.get(reverse("triage:manage")).content.decode()
    assert 'data-testid="version-1"' in page
    assert 'data-testid="active"' in page


def test_the_progress_fragment_polls_while_a_retrain_is_under_way(client, org, admin):
    teach(org)
    RetrainRun.objects.create(
        organisation=org, status=RetrainStatus.RUNNING, progress=40, message="Training urgency"
    )
    sign_in(client, admin)
    fragment = client.get(reverse("triage:progress"), headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert 'hx-trigger="every' in html and "Training urgency" in html
    assert "HX-Refresh" not in fragment
    # …and a second retrain is refused meanwhile.
    client.post(reverse("triage:retrain"))
    assert RetrainRun.objects.count() == 1


def test_the_page_is_redrawn_when_the_retrain_has_finished(client, org, admin):
    RetrainRun.objects.create(organisation=org, status=RetrainStatus.DONE, progress=100)
    sign_in(client, admin)
    fragment = client.get(reverse("triage:progress"), headers={"HX-Request": "true"})
    assert fragment["HX-Refresh"] == "true"
    assert "hx-trigger" not in fragment.content.decode()


def test_retrain_without_corrections_is_refused_with_a_message(client, org, admin):
    sign_in(client, admin)
    response = client.post(reverse("triage:retrain"), follow=True)
    assert "no corrections" in response.content.decode()
    assert not RetrainRun.objects.exists()


def test_roll_back_per_version_and_back_to_the_shipped_model(client, org, admin):
    teach(org)
    first = retrain(org, by=SYSTEM)
    retrain(org, by=SYSTEM)
    sign_in(client, admin)
    client.post(reverse("triage:rollback"), {"to": first.pk})
    assert active_version(org) == first
    client.post(reverse("triage:rollback"), {"to": "shipped"})
    assert active_version(org) is None


def test_a_version_of_another_organisation_is_a_404(client, org, other_org, admin):
    teach(other_org)
    theirs = retrain(other_org, by=SYSTEM)
    sign_in(client, admin)
    assert client.post(reverse("triage:rollback"), {"to": theirs.pk}).status_code == 404
    assert ModelVersion.objects.get(pk=theirs.pk).active


def test_members_who_are_not_administrators_get_403(client, org, editor):
    teach(org)
    version = retrain(org, by=SYSTEM)
    sign_in(client, editor)
    assert client.get(reverse("triage:manage")).status_code == 403
    assert client.post(reverse("triage:retrain")).status_code == 403
    assert client.post(reverse("triage:rollback"), {"to": "shipped"}).status_code == 403
    assert active_version(org) == version


def test_a_retrain_the_worker_never_finished_stops_blocking_a_new_one(client, org, admin):
    from datetime import timedelta

    from django.utils import timezone

    teach(org)
    stuck = RetrainRun.objects.create(organisation=org, status=RetrainStatus.QUEUED)
    RetrainRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=1))
    sign_in(client, admin)
    assert 'data-testid="retrain-stuck"' in client.get(reverse("triage:manage")).content.decode()
    client.post(reverse("triage:retrain"))
    assert RetrainRun.objects.count() == 2
