"""Broadcast templates: the built-ins humas ships, placeholders, approval, and who may do what."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.crisis.broadcast_templates import (
    BUILTIN,
    BUILTIN_MAX_FIXED,
    check_text,
    fill,
    fixed_length,
    missing,
    placeholders_in,
    seed_templates,
)
from humas.crisis.models import BroadcastTemplate, HazardType
from humas.crisis.template_actions import approve_template, delete_template, save_template
from humas.ops.tests.conftest import require_postgres

pytestmark = pytest.mark.django_db

#: Long-ish values of a real broadcast in Bandung.
VALUES = {
    "area": "Kecamatan Cibeunying Kaler dan Coblong",
    "time": "Senin 1 Desember 2026 pukul 14.30 WIB",
    "shelter": "GOR Pajajaran, Jl. Pajajaran No. 37",
    "hotline": "112 / 0812-3456-7890",
    "instructions": "Matikan listrik dan segera menuju tempat tinggi.",
}


@pytest.fixture
def approver(org):
    return make_member(org, "approver@satu.go.id", Role.APPROVER)


@pytest.fixture
def waiting(org):
    return save_template(
        org, by=Actor.system(), hazard="flood", language="jv", text="BANJIR — {area}, {time}."
    )


def test_seeding_creates_the_sixteen_built_ins_approved_by_humas_once(org, other_org):
    assert seed_templates(org) == 16
    assert seed_templates(org) == 0
    templates = BroadcastTemplate.objects.filter(organisation=org)
    assert templates.count() == 16
    assert all(t.builtin and t.approved_at and t.approved_by is None for t in templates)
    assert set(templates.values_list("language", flat=True)) == {"id", "en"}
    assert HazardType.OTHER not in set(templates.values_list("hazard", flat=True))
    assert not BroadcastTemplate.objects.filter(organisation=other_org).exists()
    assert AuditEntry.objects.filter(action="crisis.template.seeded").count() == 1


def test_seeding_leaves_a_template_the_organisation_wrote_first_alone(org):
    own = save_template(org, by=Actor.system(), hazard="flood", language="id", text="{area} {time}")
    assert seed_templates(org) == 15
    own.refresh_from_db()
    assert own.text == "{area} {time}"
    assert not own.builtin


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_visits_at_once_seed_each_built_in_once(org):
    require_postgres()
    barrier = threading.Barrier(2)
    created: list[int] = []
    errors: list[BaseException] = []

    def visit() -> None:
        try:
            barrier.wait()
            created.append(seed_templates(org))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=visit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(created) == 16
    assert BroadcastTemplate.objects.filter(organisation=org).count() == 16


@pytest.mark.parametrize(
    ("hazard", "language"),
    [(h, lang) for h, texts in BUILTIN.items() for lang in texts],
)
def test_every_built_in_is_valid_and_fits_bluesky_when_filled(hazard, language):
    text = BUILTIN[hazard][language]
    assert check_text(text) == []
    assert {"area", "time", "hotline", "instructions"} <= set(placeholders_in(text))
    assert fixed_length(text) <= BUILTIN_MAX_FIXED
    filled = fill(text, VALUES)
    assert "{" not in filled
    assert len(filled) <= 300


def test_every_hazard_but_other_has_an_indonesian_and_an_english_built_in():
    assert set(BUILTIN) == set(HazardType.values) - {HazardType.OTHER}
    assert all(set(texts) == {"id", "en"} for texts in BUILTIN.values())


def test_fill_inserts_braces_and_backslashes_in_values_literally():
    filled = fill(
        "{area}: {time} ({hotline})",
        {"area": "  RW {time} \\1 \\g<0> {{x}}  ", "time": "14.30", "hotline": "%(x)s"},
    )
    assert filled == "RW {time} \\1 \\g<0> {{x}}: 14.30 (%(x)s)"


def test_missing_lists_placeholders_without_a_value_and_fill_keeps_them_visible():
    text = "{area}, {time}. {instructions} Darurat: {hotline}"
    values = {"area": "Coblong", "time": "  ", "hotline": ""}
    assert missing(text, values) == ["time", "instructions", "hotline"]
    assert fill(text, values) == "Coblong, {time}. {instructions} Darurat: {hotline}"
    assert missing(text, VALUES) == []


def test_check_text_finds_unknown_placeholders_unbalanced_braces_and_empty_text():
    assert check_text("  \n ") != []
    assert check_text("{area} {time}") == []
    [unknown] = check_text("{area} {lokasi}")
    assert "{lokasi}" in unknown
    assert len(check_text("{area")) == 1
    assert len(check_text("area} {time}")) == 1
    # Doubled braces are not an escape here (that would be str.format's rule): refused.
    assert len(check_text("{{area}}")) == 1


def test_editing_the_text_withdraws_the_approval_and_saving_it_unchanged_keeps_it(org, approver):
    seed_templates(org)
    flood = BroadcastTemplate.objects.get(organisation=org, hazard="flood", language="id")
    by = Actor(user=approver)
    same = save_template(org, by=by, hazard="flood", language="id", text=flood.text, template=flood)
    assert same.approved_at is not None
    changed = save_template(
        org,
        by=by,
        hazard="flood",
        language="id",
        text=flood.text + " Tetap tenang.",
        template=flood,
    )
    assert changed.approved_at is None
    assert changed.approved_by is None
    assert changed.builtin
    entry = AuditEntry.objects.filter(action="crisis.template.saved").latest("seq")
    assert entry.payload["approval_withdrawn"] is True
    again = approve_template(changed, by=by)
    assert again.approved_by == approver


def test_a_new_template_waits_for_approval_and_a_slot_is_taken_once(org, waiting):
    assert waiting.approved_at is None
    assert not waiting.builtin
    with pytest.raises(ActionError):
        save_template(org, by=Actor.system(), hazard="flood", language="jv", text="{area}")
    with pytest.raises(ActionError):
        save_template(org, by=Actor.system(), hazard="flood", language="Jawa", text="{area}")
    with pytest.raises(ActionError):
        save_template(org, by=Actor.system(), hazard="flood", language="su", text="{lokasi}")


def test_a_built_in_keeps_its_hazard_and_language(org):
    seed_templates(org)
    fire = BroadcastTemplate.objects.get(organisation=org, hazard="fire", language="en")
    with pytest.raises(ActionError):
        save_template(
            org, by=Actor.system(), hazard="fire", language="jv", text=fire.text, template=fire
        )


def test_an_approver_approves_a_waiting_template_once(org, approver, waiting, as_user):
    client = as_user(approver)
    response = client.post(reverse("crisis:template_approve", args=[waiting.pk]))
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.approved_by == approver
    assert waiting.approved_at is not None
    assert AuditEntry.objects.filter(action="crisis.template.approved").count() == 1
    with pytest.raises(ActionError):
        approve_template(waiting, by=Actor(user=approver))
    assert AuditEntry.objects.filter(action="crisis.template.approved").count() == 1


def test_an_editor_cannot_approve_a_template(org, editor, waiting, as_user):
    with pytest.raises(ActionError):
        approve_template(waiting, by=Actor(user=editor))
    with pytest.raises(ActionError):
        approve_template(waiting, by=Actor.system())
    response = as_user(editor).post(reverse("crisis:template_approve", args=[waiting.pk]))
    assert response.status_code == 403
    waiting.refresh_from_db()
    assert waiting.approved_at is None


def test_an_approver_of_another_organisation_cannot_approve_by_action(other_org, waiting):
    outsider = make_member(other_org, "approver@dua.go.id", Role.APPROVER)
    with pytest.raises(ActionError):
        approve_template(waiting, by=Actor(user=outsider))


def test_another_organisations_template_is_a_404(other_org, other_admin, waiting, as_user):
    client = as_user(other_admin)
    assert client.get(reverse("crisis:template_edit", args=[waiting.pk])).status_code == 404
    assert client.post(reverse("crisis:template_approve", args=[waiting.pk])).status_code == 404
    assert client.post(reverse("crisis:template_delete", args=[waiting.pk])).status_code == 404
    assert BroadcastTemplate.objects.filter(pk=waiting.pk, approved_at=None).exists()


def test_the_list_seeds_the_built_ins_and_shows_them_grouped_in_indonesian(
    org, analyst, approver, waiting, as_user
):
    approve_template(waiting, by=Actor(user=approver))
    page = as_user(analyst).get(reverse("crisis:template_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert BroadcastTemplate.objects.filter(organisation=org).count() == 17
    assert "PERINGATAN BANJIR — {area}, {time}." in html
    assert "Banjir" in html  # the hazard's heading, in the interface's language
    assert 'data-testid="template-hazard-tsunami"' in html
    assert str(approver) in html
    # Read-only members see no buttons.
    assert "template-approve-" not in html
    assert "template-create" not in html


def test_a_unit_agent_sees_no_templates(agent, as_user):
    assert as_user(agent).get(reverse("crisis:template_list")).status_code == 403


def test_the_create_page_adds_a_template_in_a_regional_language(org, approver, as_user):
    client = as_user(approver)
    form = client.get(reverse("crisis:template_create"))
    assert form.status_code == 200
    assert "Simpan" in form.content.decode()
    response = client.post(
        reverse("crisis:template_create"),
        {
            "hazard": "flood",
            "language": "other",
            "other_language": "bew",
            "text": "BANJIR — {area}, {time}. {instructions} Telepon: {hotline}",
        },
    )
    assert response.status_code == 302
    made = BroadcastTemplate.objects.get(organisation=org, language="bew")
    assert made.approved_at is None
    assert AuditEntry.objects.filter(action="crisis.template.saved").count() == 1


def test_the_form_refuses_unknown_placeholders_and_bad_language_codes(org, approver, as_user):
    response = as_user(approver).post(
        reverse("crisis:template_create"),
        {"hazard": "flood", "language": "other", "other_language": "b3", "text": "{lokasi}"},
    )
    assert response.status_code == 200
    assert "{lokasi}" in response.content.decode()
    assert not BroadcastTemplate.objects.filter(organisation=org).exists()


def test_the_edit_page_withdraws_the_approval_of_a_changed_built_in(org, approver, as_user):
    seed_templates(org)
    quake = BroadcastTemplate.objects.get(organisation=org, hazard="earthquake", language="id")
    url = reverse("crisis:template_edit", args=[quake.pk])
    client = as_user(approver)
    assert client.get(url).status_code == 200
    # The hazard posted is ignored: a built-in's hazard and language are disabled fields.
    response = client.post(
        url, {"hazard": "fire", "language": "en", "text": "GEMPA — {area}, {time}. {hotline}"}
    )
    assert response.status_code == 302
    quake.refresh_from_db()
    assert (quake.hazard, quake.language) == ("earthquake", "id")
    assert quake.text == "GEMPA — {area}, {time}. {hotline}"
    assert quake.approved_at is None


def test_an_editor_cannot_open_the_edit_pages(org, editor, waiting, as_user):
    client = as_user(editor)
    assert client.get(reverse("crisis:template_list")).status_code == 200
    assert client.get(reverse("crisis:template_create")).status_code == 403
    assert client.get(reverse("crisis:template_edit", args=[waiting.pk])).status_code == 403


def test_a_built_in_cannot_be_deleted_but_an_added_one_can(org, approver, waiting, as_user):
    seed_templates(org)
    builtin = BroadcastTemplate.objects.get(organisation=org, hazard="flood", language="id")
    with pytest.raises(ActionError):
        delete_template(builtin, by=Actor(user=approver))
    client = as_user(approver)
    assert client.post(reverse("crisis:template_delete", args=[builtin.pk])).status_code == 302
    assert BroadcastTemplate.objects.filter(pk=builtin.pk).exists()
    assert client.post(reverse("crisis:template_delete", args=[waiting.pk])).status_code == 302
    assert not BroadcastTemplate.objects.filter(pk=waiting.pk).exists()
    assert AuditEntry.objects.filter(action="crisis.template.deleted").count() == 1
