import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from humas.accounts import twofactor
from humas.accounts.models import AuditEntry
from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_org():
    return make_org("Kota Ketat", require_2fa=True)


@pytest.fixture
def newcomer(strict_org):
    return make_member(strict_org, "baru@ketat.go.id", Role.EDITOR)


def _code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.parametrize(
    "url_name",
    [
        "home",
        "accounts:unit_list",
        "accounts:security",
        "accounts:backup_codes",
        "accounts:audit_log",
    ],
)
def test_when_2fa_is_required_a_member_without_it_can_do_nothing_but_enrol(
    client, newcomer, url_name
):
    sign_in(client, newcomer, verified=False)
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:two_factor_setup")


def test_posts_are_blocked_too_until_enrolled(client, newcomer):
    sign_in(client, newcomer, verified=False)
    response = client.post(reverse("accounts:switch_organisation"), {"organisation": 1})
    assert response["Location"] == reverse("accounts:two_factor_setup")


def test_htmx_requests_are_redirected_with_a_header(client, newcomer):
    sign_in(client, newcomer, verified=False)
    response = client.get(reverse("accounts:audit_log"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("accounts:two_factor_setup")


def test_enrolment_shows_a_qr_code_and_confirms_with_a_code_then_shows_backup_codes(
    client, newcomer, settings
):
    # django-otp slows down guessing after a wrong code; a person typing again takes longer
    # than the one-second pause, this test does not.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    sign_in(client, newcomer, verified=False)
    page = client.get(reverse("accounts:two_factor_setup"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    assert twofactor.secret_base32(device) in body

    wrong = client.post(reverse("accounts:two_factor_setup"), {"code": "000000"})
    assert wrong.status_code == 200
    device.refresh_from_db()
    assert not device.confirmed

    done = client.post(reverse("accounts:two_factor_setup"), {"code": _code_for(device)})
    assert done["Location"] == reverse("accounts:backup_codes")
    device.refresh_from_db()
    assert device.confirmed
    codes_page = client.get(reverse("accounts:backup_codes")).content.decode()
    assert codes_page.count("<li>") >= twofactor.BACKUP_CODE_COUNT
    # Shown once: a reload no longer lists them.
    assert "<li>" not in client.get(reverse("accounts:backup_codes")).content.decode()
    assert client.get(reverse("home")).status_code == 200
    assert AuditEntry.objects.filter(action="accounts.user.2fa_enabled", actor=newcomer).exists()


def test_reloading_the_enrolment_page_keeps_the_same_secret(client, newcomer):
    sign_in(client, newcomer, verified=False)
    client.get(reverse("accounts:two_factor_setup"))
    client.get(reverse("accounts:two_factor_setup"))
    assert TOTPDevice.objects.filter(user=newcomer, confirmed=False).count() == 1


def test_organisations_made_outside_the_demo_require_2fa_by_default():
    from humas.accounts import actions
    from humas.accounts.audit import Actor

    org = actions.create_organisation(name="Kota Baru", by=Actor.system())
    assert org.require_2fa


def test_a_relaxed_organisation_lets_members_in_without_2fa(client, org, editor):
    sign_in(client, editor, verified=False)
    assert client.get(reverse("home")).status_code == 200


def test_an_admin_can_reset_a_members_2fa(client, org, admin, editor):
    twofactor.new_backup_codes(editor)
    TOTPDevice.objects.create(user=editor, name="phone", confirmed=True)
    sign_in(client, admin)
    membership_id = editor.memberships.get().pk
    response = client.post(reverse("accounts:member_reset_2fa", args=[membership_id]))
    assert response.status_code == 302
    assert not twofactor.has_confirmed_device(editor)
    assert twofactor.remaining_backup_codes(editor) == 0
    assert AuditEntry.objects.filter(action="accounts.member.2fa_reset").exists()


def test_regenerating_backup_codes_replaces_the_old_ones(client, editor):
    old = twofactor.new_backup_codes(editor)
    sign_in(client, editor)
    page = client.post(reverse("accounts:backup_codes")).content.decode()
    assert old[0] not in page
    assert twofactor.verify_code(editor, old[0]) is None


def test_pages_for_citizens_do_not_send_a_half_signed_in_member_to_the_code_screen():
    from humas.accounts.middleware import TWO_FACTOR_EXEMPT
    from humas.accounts.tests.test_access import PUBLIC

    # Every public page is exempt except the tracked link itself, which the
    # TrackedLinkMiddleware answers before the 2FA gate runs, and the password-reset pages,
    # which a signed-in member has no reason to use.
    expected = {name for name in PUBLIC if not name.startswith("accounts:password_reset")} - {
        "analytics:follow",
        "accounts:login",
    }
    assert expected <= TWO_FACTOR_EXEMPT
