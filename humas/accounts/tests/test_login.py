import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken

from humas.accounts import twofactor
from humas.accounts.models import AuditEntry
from humas.accounts.roles import Role
from humas.accounts.testing import confirmed_device, make_member, totp_now

pytestmark = pytest.mark.django_db

PASSWORD = "jembatan-hijau-kopi-tujuh"


@pytest.fixture
def person(org):
    return make_member(org, "ratna@satu.go.id", Role.EDITOR, password=PASSWORD)


def _login(client, email, password, **extra):
    return client.post(
        reverse("accounts:login"), {"username": email, "password": password}, **extra
    )


def test_the_login_page_is_in_indonesian_even_for_an_english_browser(client):
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "id"
    assert "Masuk ke humas" in response.content.decode()


def test_a_wrong_password_is_refused_with_a_plain_message(client, person):
    response = _login(client, person.email, "wrong-password-here")
    assert response.status_code == 200
    assert "Alamat e-mail atau kata sandi salah" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_member_without_2fa_in_a_relaxed_org_lands_on_home(client, person):
    response = _login(client, person.email, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert AuditEntry.objects.filter(action="accounts.user.logged_in", actor=person).exists()


def test_a_member_with_2fa_must_enter_a_code_before_anything_else(client, person, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # see test_two_factor: no human types this fast
    device = confirmed_device(person)
    _login(client, person.email, PASSWORD)
    response = client.get(reverse("accounts:unit_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor_verify"))
    wrong = client.post(reverse("accounts:two_factor_verify"), {"code": "000000"})
    assert "Kode itu salah" in wrong.content.decode()
    right = client.post(
        reverse("accounts:two_factor_verify"),
        {"code": totp_now(device), "next": reverse("accounts:unit_list")},
    )
    assert right.status_code == 302
    assert right["Location"] == reverse("accounts:unit_list")
    assert client.get(reverse("accounts:unit_list")).status_code == 200


def test_a_backup_code_works_once(client, person):
    confirmed_device(person)
    codes = twofactor.new_backup_codes(person)
    _login(client, person.email, PASSWORD)
    response = client.post(reverse("accounts:two_factor_verify"), {"code": codes[0]})
    assert response.status_code == 302
    assert StaticToken.objects.filter(device__user=person).count() == len(codes) - 1
    client.post(reverse("accounts:logout"))
    _login(client, person.email, PASSWORD)
    again = client.post(reverse("accounts:two_factor_verify"), {"code": codes[0]})
    assert again.status_code == 200
    assert "Kode itu salah" in again.content.decode()


def test_five_wrong_passwords_lock_the_account(client, person, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, person.email, "wrong-password-here")
    locked = _login(client, person.email, PASSWORD)
    assert locked.status_code == 429
    assert "Terlalu banyak percobaan" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_signing_out_needs_a_post_and_is_audited(client, person):
    _login(client, person.email, PASSWORD)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="accounts.user.logged_out", actor=person).exists()


def test_the_login_records_the_address_it_came_from(client, person):
    _login(client, person.email, PASSWORD, REMOTE_ADDR="203.0.113.9")
    entry = AuditEntry.objects.get(action="accounts.user.logged_in", actor=person)
    assert entry.ip == "203.0.113.9"


def test_a_lockout_is_written_to_the_organisations_audit_log(client, person, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, person.email, "wrong-password-here", REMOTE_ADDR="198.51.100.20")
    entry = AuditEntry.objects.get(action="accounts.user.locked_out")
    assert entry.target_id == str(person.pk)
    assert entry.ip == "198.51.100.20"
    assert entry.organisation == person.memberships.get().organisation


def test_a_signed_in_member_changes_their_password(client, person):
    from humas.accounts.testing import sign_in

    sign_in(client, person)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "daun-kering-sepeda-empat",
            "new_password2": "daun-kering-sepeda-empat",
        },
    )
    assert response["Location"] == reverse("accounts:security")
    person.refresh_from_db()
    assert person.check_password("daun-kering-sepeda-empat")
    assert AuditEntry.objects.filter(action="accounts.user.password_changed", actor=person).exists()
    # still signed in after the change
    assert client.get(reverse("accounts:security")).status_code == 200
