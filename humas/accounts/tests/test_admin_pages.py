import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from humas.accounts.models import AuditEntry, Invitation, Membership, Unit, User
from humas.accounts.roles import Role
from humas.accounts.testing import make_member, sign_in

pytestmark = pytest.mark.django_db


def _last(action):
    return AuditEntry.objects.filter(action=action).order_by("-seq").first()


def test_an_admin_creates_renames_and_removes_a_unit(client, org, admin):
    sign_in(client, admin)
    created = client.post(
        reverse("accounts:unit_create"),
        {"name": "Dinas Sosial", "code": "dinsos", "description": ""},
    )
    assert created["Location"] == reverse("accounts:unit_list")
    unit = Unit.objects.get(organisation=org, code="dinsos")
    assert _last("accounts.unit.created").target_id == str(unit.pk)

    client.post(
        reverse("accounts:unit_edit", args=[unit.pk]),
        {"name": "Dinas Sosial dan PMD", "code": "dinsos", "description": "bansos"},
    )
    unit.refresh_from_db()
    assert unit.name == "Dinas Sosial dan PMD"
    assert _last("accounts.unit.updated").payload["before"]["name"] == "Dinas Sosial"

    client.post(reverse("accounts:unit_delete", args=[unit.pk]))
    assert not Unit.objects.filter(pk=unit.pk).exists()
    assert _last("accounts.unit.deleted").payload["code"] == "dinsos"


def test_a_duplicate_unit_code_is_refused_with_a_message(client, org, unit, admin):
    sign_in(client, admin)
    response = client.post(
        reverse("accounts:unit_create"),
        {"name": "Lain", "code": unit.code, "description": ""},
        follow=True,
    )
    assert Unit.objects.filter(organisation=org).count() == 1
    assert response.status_code == 200
    assert list(response.context["messages"])


def test_a_unit_with_members_cannot_be_removed(client, org, unit, admin, agent):
    sign_in(client, admin)
    client.post(reverse("accounts:unit_delete", args=[unit.pk]))
    assert Unit.objects.filter(pk=unit.pk).exists()


def test_an_invitation_is_emailed_and_a_newcomer_joins_with_it(
    client, org, unit, admin, django_capture_on_commit_callbacks
):
    sign_in(client, admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:member_invite"),
            {"email": "Petugas@Satu.go.id", "role": Role.UNIT_AGENT, "unit": unit.pk},
        )
    assert response["Location"] == reverse("accounts:member_list")
    invitation = Invitation.objects.get(organisation=org)
    assert invitation.email == "petugas@satu.go.id"
    entry = _last("accounts.member.invited")
    assert entry.payload == {"email": "petugas@satu.go.id", "role": "unit_agent", "unit": "dinkes"}
    assert entry.actor == admin
    assert len(mail.outbox) == 1
    assert "Kota Satu" in mail.outbox[0].subject
    match = re.search(r"https?://[^/\s]+(/undangan/\S+/)", str(mail.outbox[0].body))
    assert match
    path = match.group(1)
    # The token in the link is never stored as such.
    assert path.split("/")[2] not in invitation.token_hash

    client.post(reverse("accounts:logout"))
    page = client.get(path)
    assert page.status_code == 200
    joined = client.post(
        path,
        {
            "full_name": "Petugas Dinkes",
            "password1": "payung-merah-lima-kuda",
            "password2": "payung-merah-lima-kuda",
        },
    )
    assert joined["Location"] == reverse("home")
    person = User.objects.get(email="petugas@satu.go.id")
    membership = Membership.objects.get(user=person, organisation=org)
    assert (membership.role, membership.unit) == (Role.UNIT_AGENT, unit)
    assert _last("accounts.member.joined").actor == person
    # used once
    assert client.get(path).status_code == 410


def test_an_existing_account_is_asked_to_sign_in_before_accepting(client, org, other_org, admin):
    existing = make_member(other_org, "pindah@dua.go.id", Role.EDITOR)
    from humas.accounts import actions
    from humas.accounts.audit import Actor

    _, token = actions.invite_member(
        org, email=existing.email, role=Role.ANALYST, by=Actor.system()
    )
    path = reverse("accounts:invitation_accept", args=[token])
    assert "invitation_sign_in" in client.get(path).templates[0].name
    sign_in(client, existing)
    client.post(path)
    assert Membership.objects.get(user=existing, organisation=org).role == Role.ANALYST


