"""Crisis mode end to end, as the issue's "done when" describes it, in a browser.

BMKG's nowcast list and its CAP file are served by a real HTTP server on 127.0.0.1 (a
stand-in for the publisher) and read by the feed poller; the alert proposes an incident.
An administrator confirms it in the browser: the promotional post scheduled for later is
held. They prepare a flood broadcast from the approved templates in Indonesian and English
and approve it; the urgent worker sends it; the page follows each channel until all are
published. The broadcast is on the real local Bluesky network (``bluesky_network``);
Mastodon and Telegram are faked at humas's HTTP seam (respx) with answers shaped like their
documentation, from the providers' fixtures. Last, the incident's report downloads as a PDF.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pypdfium2
import pytest
import respx
from django.urls import reverse
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.channels.actions import connect_channel
from humas.channels.providers.bluesky.tests.network import Person, wait_for
from humas.channels.providers.telegram.provider import TelegramProvider
from humas.crisis import feeds
from humas.crisis.models import (
    Broadcast,
    BroadcastStatus,
    CapFeed,
    CrisisArea,
    Incident,
    IncidentStatus,
)
from humas.publishing import delivery
from humas.publishing.models import Delivery, DeliveryStatus
from humas.publishing.testing import make_post

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "sungai-citarum-meluap-lagi"
REPO = Path(__file__).resolve().parents[2]
CAP_FIXTURES = REPO / "humas/crisis/tests/fixtures"
MASTODON_FIXTURES = REPO / "humas/channels/providers/mastodon/fixtures"
TELEGRAM_FIXTURES = REPO / "humas/channels/providers/telegram/fixtures"
BMKG = "https://example.bmkg.go.id"
FEED_PATH = "/alerts/nowcast/id/rss.xml"
ALERT_PATH = "/alerts/nowcast/id/CJB20261129017_alert.xml"
#: 20:30 WIB, while the nowcast is valid (the CAP file's times are fixed).
POLL_AT = datetime(2026, 11, 29, 13, 30, tzinfo=UTC)
MASTODON = "https://social.example"
#: Made up, in the shape @BotFather hands out (the connect form checks the shape).
TELEGRAM_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
TELEGRAM_API = f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/"
TELEGRAM_CHANNEL = -1001987654321
TELEGRAM_GROUP = -1001876543210
VALUES = {
    "area": "Cicalengka, Rancaekek dan Majalaya",
    "time": "Minggu 29 November 2026 pukul 21.00 WIB",
    "shelter": "GOR Cicalengka",
    "hotline": "112",
    "instructions": "Warga bantaran Citarum segera mengungsi.",
}


# --- the publisher of the warnings, a real HTTP server on this machine --------------------------


class _Publisher(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, tuple[str, bytes]] = {}
        self.requested: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    server: _Publisher

    def do_GET(self) -> None:
        self.server.requested.append(self.path)
        found = self.server.files.get(self.path)
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Each request on stderr would bury a failure's output; ``requested`` keeps them.
        pass


@pytest.fixture
def bmkg() -> Iterator[_Publisher]:
    """BMKG's nowcast list and the West Java alert; the list's links point at this server
    (the Sulawesi item's relative link then answers 404, as a withdrawn file would)."""
    server = _Publisher()
    listing = (CAP_FIXTURES / "nowcast_rss.xml").read_text().replace(BMKG, server.url)
    server.files = {
        FEED_PATH: ("application/rss+xml", listing.encode()),
        ALERT_PATH: ("application/cap+xml", (CAP_FIXTURES / "bmkg_style.xml").read_bytes()),
    }
    thread = threading.Thread(target=server.serve_forever, name="bmkg", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- Mastodon and Telegram, faked at the HTTP seam ----------------------------------------------


def _fixture(folder: Path, name: str) -> dict[str, Any]:
    return json.loads((folder / name).read_text())


class _Mastodon:
    """Answers POST /api/v1/statuses with a Status entity for what was sent, each with its
    own id (a thread's second part must reply to the first one's)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def status(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.sent.append(form)
        payload = _fixture(MASTODON_FIXTURES, "status_posted.json")
        status_id = str(int(payload["id"]) + len(self.sent))
        payload.update(
            id=status_id,
            uri=f"{MASTODON}/users/pemkabbandung/statuses/{status_id}",
            url=f"{MASTODON}/@pemkabbandung/{status_id}",
            content=f"<p>{html.escape(form['status'])}</p>",
            in_reply_to_id=form.get("in_reply_to_id"),
            language=form.get("language", "id"),
            visibility=form.get("visibility", "public"),
            spoiler_text="",
            sensitive=False,
            media_attachments=[],
        )
        return httpx.Response(200, json=payload)


class _Telegram:
    """The Bot API for a channel with a discussion group where the bot is an administrator."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.unexpected: list[str] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        params = json.loads(request.content or b"{}")
        chat = str(params.get("chat_id", ""))
        group = chat in (str(TELEGRAM_GROUP), "@diskusidinkeskota")
        if method == "getChat":
            name = "getChat-group" if group else "getChat-channel"
        elif method == "getChatMember":
            name = "getChatMember-group-member" if group else "getChatMember-administrator"
        elif method == "sendMessage":
            self.messages.append(params)
            name = "sendMessage-thread-part" if "reply_parameters" in params else "sendMessage"
        elif method in ("getMe", "deleteWebhook", "setWebhook"):
            name = method
        else:
            self.unexpected.append(method)
            return httpx.Response(404, json=_fixture(TELEGRAM_FIXTURES, "error-not-found.json"))
        return httpx.Response(200, json=_fixture(TELEGRAM_FIXTURES, f"{name}.json"))


# --- the browser --------------------------------------------------------------------------------


def _sign_in(page: Any, email: str) -> None:
    page.goto("/masuk/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")


def _send_urgent(broadcast: Broadcast) -> None:
    """What the urgent worker does, until none of the broadcast's deliveries is left open."""
    open_ = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    # A guard against a hang (a delivery put off for a retry would never come due here),
    # not a measurement.
    give_up = time.monotonic() + 120
    while Delivery.objects.filter(post_id=broadcast.post_id, status__in=open_).exists():
        if time.monotonic() > give_up:
            states = list(
                Delivery.objects.filter(post_id=broadcast.post_id).values_list(
                    "channel__network", "status", "last_error"
                )
            )
            pytest.fail(f"the urgent deliveries did not finish: {states}")
        if not delivery.deliver_urgent("browser-test-urgent"):
            time.sleep(0.05)


def test_an_official_warning_becomes_a_confirmed_incident_and_a_broadcast_on_every_channel(
    page, artifacts, bluesky_network, bmkg, settings, monkeypatch
):
    settings.HUMAS_ALLOW_PRIVATE_FEEDS = True  # the publisher here is on 127.0.0.1
    # The fake Bot API has no rate limit; Telegram's one message a second would only slow
    # connecting down.
    monkeypatch.setattr(TelegramProvider, "requests_per_second", 10_000.0)
    org = make_org("Pemerintah Kabupaten Bandung")
    admin = make_member(org, "kalak.bpbd@bandung.go.id", Role.ADMIN, password=PASSWORD)
    editor = make_member(org, "humas@bandung.go.id", Role.EDITOR, password=PASSWORD)
    CrisisArea.objects.create(organisation=org, place_names=["Jawa Barat"])
    agency = Person(bluesky_network["pds"], "bandung", secrets.token_hex(3))
    app_password = agency.client.com.atproto.server.create_app_password({"name": "humas"}).password
    mastodon_api = _Mastodon()
    telegram_api = _Telegram()

    with respx.mock(assert_all_called=False) as network:
        # Only Mastodon and Telegram are faked; the live server, the local Bluesky network
        # and the warnings' publisher are real.
        network.route(host="localhost").pass_through()
        network.route(host="127.0.0.1").pass_through()
        network.get(f"{MASTODON}/api/v1/accounts/verify_credentials").respond(
            200, json=_fixture(MASTODON_FIXTURES, "account_verify_credentials.json")
        )
        network.get(f"{MASTODON}/api/v2/instance").respond(
            200, json=_fixture(MASTODON_FIXTURES, "instance_v2.json")
        )
        network.post(f"{MASTODON}/api/v1/statuses").mock(side_effect=mastodon_api.status)
        network.post(url__startswith=TELEGRAM_API).mock(side_effect=telegram_api.answer)

        by_admin = Actor(user=admin)
        bluesky = connect_channel(
            org,
            "bluesky",
            {
                "service": bluesky_network["pds"],
                "handle": agency.handle,
                "app_password": app_password,
            },
            by=by_admin,
        )
        mastodon = connect_channel(
            org,
            "mastodon",
            {"instance": "social.example", "access_token": "ZA-Yj3aBD8U8Cm7lKUp"},
            by=by_admin,
        )
        telegram = connect_channel(
            org,
            "telegram",
            {"bot_token": TELEGRAM_TOKEN, "channel": "@dinkeskota", "discussion_chat_id": ""},
            by=by_admin,
        )
        promotion = make_post(
            org,
            editor,
            [mastodon],
            title="Lomba foto HUT Kabupaten",
            text="Ikuti lomba foto HUT Kabupaten Bandung! Hadiah menarik menanti.",
            when=timezone.now() + timedelta(hours=3),
            approve_with=[admin],
        )
        assert set(promotion.deliveries.values_list("status", flat=True)) == {
            DeliveryStatus.PENDING
        }

        # 1. The poller reads the warning from the publisher; it concerns our area.
        feed = CapFeed.objects.create(
            organisation=org, name="BMKG nowcast", url=f"{bmkg.url}{FEED_PATH}"
        )
        feeds.poll(feed, POLL_AT, budget=feeds.HostBudget(), sleep=lambda s: None)
        assert FEED_PATH in bmkg.requested and ALERT_PATH in bmkg.requested
        incident = Incident.objects.get(organisation=org)
        assert incident.status == IncidentStatus.PROPOSED
        assert incident.proposed_by_alert is not None

        # 2. A person confirms it; the promotion scheduled for later is held.
        _sign_in(page, admin.email)
        page.locator("[data-testid=crisis-link]").click()
        page.wait_for_selector("[data-testid=incident-table]")
        page.locator(f"[data-testid=incident-{incident.pk}] a").first.click()
        page.wait_for_selector("[data-testid=incident-title]")
        assert page.locator("[data-testid=incident-cap]").count() == 1
        page.locator("[data-testid=incident-confirm]").click()
        page.wait_for_selector("[data-testid=incident-close]")
        held = page.locator(f"[data-testid=incident-held] [data-testid=held-post-{promotion.pk}]")
        assert "Lomba foto HUT Kabupaten" in held.inner_text()
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.ACTIVE

        # 3. A flood broadcast from the approved templates, in Indonesian and English.
        page.locator("[data-testid=broadcast-new]").click()
        form = page.locator("[data-testid=broadcast-form]")
        form.locator("select[name=hazard]").select_option("flood")
        for language in ("id", "en"):
            form.locator(f"input[name=languages][value={language}]").check()
        for channel in (bluesky, mastodon, telegram):
            form.locator(f"input[name=channels][value='{channel.pk}']").check()
        for name in ("area", "time", "shelter", "hotline"):
            form.locator(f"input[name={name}]").fill(VALUES[name])
        form.locator("textarea[name=instructions]").fill(VALUES["instructions"])
        form.locator("[data-testid=broadcast-draft]").click()
        page.wait_for_selector("[data-testid=broadcast-approve]")
        broadcast = Broadcast.objects.get(incident=incident)
        assert broadcast.languages == ["id", "en"]
        indonesian, english = broadcast.texts["id"], broadcast.texts["en"]
        assert indonesian.startswith("PERINGATAN BANJIR — Cicalengka, Rancaekek dan Majalaya")
        assert english.startswith("FLOOD WARNING — Cicalengka, Rancaekek dan Majalaya")
        assert all(v in indonesian for v in VALUES.values()) and "{" not in indonesian
        limits = page.locator("[data-testid=broadcast-limits]")
        for channel in (bluesky, mastodon, telegram):
            assert limits.locator(f"[data-testid=broadcast-limit-{channel.pk}] .ok").count() == 1
        assert page.locator("[data-testid=broadcast-unfilled]").count() == 0

        # 4. Approved: nothing is sent until the urgent worker runs, and the page (already
        # open) follows each channel by itself.
        page.locator("[data-testid=broadcast-approve]").click()
        status = page.locator("[data-testid=broadcast-status]")
        status.wait_for()
        rows = {
            c.pk: status.locator(f"[data-testid=broadcast-channel-{c.pk}]")
            for c in (bluesky, mastodon, telegram)
        }
        assert [r.get_attribute("data-status") for r in rows.values()] == ["pending"] * 3
        page.evaluate("window.__still_the_same_page = true")
        broadcast.refresh_from_db()
        assert broadcast.status == BroadcastStatus.APPROVED
        _send_urgent(broadcast)
        for channel in (bluesky, mastodon, telegram):
            page.locator(
                f"[data-testid=broadcast-channel-{channel.pk}][data-status=published]"
            ).wait_for()
        assert page.evaluate("window.__still_the_same_page") is True
        page.screenshot(path=str(artifacts / "crisis-broadcast-published.png"), full_page=True)

    # 5. On the real Bluesky network: the Indonesian text, the English one answering it.
    def agency_posts() -> list[str] | None:
        found = agency.client.app.bsky.feed.get_author_feed({"actor": agency.did}).feed
        texts = [item.post.record.text for item in found]
        return texts if indonesian in texts and english in texts else None

    on_bluesky = wait_for("the broadcast in the agency's Bluesky feed", agency_posts)
    assert sorted(on_bluesky) == sorted([indonesian, english])
    root = Delivery.objects.get(post_id=broadcast.post_id, channel=bluesky).channel_post
    assert root is not None
    view = wait_for("the broadcast's first post", lambda: agency.post_view(root.external_id))
    assert view.record.text == indonesian

    # Mastodon and Telegram got the same: Indonesian first, English answering it.
    assert [s["status"] for s in mastodon_api.sent] == [indonesian, english]
    assert mastodon_api.sent[1]["in_reply_to_id"] == str(113452960000000001 + 1)
    assert [m["text"] for m in telegram_api.messages] == [indonesian, english]
    assert telegram_api.messages[0]["chat_id"] == TELEGRAM_CHANNEL
    assert telegram_api.unexpected == []
    # The promotion is still held: nothing of it went out.
    assert set(promotion.deliveries.values_list("status", flat=True)) == {DeliveryStatus.HELD}

    # 6. The incident's page shows the broadcast in its timeline; the report downloads.
    page.goto(reverse("crisis:incident", args=[incident.pk]))
    assert page.locator("[data-testid=incident-event-broadcast]").count() == 1
    assert page.locator(f"[data-testid=held-post-{promotion.pk}]").count() == 1
    page.locator("[data-testid=incident-report]").click()
    page.wait_for_url(f"**{reverse('crisis:incident_report', args=[incident.pk])}*")
    with page.expect_download() as download:
        page.locator("[data-testid=aar-download-pdf]").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    (artifacts / "crisis-timeline-report.pdf").write_bytes(pdf)
    document = pypdfium2.PdfDocument(pdf)
    text = " ".join(p.get_textpage().get_text_range() for p in document)
    document.close()
    squashed = " ".join(text.split())
    assert " ".join(incident.title.split()) in squashed
    for label in ("Bluesky", "Mastodon", "Telegram"):
        assert label in squashed

    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [], blocked
