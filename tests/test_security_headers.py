"""Security settings that must hold on every page."""

import pytest
from django.test import Client
from django.urls import reverse

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, sign_in

pytestmark = pytest.mark.django_db


def test_pages_carry_a_content_security_policy_without_inline_scripts(client):
    policy = client.get(reverse("accounts:login"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert directives["script-src"].startswith("'self'")
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


def test_pages_refuse_framing_and_sniffing(client):
    response = client.get(reverse("accounts:login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_a_post_without_the_csrf_token_is_refused(org, admin):
    client = Client(enforce_csrf_checks=True)
    sign_in(client, admin)
    response = client.post(reverse("accounts:unit_create"), {"name": "X", "code": "x"})
    assert response.status_code == 403


def test_cookies_are_secure_and_http_only_when_served_over_https(client, org, settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    make_member(org, "aman@satu.go.id", Role.EDITOR, password="gelas-kaca-pintu-enam")
    response = client.post(
        reverse("accounts:login"),
        {"username": "aman@satu.go.id", "password": "gelas-kaca-pintu-enam"},
        secure=True,
    )
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


def test_https_settings_follow_the_site_url(monkeypatch):
    import importlib

    import humas.settings as project_settings

    monkeypatch.setenv("SITE_URL", "https://humas.contoh.go.id")
    reloaded = importlib.reload(project_settings)
    try:
        assert reloaded.SESSION_COOKIE_SECURE and reloaded.CSRF_COOKIE_SECURE
        assert reloaded.SECURE_SSL_REDIRECT
        assert reloaded.SECURE_HSTS_SECONDS >= 31536000
        assert "humas.contoh.go.id" in reloaded.ALLOWED_HOSTS
    finally:
        monkeypatch.delenv("SITE_URL")
        importlib.reload(project_settings)


def test_an_editor_never_sees_the_audit_log_in_the_menu(client, org, editor):
    sign_in(client, editor)
    page = client.get(reverse("home")).content.decode()
    assert reverse("accounts:audit_log") not in page
    assert reverse("accounts:unit_list") in page
