"""Hearing citizens: notifications and direct conversations turned into inbound events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from humas.channels.providers.base import ErrorKind, EventKind, ProviderError
from humas.channels.providers.mastodon.provider import NOTIFICATION_TYPES
from humas.channels.providers.mastodon.text import html_to_text

from .conftest import INSTANCE, payload

NOTIFICATIONS_LINK = (
    f'<{INSTANCE}/api/v1/notifications?max_id=35000001>; rel="next", '
    f'<{INSTANCE}/api/v1/notifications?min_id=35000005>; rel="prev"'
)
CONVERSATIONS_LINK = (
    f'<{INSTANCE}/api/v1/conversations?limit=40&max_id=113453300000000030>; rel="next", '
    f'<{INSTANCE}/api/v1/conversations?limit=40&min_id=113453500000000050>; rel="prev"'
)


def serve_first_page(api):
    notes = api.get("/api/v1/notifications").respond(
        200, json=payload("notifications.json"), headers={"Link": NOTIFICATIONS_LINK}
    )
    convs = api.get("/api/v1/conversations").respond(
        200, json=payload("conversations.json"), headers={"Link": CONVERSATIONS_LINK}
    )
    return notes, convs


def test_it_turns_notifications_and_conversations_into_events(api, provider):
    serve_first_page(api)
    events, cursor = provider.fetch_inbound("")

    by_id = {e.external_id: e for e in events}
    assert [(e.kind, e.external_id) for e in events] == [
        (EventKind.REPLY, "113453100000000010"),
        (EventKind.REACTION, "favourite:35000002"),
        (EventKind.MENTION, "113453200000000020"),
        (EventKind.DIRECT_MESSAGE, "113453300000000030"),
        (EventKind.REPOST, "reblog:35000005"),
        (EventKind.DIRECT_MESSAGE, "113453500000000050"),
    ], "oldest first; our own answer in a conversation is not an event"
    assert json.loads(cursor) == {
        "notifications": "35000005",
        "conversations": "113453500000000050",
    }

    reply = by_id["113453100000000010"]
    assert reply.created_at == datetime(2026, 11, 1, 9, 12, 41, tzinfo=UTC)
    assert (reply.author_id, reply.author_handle, reply.author_name) == (
        "109400000000000202",
        "@siti@warga.example",
        "Siti Rahma",
    )
    assert reply.text == "@pemkotsatu Posko di Sukamaju sudah penuh, apakah ada posko lain?"
    assert (reply.thread_id, reply.parent_id) == ("113452960000000001", "113452960000000001")
    assert reply.permalink == "https://warga.example/@siti/113453100000000010"
    assert reply.language == "id"
    assert reply.raw["status"]["visibility"] == "public"
    assert reply.raw["source"] == "notification"

    mention = by_id["113453200000000020"]
    assert mention.author_handle == "@budi@social.example", "a local account gets the domain"
    assert mention.text == (
        "Lampu lalu lintas di simpang Jl. Merdeka mati sejak pagi @pemkotsatu\n"
        "Mohon segera diperbaiki.\n\n"
        "Foto: https://foto.example/lalin/merdeka-0923"
    )
    assert (mention.thread_id, mention.parent_id) == ("113453200000000020", "")
    assert mention.media == [
        {
            "type": "image",
            "url": "https://files.social.example/media_attachments/files/113/453/555/original/a1b2c3.jpeg",
            "preview_url": "https://files.social.example/media_attachments/files/113/453/555/small/a1b2c3.jpeg",
            "description": "Lampu lalu lintas padam",
        }
    ]

    direct = by_id["113453300000000030"]
    assert direct.text.startswith("Laporan pungli\n\n@pemkotsatu Saya ingin melapor"), "CW first"
    assert direct.raw["status"]["visibility"] == "direct"
    assert direct.raw["source"] == "notification", "seen in both places, stored once"

    favourite = by_id["favourite:35000002"]
    assert (favourite.author_handle, favourite.parent_id, favourite.text) == (
        "@budi@social.example",
        "113452960000000001",
        "",
    )
    assert favourite.permalink == "https://social.example/@pemkotsatu/113452960000000001"

    only_in_conversations = by_id["113453500000000050"]
    assert only_in_conversations.text.endswith("akta kelahiran & KK baru?")
    assert only_in_conversations.raw["conversation_id"] == "418460"


def test_it_asks_for_the_right_notification_types_and_pages_forward_from_the_cursor(api, provider):
    notes, convs = serve_first_page(api)
    _events, cursor = provider.fetch_inbound("")
    first = notes.calls.last.request.url.params
    assert first.get_list("types[]") == list(NOTIFICATION_TYPES)
    assert first["limit"] == "40" and "min_id" not in first
    assert "min_id" not in convs.calls.last.request.url.params

    provider.fetch_inbound(cursor)
    assert notes.calls.last.request.url.params["min_id"] == "35000005"
    assert convs.calls.last.request.url.params["min_id"] == "113453500000000050"


def test_pages_are_followed_forward_through_their_link_headers(api, provider):
    """Three pages of notifications, each pointing to the next by its rel="prev" link."""
    items = payload("notifications.json")
    mentions = [n for n in items if n["type"] == "mention"]  # 35000001, 35000003, 35000004
    pages = {
        None: ([mentions[2]], "35000001"),
        "35000001": ([mentions[1]], "35000003"),
        "35000003": ([mentions[0]], "35000004"),
        "35000004": ([], None),
    }
    # Each page is one mention; make them distinct statuses from distinct people.
    asked: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("min_id")
        asked.append(since)
        found, newest = pages[since]
        headers = {}
        if newest:
            headers["Link"] = (
                f'<{INSTANCE}/api/v1/notifications?max_id=1>; rel="next", '
                f'<{INSTANCE}/api/v1/notifications?min_id={newest}>; rel="prev"'
            )
        return httpx.Response(200, json=found, headers=headers)

    api.get("/api/v1/notifications").mock(side_effect=answer)
    api.get("/api/v1/conversations").respond(200, json=[])

    cursor, seen = "", []
    for _ in range(5):
        events, next_cursor = provider.fetch_inbound(cursor)
        seen += [e.external_id for e in events]
        if not events:
            break
        cursor = next_cursor
    assert asked == [None, "35000001", "35000003", "35000004"]
    assert len(seen) == 3 and len(set(seen)) == 3
    assert json.loads(next_cursor)["notifications"] == "35000004", "an empty page keeps the place"


def test_without_link_headers_the_newest_id_is_the_next_cursor(api, provider):
    api.get("/api/v1/notifications").respond(200, json=payload("notifications.json"))
    api.get("/api/v1/conversations").respond(200, json=payload("conversations.json"))
    _events, cursor = provider.fetch_inbound("")
    assert json.loads(cursor) == {
        "notifications": "35000005",
        "conversations": "113453500000000050",
    }


def test_a_bare_notification_id_is_understood_as_a_cursor(api, provider):
    notes = api.get("/api/v1/notifications").respond(200, json=[])
    api.get("/api/v1/conversations").respond(200, json=[])
    events, cursor = provider.fetch_inbound("35000003")
    assert events == []
    assert notes.calls.last.request.url.params["min_id"] == "35000003"
    assert json.loads(cursor) == {"notifications": "35000003", "conversations": ""}


def test_one_notification_missing_a_field_is_skipped_not_fatal(api, provider):
    items = payload("notifications.json")
    del items[1]["status"]["account"]  # the direct mention from Andi
    api.get("/api/v1/notifications").respond(200, json=items)
    api.get("/api/v1/conversations").respond(200, json=[])
    events, _cursor = provider.fetch_inbound("")
    assert len(events) == 4
    assert "113453300000000030" not in {e.external_id for e in events}


def test_a_page_where_every_item_has_a_renamed_field_is_an_error(api, provider):
    items = payload("notifications.json")
    for item in items:
        item["kind"] = item.pop("type")
    api.get("/api/v1/notifications").respond(200, json=items)
    api.get("/api/v1/conversations").respond(200, json=[])
    with pytest.raises(ProviderError) as caught:
        provider.fetch_inbound("")
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "“type”" in caught.value.message


def test_our_own_mentions_are_not_inbound(api, provider):
    items = payload("notifications.json")
    ours = payload("status_posted.json")
    items[1]["status"] = ours
    api.get("/api/v1/notifications").respond(200, json=items)
    api.get("/api/v1/conversations").respond(200, json=[])
    events, _cursor = provider.fetch_inbound("")
    assert ours["id"] not in {e.external_id for e in events}


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Halo</p><p>Dunia</p>", "Halo\n\nDunia"),
        ("<p>baris satu<br>baris dua<br />baris tiga</p>", "baris satu\nbaris dua\nbaris tiga"),
        (
            "<p>&quot;Jalan &amp; jembatan&quot; &lt;rusak&gt; &#39;parah&#39;</p>",
            "\"Jalan & jembatan\" <rusak> 'parah'",
        ),
        (
            '<p><span class="h-card"><a href="https://x/@a" class="u-url mention">@<span>a</span></a></span> hai</p>',
            "@a hai",
        ),
        (
            '<p class="quote-inline">RE: <a href="https://x/1">https://x/1</a></p><p>Setuju</p>',
            "Setuju",
        ),
        ("", ""),
    ],
)
def test_html_becomes_plain_text_with_its_line_breaks(html, text):
    assert html_to_text(html) == text
