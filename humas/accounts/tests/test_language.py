import pytest
from django.conf import settings
from django.urls import reverse

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org, sign_in

pytestmark = pytest.mark.django_db


def test_switching_to_english_is_remembered_in_a_cookie_and_on_the_account(client, editor):
    sign_in(client, editor)
    response = client.post(
        reverse("accounts:set_language"), {"language": "en", "next": reverse("accounts:security")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:security")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert (
        response.cookies[settings.LANGUAGE_COOKIE_NAME]["max-age"] == settings.LANGUAGE_COOKIE_AGE
    )
    page = client.get(reverse("home"))
    assert page["Content-Language"] == "en"
    assert "Sign out" in page.content.decode()
    editor.refresh_from_db()
    assert editor.language == "en"


def test_the_saved_choice_follows_the_person_to_a_new_browser(client, editor):
    editor.language = "en"
    editor.save()
    sign_in(client, editor)
    assert client.get(reverse("home"))["Content-Language"] == "en"


def test_an_organisation_can_default_to_english(client):
    org = make_org("Kementerian Contoh", default_language="en")
    person = make_member(org, "staff@kemen.go.id", Role.ANALYST)
    sign_in(client, person)
    assert client.get(reverse("home"))["Content-Language"] == "en"


def test_an_unknown_language_is_ignored(client):
    response = client.post(reverse("accounts:set_language"), {"language": "xx"})
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_switcher_never_redirects_off_site(client):
    response = client.post(
        reverse("accounts:set_language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")
