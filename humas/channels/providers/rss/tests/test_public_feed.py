"""The organisation's public Atom feed at /feed/<slug>.atom, checked against RFC 4287."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import feedparser
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from humas.accounts.testing import make_org
from humas.channels.models import ChannelAccount, ChannelPost, InboundEvent

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# RFC 3339 section 5.6 date-time, with the upper-case T and Z RFC 4287 section 3.3 requires.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
MONDAY = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 08:00 WIB


def feed_url(org) -> str:
    return reverse("channels:public_feed", args=[org.slug])


def channel(org, network: str = "mastodon", handle: str = "@pemkot") -> ChannelAccount:
    return ChannelAccount.objects.create(
        organisation=org, network=network, external_id=f"{network}:{handle}", handle=handle
    )


def post(ch: ChannelAccount, text: str, when: datetime, url: str = "", **extra) -> ChannelPost:
    n = ChannelPost.objects.filter(channel=ch).count() + 1
    return ChannelPost.objects.create(
        organisation=ch.organisation,
        channel=ch,
        external_id=f"{ch.network}-{n}-{when.timestamp()}",
        url=url or f"https://{ch.network}.example/{ch.handle}/{n}",
        text=text,
        published_at=when,
        **extra,
    )


# --- a strict reading of RFC 4287 ---------------------------------------------------------


def _one(parent: ET.Element, name: str, where: str) -> ET.Element:
    found = parent.findall(ATOM + name)
    assert len(found) == 1, f"{where} must have exactly one atom:{name}, has {len(found)}"
    return found[0]


def _at_most_one(parent: ET.Element, name: str, where: str) -> None:
    assert len(parent.findall(ATOM + name)) <= 1, f"{where} has more than one atom:{name}"


def _absolute_iri(value: str | None, what: str) -> None:
    assert value, f"{what} is empty"
    assert urlsplit(value).scheme, f"{what} {value!r} is not an absolute IRI"


def _date(element: ET.Element, what: str) -> datetime:
    text = element.text or ""
    assert RFC3339.match(text), f"{what} {text!r} is not an RFC 3339 date-time"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _text_construct(element: ET.Element, what: str) -> None:
    assert element.get("type", "text") in ("text", "html", "xhtml"), f"{what} has a bad type"
    if element.get("type", "text") == "text":
        assert len(element) == 0, f"{what} is type text but has child elements"


def _links(parent: ET.Element, where: str) -> list[ET.Element]:
    links = parent.findall(ATOM + "link")
    alternates: set[tuple[str | None, str | None]] = set()
    for link in links:
        _absolute_iri(link.get("href"), f"{where} link href")
        if link.get("rel", "alternate") == "alternate":
            key = (link.get("type"), link.get("hreflang"))
            assert key not in alternates, f"{where} has two alternate links of one type"
            alternates.add(key)
    return links


def _person(element: ET.Element, what: str) -> None:
    _one(element, "name", what)
    _at_most_one(element, "uri", what)
    _at_most_one(element, "email", what)


def validate_atom(body: bytes) -> ET.Element:
    """Every MUST of RFC 4287 that applies to what humas writes; returns the root."""
    root = ET.fromstring(body)  # noqa: S314 (our own output)
    assert root.tag == ATOM + "feed", "the root must be atom:feed in the Atom namespace"
    for name in ("id", "title", "updated"):
        _one(root, name, "feed")
    for name in ("subtitle", "rights", "icon", "logo", "generator"):
        _at_most_one(root, name, "feed")
    _absolute_iri(_one(root, "id", "feed").text, "feed id")
    _text_construct(_one(root, "title", "feed"), "feed title")
    _date(_one(root, "updated", "feed"), "feed updated")
    _links(root, "feed")
    feed_authors = root.findall(ATOM + "author")
    for author in feed_authors:
        _person(author, "feed author")
    for n, entry in enumerate(root.findall(ATOM + "entry")):
        where = f"entry {n}"
        for name in ("id", "title", "updated"):
            _one(entry, name, where)
        for name in ("published", "content", "summary", "rights", "source"):
            _at_most_one(entry, name, where)
        _absolute_iri(_one(entry, "id", where).text, f"{where} id")
        _text_construct(_one(entry, "title", where), f"{where} title")
        _date(_one(entry, "updated", where), f"{where} updated")
        for published in entry.findall(ATOM + "published"):
            _date(published, f"{where} published")
        links = _links(entry, where)
        content = entry.findall(ATOM + "content")
        has_alternate = any(link.get("rel", "alternate") == "alternate" for link in links)
        assert has_alternate or content, f"{where} needs an alternate link or content"
        for element in content:
            _text_construct(element, f"{where} content")
            assert not element.get("src") or entry.findall(ATOM + "summary")
        authors = entry.findall(ATOM + "author")
        for author in authors:
            _person(author, f"{where} author")
        assert feed_authors or authors, f"{where} has no author and neither has the feed"
    return root


def read_feed(client: Client, org, **headers) -> tuple[ET.Element, feedparser.FeedParserDict]:
    response = client.get(feed_url(org), **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = validate_atom(response.content)
    parsed = feedparser.parse(
        response.content, response_headers={"content-type": response["Content-Type"]}
    )
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return root, parsed


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(ATOM + "entry")


def text_of(entry: ET.Element, name: str) -> str:
    element = entry.find(ATOM + name)
    assert element is not None
    return element.text or ""


# --- the feed -----------------------------------------------------------------------------


def test_it_is_a_valid_atom_feed_of_what_the_organisation_published(client, org, settings):
    settings.SITE_URL = "https://humas.kotasatu.go.id"
    mastodon = channel(org)
    post(mastodon, "Jadwal vaksinasi anak pekan ini", MONDAY, url="https://m.example/@pemkot/1")
    post(mastodon, "Pasar murah di alun-alun", MONDAY + timedelta(days=1))

    root, parsed = read_feed(client, org)

    assert root.get(XML_LANG) == "id"
    assert text_of(root, "title") == "Kota Satu"
    assert text_of(_one(root, "author", "feed"), "name") == "Kota Satu"
    assert text_of(root, "id").startswith("tag:humas.kotasatu.go.id,")
    links = {link.get("rel"): link.get("href") for link in root.findall(ATOM + "link")}
    assert links["self"] == f"https://humas.kotasatu.go.id/feed/{org.slug}.atom"
    assert links["alternate"] == "https://humas.kotasatu.go.id/"
    # Newest first; the feed's updated is its newest entry's.
    assert [e.title for e in parsed.entries] == [
        "Pasar murah di alun-alun",
        "Jadwal vaksinasi anak pekan ini",
    ]
    assert text_of(root, "updated") == text_of(entries(root)[0], "updated")
    assert text_of(root, "updated") == "2026-11-03T01:00:00+00:00"
    vaccination = parsed.entries[1]
    assert vaccination.link == "https://m.example/@pemkot/1"
    assert vaccination.content[0].value == "Jadwal vaksinasi anak pekan ini"
    assert vaccination.content[0].type == "text/plain"
    assert vaccination.published == "2026-11-02T01:00:00+00:00"


def test_anyone_can_read_it_and_readers_may_cache_it(client, org):
    post(channel(org), "Halo warga", MONDAY)

    response = client.get(feed_url(org))

    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    assert "max-age=300" in response["Cache-Control"]
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"] == "Mon, 02 Nov 2026 01:00:00 GMT"
    assert response["Content-Language"] == "id"


def test_it_follows_the_organisations_language(client, settings):
    english = make_org("Jakarta Smart City", default_language="en")
    post(channel(english), "Flood update", MONDAY)

    root, _parsed = read_feed(client, english)

    assert root.get(XML_LANG) == "en"


def test_an_unknown_organisation_is_not_found(client, org):
    assert client.get("/feed/tidak-ada.atom").status_code == 404


def test_it_only_answers_reads(client, org):
    assert client.head(feed_url(org)).status_code == 200
    assert client.post(feed_url(org)).status_code == 405


def test_an_organisation_that_published_nothing_has_a_valid_empty_feed(client, org):
    root, parsed = read_feed(client, org)

    assert entries(root) == []
    assert parsed.feed.title == "Kota Satu"
    # Stable while nothing changes, so readers can keep their copy.
    again = client.get(feed_url(org))
    assert again["ETag"] == client.get(feed_url(org))["ETag"]


def test_another_organisations_posts_never_appear(client, org, other_org):
    post(channel(org), "Kabar dari Kota Satu", MONDAY)
    post(channel(other_org, handle="@kotadua"), "Kabar rahasia Kota Dua", MONDAY)

    root, _parsed = read_feed(client, org)
    other_root, _other = read_feed(client, other_org)

    assert [text_of(e, "content") for e in entries(root)] == ["Kabar dari Kota Satu"]
    assert [text_of(e, "content") for e in entries(other_root)] == ["Kabar rahasia Kota Dua"]
    assert b"Kota Dua" not in client.get(feed_url(org)).content


def test_deleted_posts_and_replies_to_citizens_are_left_out(client, org):
    ch = channel(org)
    post(ch, "Pengumuman resmi", MONDAY)
    post(ch, "Salah ketik, dihapus", MONDAY, deleted_at=MONDAY + timedelta(minutes=5))
    question = InboundEvent.objects.create(
        organisation=org,
        channel=ch,
        kind="comment",
        external_id="c-1",
        text="Min, kapan jalan diperbaiki?",
        created_at=MONDAY,
    )
    post(ch, "Halo Kak, pekan depan ya.", MONDAY + timedelta(hours=1), in_reply_to=question)

    root, _parsed = read_feed(client, org)

    assert [text_of(e, "content") for e in entries(root)] == ["Pengumuman resmi"]


def test_indonesian_text_emoji_and_markup_characters_are_escaped(client, org):
    text = (
        "Banjir di Jl. Merdeka <RT 05 & RW 02> 🌧️🚧\n"
        'Warga "Sukamaju" diminta waspada; hubungi 112 <script>alert(1)</script> & tetap tenang 🙏'
    )
    post(channel(org), text, MONDAY)

    response = client.get(feed_url(org))
    root, parsed = read_feed(client, org)

    body = response.content.decode("utf-8")
    assert "&lt;RT 05 &amp; RW 02&gt;" in body
    assert "<script>" not in body
    assert "🌧️🚧" in body
    entry = entries(root)[0]
    assert text_of(entry, "content") == text
    assert text_of(entry, "title") == "Banjir di Jl. Merdeka <RT 05 & RW 02> 🌧️🚧"
    assert _one(entry, "content", "entry").get("type") == "text"
    assert parsed.entries[0].content[0].value == text


def test_characters_xml_cannot_carry_are_dropped_instead_of_breaking_the_feed(client, org):
    # (NUL is left out: PostgreSQL refuses it in text columns, so it never gets this far.)
    post(channel(org), "Rapat\x0b koordinasi\x08 pukul\x1f 09.00", MONDAY)

    root, _parsed = read_feed(client, org)

    assert text_of(entries(root)[0], "content") == "Rapat koordinasi pukul 09.00"


def test_a_long_first_line_makes_a_shortened_title(client, org):
    text = "Sosialisasi " * 20 + "\nBaris kedua"
    post(channel(org), text, MONDAY)

    root, _parsed = read_feed(client, org)

    title = text_of(entries(root)[0], "title")
    assert len(title) <= 100
    assert title.endswith("…")


def test_a_post_without_text_or_address_is_still_a_valid_entry(client, org):
    ch = channel(org)
    ChannelPost.objects.create(
        organisation=org, channel=ch, external_id="photo-1", text="", published_at=MONDAY
    )

    root, _parsed = read_feed(client, org)

    entry = entries(root)[0]
    assert text_of(entry, "title")  # "Post without text", in the organisation's language
    assert entry.findall(ATOM + "link") == []
    assert entry.find(ATOM + "content") is not None


def test_the_same_text_on_several_channels_is_one_entry(client, org):
    mastodon, bluesky = channel(org), channel(org, "bluesky", "pemkot.bsky.social")
    text = "Layanan KTP-el buka hari Sabtu 📢"
    post(mastodon, text, MONDAY, url="https://m.example/@pemkot/9")
    post(bluesky, text, MONDAY + timedelta(minutes=2), url="https://bsky.app/profile/pemkot/9")
    post(bluesky, "Kabar lain", MONDAY + timedelta(minutes=3))

    root, parsed = read_feed(client, org)

    assert len(entries(root)) == 2
    grouped = entries(root)[1]
    links = [(link.get("rel"), link.get("href")) for link in grouped.findall(ATOM + "link")]
    assert links == [
        ("alternate", "https://m.example/@pemkot/9"),
        ("related", "https://bsky.app/profile/pemkot/9"),
    ]
    assert text_of(grouped, "published") == "2026-11-02T01:00:00+00:00"
    assert text_of(grouped, "updated") == "2026-11-02T01:02:00+00:00"
    assert parsed.entries[1].link == "https://m.example/@pemkot/9"


def test_the_same_text_on_another_day_is_a_new_entry(client, org):
    ch = channel(org)
    post(ch, "Pengingat: bayar PBB sebelum 30 November", MONDAY)
    post(ch, "Pengingat: bayar PBB sebelum 30 November", MONDAY + timedelta(days=7))

    root, _parsed = read_feed(client, org)

    assert len(entries(root)) == 2


def test_entry_ids_are_tag_uris_that_do_not_change(client, org, settings):
    settings.SITE_URL = "https://humas.kotasatu.go.id"
    ch = channel(org)
    first = post(ch, "Pertama", MONDAY)
    root, _parsed = read_feed(client, org)
    entry_id = text_of(entries(root)[0], "id")

    post(ch, "Kedua", MONDAY + timedelta(hours=2))
    org.slug = "kota-satu-baru"
    org.save()
    later, _parsed = read_feed(client, org)

    assert entry_id == f"tag:humas.kotasatu.go.id,2026-11-02:humas/org/{org.pk}/post/{first.pk}"
    assert text_of(entries(later)[1], "id") == entry_id
    ids = [text_of(e, "id") for e in entries(later)]
    assert len(set(ids)) == len(ids)


def test_it_holds_the_newest_fifty_entries(client, org):
    ch = channel(org)
    for n in range(55):
        post(ch, f"Kabar nomor {n}", MONDAY + timedelta(hours=n))

    root, _parsed = read_feed(client, org)

    contents = [text_of(e, "content") for e in entries(root)]
    assert len(contents) == 50
    assert contents[0] == "Kabar nomor 54"
    assert contents[-1] == "Kabar nomor 5"


# --- conditional requests -----------------------------------------------------------------


def test_a_reader_with_the_current_copy_gets_304(client, org):
    post(channel(org), "Halo", MONDAY)
    first = client.get(feed_url(org))

    again = client.get(feed_url(org), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert "max-age=300" in again["Cache-Control"]


def test_a_new_post_changes_the_etag(client, org):
    ch = channel(org)
    post(ch, "Halo", MONDAY)
    first = client.get(feed_url(org))
    post(ch, "Kabar baru", MONDAY + timedelta(hours=1))

    again = client.get(feed_url(org), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]


def test_if_modified_since_gets_304_until_something_changes(client, org):
    ch = channel(org)
    post(ch, "Halo", MONDAY)
    first = client.get(feed_url(org))

    unchanged = client.get(feed_url(org), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert unchanged.status_code == 304

    # A deletion makes no newer entry, but the document changed.
    victim = post(ch, "Dihapus nanti", MONDAY - timedelta(days=1))
    victim.deleted_at = timezone.now()
    victim.save()
    changed = client.get(feed_url(org), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert changed.status_code == 200
