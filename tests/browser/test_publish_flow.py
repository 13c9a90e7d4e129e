"""The whole publishing flow in a browser, out to a real local Bluesky network.

An editor plans a pillar, uploads an image and describes it, composes one post for Bluesky
and Mastodon, sends it for approval; an approver approves it; the editor publishes it; the
worker's delivery drain sends it; the post page shows both deliveries published and the
post is on the Bluesky network with its alt text. Bluesky is the real server software
(``bluesky_network``); Mastodon is faked at humas's HTTP seam with payloads from the
provider's fixtures. The members chose the English interface (the Indonesian one is
covered by the other browser tests).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import respx

from humas.accounts.audit import Actor
from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.channels.actions import connect_channel
from humas.channels.models import ChannelAccount
from humas.channels.providers.bluesky.tests.images import png
from humas.channels.providers.bluesky.tests.network import Person, wait_for
from humas.publishing import delivery
from humas.publishing.models import (
    Delivery,
    DeliveryStatus,
    MediaAsset,
    Pillar,
    Post,
    PostStatus,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ombak-tenang-pulau-tiga"
MASTODON = "https://social.example"
FIXTURES = Path(__file__).resolve().parents[2] / "humas/channels/providers/mastodon/fixtures"
ALT = "Jadwal posyandu di balai RW 05, Sabtu pukul 08.00"


def _payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _sign_in(page, email: str) -> None:
    page.goto("/masuk/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")


def _sign_out(page) -> None:
    page.context.clear_cookies()


def test_plan_compose_approve_and_publish_to_bluesky_and_mastodon(
    page, artifacts, bluesky_network, tmp_path
):
    org = make_org("Pemerintah Kota Alur Terbit")
    editor = make_member(org, "editor@alur.go.id", Role.EDITOR, password=PASSWORD)
    approver = make_member(org, "pimpinan@alur.go.id", Role.APPROVER, password=PASSWORD)
    admin = make_member(org, "admin@alur.go.id", Role.ADMIN, password=PASSWORD)
    for person in (editor, approver):
        person.language = "en"
        person.save()
    agency = Person(bluesky_network["pds"], "alur", secrets.token_hex(3))
    app_password = agency.client.com.atproto.server.create_app_password({"name": "humas"}).password

    with respx.mock(assert_all_called=False) as network:
        # Only Mastodon is faked; the live server and the local Bluesky network are real.
        network.route(host="localhost").pass_through()
        network.route(host="127.0.0.1").pass_through()
        network.get(f"{MASTODON}/api/v1/accounts/verify_credentials").respond(
            200, json=_payload("account_verify_credentials.json")
        )
        network.get(f"{MASTODON}/api/v2/instance").respond(200, json=_payload("instance_v2.json"))
        media = network.post(f"{MASTODON}/api/v2/media").respond(
            200, json=_payload("media_processed.json")
        )
        status = network.post(f"{MASTODON}/api/v1/statuses").respond(
            200, json=_payload("status_posted.json")
        )

        bluesky = connect_channel(
            org,
            "bluesky",
            {
                "service": bluesky_network["pds"],
                "handle": agency.handle,
                "app_password": app_password,
            },
            by=Actor(user=admin),
        )
        mastodon = connect_channel(
            org,
            "mastodon",
            {"instance": "social.example", "access_token": "ZA-Yj3aBD8U8Cm7lKUp"},
            by=Actor(user=admin),
        )

        # 1. Plan: a pillar.
        _sign_in(page, "editor@alur.go.id")
        page.get_by_role("link", name="Plan", exact=True).click()
        page.locator("a[href$='/rencana/pilar/baru/']").first.click()
        page.locator("input[name=name]").fill("Layanan publik")
        page.locator("input[name=colour]").fill("#0f766e")
        page.locator("input[name=target_share]").fill("40")
        page.locator("main form[method=post] .actions button[type=submit]").click()
        page.wait_for_url("**/rencana/pilar/")
        assert Pillar.objects.filter(organisation=org, name="Layanan publik").exists()

        # 2. Media: upload an image and describe it.
        image = tmp_path / "posyandu.png"
        image.write_bytes(png(600, 400))
        page.get_by_role("link", name="Media", exact=True).click()
        page.locator("#media-files").set_input_files(str(image))
        page.get_by_test_id("media-upload-form").locator("button[type=submit]").click()
        page.wait_for_selector("#upload-results a, #upload-results li")
        page.goto("/media/")
        page.locator("a[href*='/media/']").filter(has=page.locator("img")).first.click()
        page.locator("textarea[name=alt_text], input[name=alt_text]").fill(ALT)
        page.locator("form[action$='/ubah/'] button[type=submit]").click()
        page.wait_for_load_state()
        assert MediaAsset.objects.get(organisation=org).alt_text == ALT

        # 3. Compose for both networks, with live checks.
        page.get_by_role("link", name="Posts", exact=True).click()
        page.locator("a[href$='/konten/baru/']").first.click()
        page.locator("input[name=title]").fill("Jadwal posyandu")
        text = "Posyandu buka Sabtu pukul 08.00 di balai RW 05. Bawa buku KIA ya! #LayananPublik"
        page.locator("textarea[name=text]").fill(text)
        page.locator("select[name=pillar]").select_option(label="Layanan publik")
        page.locator(f"input[name=channels][value='{bluesky.pk}']").check()
        page.locator(f"input[name=channels][value='{mastodon.pk}']").check()
        page.locator("input[name=assets]").first.check()
        page.get_by_role("button", name="Copy the main text to every channel").click()
        # The live check counts the way each network does: Bluesky up to 300 graphemes,
        # Mastodon up to 500 characters (links would count as 23).
        bluesky_check = page.get_by_test_id(f"check-{bluesky.pk}")
        bluesky_check.get_by_text(f"{len(text)} of 300 characters").wait_for()
        page.get_by_test_id(f"check-{mastodon.pk}").get_by_text("of 500 characters").wait_for()
        assert bluesky_check.get_by_text("Ready to publish").count() == 1
        page.screenshot(path=str(artifacts / "publish-compose.png"), full_page=True)
        page.get_by_test_id("save-post").click()
        page.wait_for_selector("[data-testid=post-status]")
        post = Post.objects.get(organisation=org)
        assert post.variants.count() == 2
        page.get_by_test_id("submit-post").click()
        page.wait_for_load_state()
        post.refresh_from_db()
        assert post.status == PostStatus.IN_REVIEW
        assert page.get_by_test_id("approve").count() == 0  # not for the author

        # 4. Another person approves.
        _sign_out(page)
        _sign_in(page, "pimpinan@alur.go.id")
        page.goto(f"/konten/{post.pk}/")
        page.get_by_test_id("approve").click()
        page.wait_for_load_state()
        post.refresh_from_db()
        assert post.status == PostStatus.APPROVED

        # 5. The editor publishes it; the worker's drain sends it.
        _sign_out(page)
        _sign_in(page, "editor@alur.go.id")
        page.goto(f"/konten/{post.pk}/")
        page.get_by_test_id("publish-now").click()
        page.wait_for_load_state()
        assert Delivery.objects.filter(post=post, status=DeliveryStatus.PENDING).count() == 2
        while delivery.deliver_due("browser-test-worker"):
            pass

        page.reload()
        deliveries = page.get_by_test_id("deliveries")
        deliveries.locator("[data-testid=delivery-published]").nth(1).wait_for()
        assert deliveries.locator("[data-testid=delivery-published]").count() == 2
        page.get_by_test_id("post-status").filter(has_text="Published").wait_for()
        page.screenshot(path=str(artifacts / "publish-published.png"), full_page=True)

    # On the real network, with the description people using screen readers hear.
    sent = Delivery.objects.get(post=post, channel=bluesky)
    assert sent.channel_post is not None
    view = wait_for(
        "the post in the AppView", lambda: agency.post_view(sent.channel_post.external_id)
    )
    assert view.record.text == text
    assert [i.alt for i in view.embed.images] == [ALT]
    # Mastodon got the image with the same description, then the status.
    assert media.called and status.call_count == 1
    assert ALT.encode() in media.calls.last.request.content
    assert ChannelAccount.objects.filter(organisation=org).count() == 2

    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [], blocked
