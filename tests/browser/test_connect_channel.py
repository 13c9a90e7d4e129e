"""An administrator connects a Mastodon account with a token, tests it and disconnects it.

The Mastodon server is faked at humas's HTTP seam (respx intercepts httpx in the live server's
thread too) with payloads from the provider's fixtures; the browser, pages, forms, actions and
database are real.
"""

import json
from pathlib import Path

import pytest
import respx

from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.channels.models import ChannelAccount, ChannelStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ombak-tenang-pulau-tiga"
INSTANCE = "https://social.example"
FIXTURES = Path(__file__).resolve().parents[2] / "humas/channels/providers/mastodon/fixtures"


def _payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_an_admin_connects_tests_and_disconnects_a_mastodon_account(page, artifacts):
    org = make_org("Pemerintah Kota Uji Saluran")
    make_member(org, "admin@saluran.go.id", Role.ADMIN, password=PASSWORD)

    with respx.mock(base_url=INSTANCE, assert_all_called=False) as mastodon:
        mastodon.get("/api/v1/accounts/verify_credentials").respond(
            200, json=_payload("account_verify_credentials.json")
        )
        mastodon.get("/api/v2/instance").respond(200, json=_payload("instance_v2.json"))
        # Let the browser's own requests to the live server through.
        respx.route(host="localhost").pass_through()

        page.goto("/masuk/")
        page.get_by_label("Alamat e-mail").fill("admin@saluran.go.id")
        page.get_by_label("Kata sandi").fill(PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_selector("[data-testid=home-title]")

        page.get_by_role("link", name="Saluran", exact=True).click()
        page.get_by_test_id("connect-mastodon").click()
        page.get_by_test_id("use-token").click()
        page.locator("input[name=instance]").fill("social.example")
        page.locator("input[name=access_token]").fill("ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0")
        page.get_by_role("button", name="Hubungkan").click()
        page.wait_for_url("**/saluran/*/")

        channel = ChannelAccount.objects.get(organisation=org, network="mastodon")
        assert "@pemkotsatu@social.example" in page.content()
        assert channel.status == ChannelStatus.ACTIVE
        assert "ZA-Yj3aBD8U8" not in channel.credentials_encrypted

        page.get_by_role("button", name="Uji koneksi").click()
        page.wait_for_load_state()
        assert page.locator(".message.success").count() == 1
        page.screenshot(path=str(artifacts / "channel-connected.png"), full_page=True)

        page.get_by_role("button", name="Putuskan").click()
        page.wait_for_load_state()
        channel.refresh_from_db()
        assert channel.status == ChannelStatus.DISABLED
        assert channel.credentials_encrypted == ""

    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [], blocked
