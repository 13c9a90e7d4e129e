"""RssProvider on its own: connecting, reading items, the cursor, errors, addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from humas.channels.providers import provider_class
from humas.channels.providers.base import (
    Capabilities,
    ErrorKind,
    EventKind,
    InboundEvent,
    PostContent,
    ProviderError,
)
from humas.channels.providers.rss.provider import (
    MAX_SEEN,
    Cursor,
    RssConnectForm,
    RssProvider,
    normalise_url,
)
from humas.channels.providers.rss.tests.conftest import FEED_URL, fixture
from humas.lib import http

ATOM_URL = "https://dinkes.kotasatu.go.id/siaran-pers.atom"
RSS_HEADERS = {
    "Content-Type": "application/rss+xml; charset=UTF-8",
    "ETag": '"5f2c-1a"',
    "Last-Modified": "Tue, 03 Nov 2026 02:15:00 GMT",
}


def rss_reply(name: str = "rss_berita_kota.xml", **headers: str) -> httpx.Response:
    return httpx.Response(200, content=fixture(name), headers={**RSS_HEADERS, **headers})


def provider(url: str = FEED_URL, **config: Any) -> RssProvider:
    return RssProvider(credentials={}, config={"url": url, **config}, channel_key="rss:test")


def poll(cursor: str = "", url: str = FEED_URL) -> tuple[list[InboundEvent], dict[str, Any]]:
    events, next_cursor = provider(url).fetch_inbound(cursor)
    return events, json.loads(next_cursor)


# --- what the network is ------------------------------------------------------------------


def test_it_is_the_provider_registered_for_rss():
    assert provider_class("rss") is RssProvider
    assert RssProvider.network == "rss"
    assert RssProvider.label == "RSS/Atom feed"


def test_it_only_reads():
    assert RssProvider.capabilities == Capabilities(
        publish=False,
        delete=False,
        reply=False,
        threads=False,
        direct_messages=False,
        post_metrics=False,
        account_metrics=False,
        polling=True,
        webhooks=False,
        link_cards=False,
    )
    feed = provider()
    event = InboundEvent(kind=EventKind.MENTION, external_id="x", created_at=datetime.now(UTC))
    for call in (
        lambda: feed.publish(PostContent(text="Halo")),
        lambda: feed.delete("x"),
        lambda: feed.reply(event, PostContent(text="Halo")),
    ):
        with pytest.raises(ProviderError) as error:
            call()
        assert error.value.kind == ErrorKind.PERMANENT


# --- the connect form ---------------------------------------------------------------------


def test_the_connect_form_takes_an_address_and_an_optional_name():
    form = RssConnectForm({"url": "HTTPS://Berita.KotaSatu.go.id:443/feed/#atas"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"url": FEED_URL, "name": ""}


def test_the_connect_form_assumes_https_when_the_scheme_is_missing():
    form = RssConnectForm({"url": "berita.kotasatu.go.id/feed/", "name": "Berita Kota"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["url"] == FEED_URL


@pytest.mark.parametrize(
    "url",
    [
        "ftp://berita.kotasatu.go.id/feed.xml",
        "file:///etc/passwd",
        "bukan alamat",
        "https://berita.kotasatu.go.id:99999/feed/",
    ],
)
def test_the_connect_form_refuses_addresses_that_are_not_web_addresses(url):
    form = RssConnectForm({"url": url})
    assert not form.is_valid()
    assert "url" in form.errors


def test_it_spells_one_address_one_way():
    assert normalise_url(" HTTP://Berita.go.id:80?x=1#frag ") == "http://berita.go.id/?x=1"
    assert normalise_url("https://berita.go.id:8443/rss") == "https://berita.go.id:8443/rss"
    assert normalise_url("http://[::1]:8080/rss") == "http://[::1]:8080/rss"


# --- connecting ---------------------------------------------------------------------------


def test_it_connects_to_an_rss_feed_and_keeps_its_validators(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    connection = RssProvider.connect({"url": FEED_URL, "name": ""})

    assert connection.account.external_id == FEED_URL
    assert connection.account.handle == FEED_URL
    assert connection.account.display_name == "Berita Kota Satu"
    assert connection.credentials == {}
    assert connection.config == {
        "url": FEED_URL,
        "name": "",
        "etag": '"5f2c-1a"',
        "last_modified": "Tue, 03 Nov 2026 02:15:00 GMT",
    }
    request = respx_mock.calls.last.request
    assert "application/atom+xml" in request.headers["Accept"]
    assert "If-None-Match" not in request.headers


def test_it_shows_the_name_given_instead_of_the_feed_title(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    connection = RssProvider.connect({"url": FEED_URL, "name": "Portal Berita Pemkot"})

    assert connection.account.display_name == "Portal Berita Pemkot"
    assert connection.config["name"] == "Portal Berita Pemkot"


def test_it_connects_to_an_atom_feed(respx_mock):
    respx_mock.get(ATOM_URL).mock(
        return_value=httpx.Response(200, content=fixture("atom_dinkes.xml"))
    )

    connection = RssProvider.connect({"url": ATOM_URL})

    assert connection.account.display_name == "Siaran Pers Dinas Kesehatan Kota Satu"
    assert connection.config["etag"] == ""


def test_testing_the_connection_reads_the_feed_again_and_keeps_the_chosen_name(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    assert provider().account_info().display_name == "Berita Kota Satu"
    assert provider(name="Portal Pemkot").account_info().display_name == "Portal Pemkot"


def test_a_channel_without_an_address_asks_to_be_connected_again():
    feed = RssProvider(credentials={}, config={})
    with pytest.raises(ProviderError, match="no feed address") as error:
        feed.fetch_inbound("")
    assert error.value.kind == ErrorKind.PERMANENT


# --- reading items ------------------------------------------------------------------------


def test_it_turns_rss_items_into_feed_item_events(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    events, cursor = poll()

    assert len(events) == 5
    # Oldest first, as they happened.
    assert [e.created_at.day for e in events] == [30, 31, 1, 2, 3]
    newest = events[-1]
    assert newest.kind == EventKind.ARTICLE
    assert newest.external_id == "https://berita.kotasatu.go.id/?p=10425"
    assert newest.created_at == datetime(2026, 11, 3, 2, 15, tzinfo=UTC)
    assert newest.author_name == "Siti Rahmawati"
    assert newest.author_handle == "berita.kotasatu.go.id"
    assert newest.author_id == FEED_URL
    assert newest.permalink == "https://berita.kotasatu.go.id/2026/11/03/jalan-diponegoro-ditutup/"
    assert newest.language == "id"
    assert newest.text == (
        "Jalan Diponegoro Ditutup Sementara untuk Perbaikan Drainase\n\n"
        "Dinas Pekerjaan Umum menutup Jalan Diponegoro mulai Rabu, 4 November selama dua pekan.\n"
        "Pengendara diminta lewat Jalan Sudirman & Jalan Ahmad Yani."
    )
    assert newest.media == [
        {
            "url": "https://berita.kotasatu.go.id/wp-content/uploads/2026/11/diponegoro.jpg",
            "type": "image/jpeg",
            "length": "184320",
        }
    ]
    assert newest.raw == {
        "feed_item": True,
        "feed": FEED_URL,
        "feed_title": "Berita Kota Satu",
        "title": "Jalan Diponegoro Ditutup Sementara untuk Perbaikan Drainase",
        "tags": ["Infrastruktur", "Lalu Lintas"],
    }
    json.dumps(newest.raw)  # stored in a JSON field
    assert cursor["etag"] == '"5f2c-1a"'
    assert cursor["modified"] == "Tue, 03 Nov 2026 02:15:00 GMT"
    assert cursor["seen"][0] == "https://berita.kotasatu.go.id/?p=10425"
    assert len(cursor["seen"]) == 5


def test_line_breaks_in_an_item_survive_as_new_lines(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    events, _cursor = poll()

    vaccination = next(e for e in events if "Vaksinasi" in e.text)
    assert vaccination.text.endswith("puskesmas terdekat.\nBawa kartu keluarga.")


def test_it_reads_an_atom_feed(respx_mock):
    respx_mock.get(ATOM_URL).mock(
        return_value=httpx.Response(
            200,
            content=fixture("atom_dinkes.xml"),
            headers={"Content-Type": "application/atom+xml"},
        )
    )

    events, _cursor = poll(url=ATOM_URL)

    by_id = {e.external_id: e for e in events}
    checkup = by_id["tag:dinkes.kotasatu.go.id,2026-11-03:siaran-pers/812"]
    # An HTML title is shown as the text a reader sees; a relative link is made absolute.
    assert checkup.text.startswith("Cek Kesehatan Gratis & Donor Darah di Balai Kota\n\n")
    assert (
        checkup.permalink == "https://dinkes.kotasatu.go.id/siaran-pers/2026/cek-kesehatan-gratis"
    )
    assert checkup.author_name == "dr. Ayu Pratiwi"
    assert checkup.language == "id"
    assert checkup.created_at == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    dengue = by_id["tag:dinkes.kotasatu.go.id,2026-11-01:siaran-pers/807"]
    # No <published>: the <updated> time, converted to UTC.
    assert dengue.created_at == datetime(2026, 11, 1, 16, 30, tzinfo=UTC)
    assert dengue.text == (
        "Waspada Demam Berdarah di Musim Hujan\n\n"
        "Lakukan 3M Plus: menguras, menutup dan mendaur ulang.\n"
        "Segera ke puskesmas bila demam lebih dari dua hari."
    )
    # The feed's author is used when an entry names none.
    assert dengue.author_name == "Humas Dinas Kesehatan"


def test_a_javascript_link_in_a_feed_never_reaches_the_inbox(respx_mock):
    respx_mock.get(ATOM_URL).mock(
        return_value=httpx.Response(200, content=fixture("atom_dinkes.xml"))
    )

    events, _cursor = poll(url=ATOM_URL)

    posyandu = next(e for e in events if e.text.startswith("Jadwal Posyandu"))
    assert posyandu.permalink == ""


def test_an_item_without_a_date_is_dated_when_it_was_read(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=rss_reply("duplicate_guids.xml"))
    before = datetime.now(UTC)

    events, _cursor = poll()

    undated = next(e for e in events if e.text.startswith("Info tanpa guid"))
    assert undated.created_at >= before


def test_it_keeps_the_first_of_two_items_with_the_same_guid(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=rss_reply("duplicate_guids.xml"))

    events, cursor = poll()

    ids = [e.external_id for e in events]
    assert len(ids) == len(set(ids)) == 3
    working_bee = next(e for e in events if e.external_id.endswith("kerja-bakti"))
    assert working_bee.text.startswith("Kerja Bakti Minggu Pagi (ralat jam)")
    # An item with neither guid nor link gets an id from its title and date, the same each time.
    hashed = next(e for e in events if e.external_id.startswith("sha256:"))
    again, _ = poll(json.dumps({"seen": []}))
    assert hashed.external_id in {e.external_id for e in again}
    assert len(cursor["seen"]) == 3


def test_an_overlong_guid_is_hashed_not_cut(respx_mock):
    long_guid = "https://berita.kotasatu.go.id/?" + "p" * 600
    body = fixture("rss_berita_kota.xml").replace(
        b"https://berita.kotasatu.go.id/?p=10425</guid>", long_guid.encode() + b"</guid>"
    )
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(200, content=body))

    events, _cursor = poll()

    assert all(len(e.external_id) <= 500 for e in events)
    assert any(e.external_id.startswith("sha256:") for e in events)


# --- the cursor ---------------------------------------------------------------------------


def test_it_sends_the_validators_back_and_an_unchanged_feed_gives_nothing(respx_mock):
    route = respx_mock.get(FEED_URL).mock(return_value=rss_reply())
    events, cursor = poll()
    assert len(events) == 5

    route.mock(return_value=httpx.Response(304, headers={"ETag": RSS_HEADERS["ETag"]}))
    again, next_cursor = provider().fetch_inbound(json.dumps(cursor))

    assert again == []
    assert json.loads(next_cursor) == cursor
    request = route.calls.last.request
    assert request.headers["If-None-Match"] == '"5f2c-1a"'
    assert request.headers["If-Modified-Since"] == "Tue, 03 Nov 2026 02:15:00 GMT"


def test_it_reports_only_new_items_when_the_server_ignores_validators(respx_mock):
    route = respx_mock.get(FEED_URL).mock(return_value=rss_reply())
    _events, cursor = poll()

    route.mock(return_value=rss_reply("rss_berita_kota_later.xml"))
    events, next_cursor = poll(json.dumps(cursor))

    assert [e.external_id for e in events] == [
        "https://berita.kotasatu.go.id/?p=10429",
        "https://berita.kotasatu.go.id/?p=10431",
    ]
    assert next_cursor["seen"][:2] == [
        "https://berita.kotasatu.go.id/?p=10431",
        "https://berita.kotasatu.go.id/?p=10429",
    ]
    assert len(next_cursor["seen"]) == 7

    route.mock(return_value=rss_reply("rss_berita_kota_later.xml"))
    assert poll(json.dumps(next_cursor))[0] == []


def test_it_remembers_ids_that_left_the_feed_but_at_most_500(respx_mock):
    old = [f"old-{n}" for n in range(MAX_SEEN)]
    respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    _events, cursor = poll(json.dumps({"etag": "", "modified": "", "seen": old}))

    assert len(cursor["seen"]) == MAX_SEEN
    assert cursor["seen"][:5] == [
        "https://berita.kotasatu.go.id/?p=10425",
        "https://berita.kotasatu.go.id/?p=10411",
        "https://berita.kotasatu.go.id/?p=10398",
        "https://berita.kotasatu.go.id/?p=10380",
        "https://berita.kotasatu.go.id/?p=10371",
    ]
    assert cursor["seen"][5] == "old-0"


@pytest.mark.parametrize("cursor", ["not json", "[1, 2]", '{"etag": 5, "seen": "x"}'])
def test_an_unreadable_cursor_starts_over(respx_mock, cursor):
    route = respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    events, _next = poll(cursor)

    assert len(events) == 5
    assert "If-None-Match" not in route.calls.last.request.headers


def test_a_cursor_round_trips():
    cursor = Cursor(etag='W/"abc"', modified="Tue, 03 Nov 2026 02:15:00 GMT", seen=("a", "b"))
    assert Cursor.load(cursor.dump()) == cursor
    assert Cursor.load("") == Cursor()


# --- faults -------------------------------------------------------------------------------


def test_a_malformed_feed_is_a_permanent_error_with_the_parser_reason(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(200, content=fixture("invalid.xml")))

    with pytest.raises(ProviderError) as error:
        poll()

    assert error.value.kind == ErrorKind.PERMANENT
    assert "could not be read" in error.value.message
    assert "mismatched tag" in error.value.message


def test_a_web_page_is_not_taken_for_a_feed(respx_mock):
    respx_mock.get(FEED_URL).mock(
        return_value=httpx.Response(
            200, content=fixture("not_a_feed.html"), headers={"Content-Type": "text/html"}
        )
    )

    with pytest.raises(ProviderError) as error:
        RssProvider.connect({"url": FEED_URL})

    assert error.value.kind == ErrorKind.PERMANENT


def test_a_well_formed_document_that_is_no_feed_is_refused(respx_mock):
    respx_mock.get(FEED_URL).mock(
        return_value=httpx.Response(200, content=b"<?xml version='1.0'?><catatan>isi</catatan>")
    )

    with pytest.raises(ProviderError, match="does not look like an RSS or Atom feed"):
        poll()


def test_an_empty_but_valid_feed_gives_no_items(respx_mock):
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Kosong</title>'
        b"<link>https://kosong.go.id/</link><description>-</description></channel></rss>"
    )
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(200, content=body))

    events, cursor = poll()

    assert events == []
    assert cursor["seen"] == []


def test_the_parser_never_opens_a_local_file_named_by_the_server(respx_mock, tmp_path):
    local = tmp_path / "rahasia.xml"
    local.write_bytes(fixture("rss_berita_kota.xml"))
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(200, content=str(local).encode()))

    with pytest.raises(ProviderError):
        poll()


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.PERMANENT),
        (401, ErrorKind.AUTH),
        (403, ErrorKind.AUTH),
        (404, ErrorKind.PERMANENT),
        (410, ErrorKind.PERMANENT),
        (500, ErrorKind.TRANSIENT),
        (503, ErrorKind.TRANSIENT),
    ],
)
def test_http_errors_map_to_error_kinds(respx_mock, status, kind):
    respx_mock.get(FEED_URL).mock(
        return_value=httpx.Response(
            status, text="Halaman tidak ditemukan", headers={"Retry-After": "0"}
        )
    )

    with pytest.raises(ProviderError) as error:
        poll()

    assert error.value.kind == kind
    assert error.value.status == status
    assert f"HTTP {status}" in error.value.message


def test_a_rate_limit_says_when_to_come_back(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "600"}))

    with pytest.raises(ProviderError) as error:
        poll()

    assert error.value.kind == ErrorKind.RATE_LIMITED
    assert error.value.retry_after == 600


def test_a_server_that_keeps_timing_out_is_a_transient_error(respx_mock):
    route = respx_mock.get(FEED_URL).mock(side_effect=httpx.ConnectTimeout("timed out"))

    with pytest.raises(ProviderError) as error:
        poll()

    assert error.value.kind == ErrorKind.TRANSIENT
    assert route.call_count == 4  # HttpClient's retries


def test_a_feed_over_the_size_cap_is_refused(respx_mock, monkeypatch):
    monkeypatch.setattr(http, "MAX_RESPONSE_BYTES", 1000)
    respx_mock.get(FEED_URL).mock(return_value=rss_reply())

    with pytest.raises(ProviderError, match="feed is too large") as error:
        poll()

    assert error.value.kind == ErrorKind.PERMANENT


# --- redirects ----------------------------------------------------------------------------


def test_it_follows_up_to_three_redirects(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(302, headers={"Location": "/rss/"}))
    respx_mock.get("https://berita.kotasatu.go.id/rss/").mock(
        return_value=httpx.Response(301, headers={"Location": "https://www.kotasatu.go.id/b"})
    )
    respx_mock.get("https://www.kotasatu.go.id/b").mock(
        return_value=httpx.Response(307, headers={"Location": "https://www.kotasatu.go.id/c"})
    )
    respx_mock.get("https://www.kotasatu.go.id/c").mock(return_value=rss_reply())

    events, _cursor = poll()

    assert len(events) == 5


def test_it_gives_up_after_three_redirects(respx_mock):
    for n in range(4):
        respx_mock.get(f"https://berita.kotasatu.go.id/{n}").mock(
            return_value=httpx.Response(
                302, headers={"Location": f"https://berita.kotasatu.go.id/{n + 1}"}
            )
        )

    with pytest.raises(ProviderError, match="redirected more than 3 times") as error:
        poll(url="https://berita.kotasatu.go.id/0")

    assert error.value.kind == ErrorKind.PERMANENT


def test_a_redirect_without_a_location_is_an_error(respx_mock):
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(302))

    with pytest.raises(ProviderError, match="without a new address"):
        poll()


def test_a_feed_that_moved_for_good_is_stored_at_its_new_address(respx_mock):
    new_home = "https://portal.kotasatu.go.id/berita.xml"
    respx_mock.get(FEED_URL).mock(return_value=httpx.Response(301, headers={"Location": new_home}))
    respx_mock.get(new_home).mock(return_value=rss_reply())

    connection = RssProvider.connect({"url": FEED_URL})

    assert connection.account.external_id == new_home
    assert connection.config["url"] == new_home


def test_a_temporary_redirect_keeps_the_address_entered(respx_mock):
    respx_mock.get(FEED_URL).mock(
        return_value=httpx.Response(302, headers={"Location": "https://cdn.kotasatu.go.id/f"})
    )
    respx_mock.get("https://cdn.kotasatu.go.id/f").mock(return_value=rss_reply())

    assert RssProvider.connect({"url": FEED_URL}).config["url"] == FEED_URL


# --- addresses inside the agency's network (SSRF) ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://localhost.:8000/feed",
        "http://10.1.2.3/rss",
        "http://192.168.1.10/rss",
        "http://172.16.0.5/rss",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/rss",
        "http://0.0.0.0/rss",
        "http://[::1]/rss",
        "http://[fd00::5]/rss",
        "http://[::ffff:192.168.0.1]/rss",
    ],
)
def test_it_refuses_private_and_loopback_addresses(respx_mock, strict, dns, url):
    dns["localhost."] = ["127.0.0.1"]

    with pytest.raises(ProviderError, match="private or local network address") as error:
        RssProvider.connect({"url": url})

    assert error.value.kind == ErrorKind.PERMANENT
    assert respx_mock.calls.call_count == 0


def test_it_refuses_a_public_name_that_points_inside(respx_mock, strict, dns):
    # A host with one public and one private address is refused too: either could be used.
    dns["berita.kotasatu.go.id"] = ["36.86.63.180", "10.0.0.8"]

    with pytest.raises(ProviderError, match="private or local"):
        RssProvider.connect({"url": FEED_URL})

    assert respx_mock.calls.call_count == 0


def test_it_connects_to_the_address_it_checked(respx_mock, strict, dns):
    # The request goes to the checked IP with the name in Host and TLS SNI, so a second,
    # different DNS answer (rebinding) cannot redirect it.
    dns["berita.kotasatu.go.id"] = ["36.86.63.180"]
    route = respx_mock.get("https://36.86.63.180/feed/").mock(return_value=rss_reply())

    connection = RssProvider.connect({"url": FEED_URL})

    assert connection.account.external_id == FEED_URL
    request = route.calls.last.request
    assert request.headers["Host"] == "berita.kotasatu.go.id"
    assert request.extensions["sni_hostname"] == "berita.kotasatu.go.id"


def test_it_checks_the_address_again_after_each_redirect(respx_mock, strict, dns):
    dns["berita.kotasatu.go.id"] = ["36.86.63.180"]
    respx_mock.get("https://36.86.63.180/feed/").mock(
        return_value=httpx.Response(302, headers={"Location": "http://127.0.0.1:8080/admin"})
    )
    inside = respx_mock.get("http://127.0.0.1:8080/admin").mock(return_value=rss_reply())

    with pytest.raises(ProviderError, match="private or local"):
        RssProvider.connect({"url": FEED_URL})

    assert inside.call_count == 0


def test_a_redirect_to_another_scheme_is_refused(respx_mock):
    respx_mock.get(FEED_URL).mock(
        return_value=httpx.Response(302, headers={"Location": "file:///etc/passwd"})
    )

    with pytest.raises(ProviderError, match="not an http or https address"):
        poll()


def test_an_unknown_host_is_a_transient_error(respx_mock, strict):
    with pytest.raises(ProviderError, match="could not be found") as error:
        RssProvider.connect({"url": "https://tidak-ada.kotasatu.go.id/rss"})

    assert error.value.kind == ErrorKind.TRANSIENT


def test_private_feeds_can_be_allowed_for_development(respx_mock, strict, settings):
    respx_mock.get("http://127.0.0.1:8000/feed/").mock(return_value=rss_reply())

    settings.DEBUG = True
    assert RssProvider.connect({"url": "http://127.0.0.1:8000/feed/"}).account.handle

    settings.DEBUG = False
    settings.HUMAS_ALLOW_PRIVATE_FEEDS = True
    assert RssProvider.connect({"url": "http://127.0.0.1:8000/feed/"}).account.handle


def test_without_the_setting_the_environment_flag_decides(
    respx_mock, strict, settings, monkeypatch
):
    del settings.HUMAS_ALLOW_PRIVATE_FEEDS
    respx_mock.get("http://127.0.0.1:8000/feed/").mock(return_value=rss_reply())

    monkeypatch.setenv("HUMAS_ALLOW_PRIVATE_FEEDS", "true")
    assert RssProvider.connect({"url": "http://127.0.0.1:8000/feed/"}).account.handle

    monkeypatch.setenv("HUMAS_ALLOW_PRIVATE_FEEDS", "false")
    with pytest.raises(ProviderError, match="private or local"):
        RssProvider.connect({"url": "http://127.0.0.1:8000/feed/"})


@pytest.mark.parametrize(
    "url", ["ftp://berita.kotasatu.go.id/rss", "https://user:pw@berita.go.id/"]
)
def test_connect_refuses_what_the_form_would_have_refused(respx_mock, url):
    with pytest.raises(ProviderError) as error:
        RssProvider.connect({"url": url})

    assert error.value.kind == ErrorKind.PERMANENT
    assert respx_mock.calls.call_count == 0
