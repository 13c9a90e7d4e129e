"""A tracked link's whole conversion flow in a browser.

An editor creates the campaign's link for its Bluesky channel; a citizen opens the short link,
lands on the agency's page (a tiny local site, on another port, that keeps the ``hl`` code
from its address as the user guide shows), signs up, and the thank-you page shows the humas
pixel; the editor's page then shows one click, one conversion and a 100 % rate. A reload of
the thank-you page does not count twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from humas.accounts.audit import Actor
from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.analytics.models import Conversion, TrackedLink
from humas.publishing import actions as publishing
from humas.publishing.testing import make_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ombak-tenang-pulau-tiga"

LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>Daftar imunisasi</title>
<script>
  // The agency's page keeps the humas code (first party, this tab only).
  const code = new URLSearchParams(location.search).get("hl");
  if (code) sessionStorage.setItem("humas_hl", code);
</script></head>
<body><h1>Daftar imunisasi</h1><a id="daftar" href="/terima-kasih">Daftar</a></body></html>"""

THANKS = """<!doctype html><html><head><meta charset="utf-8"><title>Terima kasih</title></head>
<body><h1>Terima kasih</h1>
<script>
  const code = sessionStorage.getItem("humas_hl");
  if (code) {
    const pixel = new Image(1, 1);
    pixel.id = "humas-pixel";
    pixel.alt = "";
    pixel.onload = () => document.body.dataset.pixel = "loaded";
    pixel.src = "%(humas)s/l/" + encodeURIComponent(code) + "/pixel.gif";
    document.body.appendChild(pixel);
  }
</script></body></html>"""


@pytest.fixture
def landing_site(live_server) -> Iterator[str]:
    humas = live_server.url

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (THANKS % {"humas": humas} if "terima-kasih" in self.path else LANDING).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    # On the live server's host name: the pixel's cookie is then same-site, as it is for an
    # agency whose landing page and humas share a registrable domain (over https, SameSite=None
    # covers the rest; see docs/analytics.md).
    host = live_server.url.split("//", 1)[1].rsplit(":", 1)[0]
    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{host}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_click_on_a_tracked_link_and_a_sign_up_show_on_the_campaign(
    page, live_server, landing_site, settings, browser
):
    settings.SITE_URL = live_server.url
    org = make_org("Pemerintah Kota Tautan")
    editor = make_member(org, "editor@tautan.go.id", Role.EDITOR, password=PASSWORD)
    editor.language = "en"
    editor.save()
    channel = make_channel(org, "dinkes.bsky.social", network="bluesky")
    campaign = publishing.save_campaign(
        org,
        by=Actor(user=editor),
        name="Imunisasi",
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 12, 31),
        link=f"{landing_site}/daftar",
    )

    # 1. The editor makes the Bluesky link from the campaign's links page.
    page.goto("/masuk/")
    page.locator("input[name=username]").fill("editor@tautan.go.id")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")
    page.locator("[data-testid=links-link]").click()
    page.get_by_role("link", name="Imunisasi").click()
    page.locator(f"input[name=channels][value='{channel.pk}']").check()
    page.locator("[data-testid=link-create]").click()
    link = TrackedLink.objects.get(campaign=campaign)
    short = page.locator(f"[data-testid=link-{link.code}] [data-testid=short-url]").input_value()
    assert short == f"{live_server.url}/l/{link.code}"

    # 2. A citizen, in a browser of their own, follows it and signs up.
    citizen = browser.new_context(locale="id-ID")
    visit = citizen.new_page()
    visit.goto(short)
    assert visit.url.startswith(f"{landing_site}/daftar?")
    assert f"hl={link.code}" in visit.url
    assert "utm_source=bluesky" in visit.url
    visit.locator("#daftar").click()
    visit.wait_for_selector("body[data-pixel=loaded]")
    visit.reload()
    visit.wait_for_selector("body[data-pixel=loaded]")
    citizen.close()
    assert Conversion.objects.filter(link=link).count() == 1

    # 3. The editor sees the click and the conversion.
    page.reload()
    row = page.locator(f"[data-testid=link-{link.code}]")
    assert row.locator("[data-testid=clicks]").inner_text() == "1"
    assert row.locator("[data-testid=conversions]").inner_text() == "1"
    assert row.locator("[data-testid=rate]").inner_text() == "100.0 %"
    assert page.locator("[data-testid=total-rate]").inner_text() == "100.0 %"
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
