"""A newcomer signs in, enrols 2FA, switches language and signs in again with a code."""

from base64 import b32decode

import pytest
from django_otp.oath import totp

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "kabut-pagi-gunung-sebelas"


def _code(secret: str, drift: int = 0) -> str:
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, step=30, t0=0, digits=6, drift=drift):06d}"


def _sign_in(page, email: str) -> None:
    page.goto("/masuk/")
    page.get_by_label("Alamat e-mail").fill(email)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()


def test_a_member_signs_in_enrols_2fa_switches_language_and_returns_with_a_code(page, artifacts):
    org = make_org("Pemerintah Kota Uji", require_2fa=True)
    make_member(org, "sari@uji.go.id", Role.EDITOR, password=PASSWORD)

    # The browser asks for English, but an official tool opens in Indonesian.
    _sign_in(page, "sari@uji.go.id")
    page.wait_for_url("**/2fa/daftar/")
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.get_by_test_id("totp-qr").locator("svg").count() == 1
    secret = page.get_by_test_id("totp-secret").inner_text().strip()

    page.get_by_label("Kode").fill(_code(secret))
    page.get_by_role("button", name="Aktifkan").click()
    page.wait_for_url("**/2fa/kode-cadangan/")
    assert page.get_by_test_id("backup-codes").locator("li").count() == 10

    page.goto("/")
    assert "Selamat datang" in page.get_by_test_id("home-title").inner_text()
    # The stylesheet really loaded (a CSP or static-files mistake would leave the page bare).
    header_bg = page.locator("header.topbar").evaluate("el => getComputedStyle(el).backgroundColor")
    assert header_bg == "rgb(255, 255, 255)"
    assert "Pemerintah Kota Uji" in page.content()

    page.get_by_test_id("lang-en").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Welcome" in page.get_by_test_id("home-title").inner_text()
    page.screenshot(path=str(artifacts / "home-after-2fa-en.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/masuk/")
    # The language choice survives signing out (cookie) and back in (account).
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_label("E-mail address").fill("sari@uji.go.id")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/2fa/verifikasi/**")
    # The code used at enrolment cannot be replayed; the next one (within the allowed drift) works.
    page.get_by_label("Code").fill(_code(secret, drift=1))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("[data-testid=home-title]")
    assert "Welcome" in page.get_by_test_id("home-title").inner_text()
    page.screenshot(path=str(artifacts / "home-signed-in-again.png"), full_page=True)

    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [], blocked