def test_someone_else_cannot_use_an_invitation(client, org, editor):
    from humas.accounts import actions
    from humas.accounts.audit import Actor

    _, token = actions.invite_member(
        org, email="orang@lain.id", role=Role.ANALYST, by=Actor.system()
    )
    sign_in(client, editor)
    response = client.post(reverse("accounts:invitation_accept", args=[token]))
    assert response.status_code == 403
    assert not Membership.objects.filter(user__email="orang@lain.id").exists()


def test_an_expired_or_unknown_invitation_is_refused(client, org):
    from humas.accounts import actions
    from humas.accounts.audit import Actor

    invitation, token = actions.invite_member(
        org, email="telat@satu.go.id", role=Role.ANALYST, by=Actor.system()
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert client.get(reverse("accounts:invitation_accept", args=[token])).status_code == 410
    assert client.get(reverse("accounts:invitation_accept", args=["nope"])).status_code == 410


def test_an_admin_cancels_a_pending_invitation(client, org, admin):
    from humas.accounts import actions
    from humas.accounts.audit import Actor

    invitation, _token = actions.invite_member(
        org, email="batal@satu.go.id", role=Role.ANALYST, by=Actor.system()
    )
    sign_in(client, admin)
    client.post(reverse("accounts:invitation_revoke", args=[invitation.pk]))
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert _last("accounts.member.invitation_revoked").actor == admin


def test_an_admin_changes_a_members_role_and_it_is_audited(client, org, unit, admin, editor):
    sign_in(client, admin)
    m = Membership.objects.get(user=editor)
    client.post(
        reverse("accounts:member_edit", args=[m.pk]),
        {"role": Role.APPROVER, "unit": "", "is_active": "on"},
    )
    m.refresh_from_db()
    assert m.role == Role.APPROVER
    assert _last("accounts.member.changed").payload["after"]["role"] == "approver"


def test_a_unit_agent_needs_a_unit(client, org, admin, editor):
    sign_in(client, admin)
    m = Membership.objects.get(user=editor)
    response = client.post(
        reverse("accounts:member_edit", args=[m.pk]),
        {"role": Role.UNIT_AGENT, "unit": "", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "unit" in response.context["form"].errors


def test_the_last_admin_cannot_be_demoted(client, org, admin):
    sign_in(client, admin)
    m = Membership.objects.get(user=admin)
    client.post(
        reverse("accounts:member_edit", args=[m.pk]),
        {"role": Role.EDITOR, "unit": "", "is_active": "on"},
    )
    m.refresh_from_db()
    assert m.role == Role.ADMIN


def test_an_admin_sets_time_zone_language_and_the_2fa_rule(client, org, admin):
    sign_in(client, admin)
    response = client.post(
        reverse("accounts:organisation_settings"),
        {
            "name": org.name,
            "time_zone": "Asia/Makassar",
            "default_language": "en",
            "require_2fa": "on",
            "approval_steps": "2",
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.time_zone, org.default_language, org.require_2fa) == ("Asia/Makassar", "en", True)
    assert org.approval_steps == 2
    entry = _last("accounts.organisation.settings_changed")
    assert entry.payload["time_zone"] == {"from": "Asia/Jakarta", "to": "Asia/Makassar"}
    assert entry.payload["require_2fa"] == {"from": False, "to": True}


def test_the_audit_log_filters_by_who_what_and_ip(client, org, admin, unit):
    from humas.accounts.audit import Actor, record

    record("tests.alpha", actor=Actor(ip="198.51.100.7", label="tamu"), organisation=org)
    record("tests.beta", actor=Actor(ip="198.51.100.8", label="budi"), organisation=org)
    sign_in(client, admin)
    page = client.get(reverse("accounts:audit_log"), {"action": "alpha"})
    rows = [e.action for e in page.context["page"]]
    assert rows == ["tests.alpha"]
    assert [
        e.action
        for e in client.get(reverse("accounts:audit_log"), {"ip": "198.51.100.8"}).context["page"]
    ] == ["tests.beta"]
    assert [
        e.action
        for e in client.get(reverse("accounts:audit_log"), {"actor": "tamu"}).context["page"]
    ] == ["tests.alpha"]
    today = timezone.now().date().isoformat()
    assert (
        client.get(reverse("accounts:audit_log"), {"since": today}).context["page"].paginator.count
        >= 2
    )
    partial = client.get(reverse("accounts:audit_log"), {"action": "beta"}, HTTP_HX_REQUEST="true")
    assert partial.templates[0].name == "accounts/_audit_rows.html"
    bad_ip = client.get(reverse("accounts:audit_log"), {"ip": "not-an-ip"})
    assert bad_ip.status_code == 200
