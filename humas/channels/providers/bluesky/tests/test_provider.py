"""The Bluesky provider against payloads shaped like the AT Protocol lexicons (respx)."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.utils import translation

from humas.channels.providers.base import ErrorKind, EventKind, Media, PostContent, ProviderError
from humas.channels.providers.bluesky.provider import BlueskyProvider, _InboundCursor
from humas.channels.providers.bluesky.richtext import grapheme_count, webp_size
from humas.channels.providers.bluesky.tests.conftest import (
    DID,
    FIXTURES,
    body,
    load,
    make_provider,
)
from humas.channels.providers.bluesky.tests.images import png

POST = load("createRecord")["uri"]
POST_CID = load("createRecord")["cid"]


def created(uri_suffix: str) -> dict[str, Any]:
    return {
        "uri": f"at://{DID}/app.bsky.feed.post/{uri_suffix}",
        "cid": f"bafyrei{uri_suffix}",
        "commit": {"cid": "bafyreicommit", "rev": uri_suffix},
        "validationStatus": "valid",
    }


# --- connecting -----------------------------------------------------------------------------


def test_it_connects_with_an_app_password_and_keeps_the_session(network):
    connection = BlueskyProvider.connect(
        {
            "service": "https://bsky.social",
            "handle": "@Humas.Jakarta.go.id",
            "app_password": "abcd-efgh-ijkl-mnop",
        }
    )
    assert network["createSession"].calls.last.request.headers["content-type"] == "application/json"
    assert body(network["createSession"].calls.last) == {
        "identifier": "humas.jakarta.go.id",
        "password": "abcd-efgh-ijkl-mnop",
    }
    account = connection.account
    assert (account.external_id, account.handle) == (DID, "humas.jakarta.go.id")
    assert account.display_name == "Humas Pemprov DKI Jakarta"
    assert account.avatar_url.startswith("https://cdn.bsky.app/img/avatar/")
    credentials = connection.credentials
    assert credentials["app_password"] == "abcd-efgh-ijkl-mnop"
    assert credentials["did"] == DID
    assert credentials["access_jwt"] == load("createSession")["accessJwt"]
    assert credentials["refresh_jwt"] == load("createSession")["refreshJwt"]
    assert connection.config == {"service": "https://bsky.social"}


def test_a_bare_name_on_bsky_social_becomes_a_full_handle(network):
    BlueskyProvider.connect({"handle": "humasjakarta", "app_password": "abcd-efgh-ijkl-mnop"})
    assert body(network["createSession"].calls.last)["identifier"] == "humasjakarta.bsky.social"


def test_a_refused_app_password_is_an_auth_error(network):
    network["createSession"].respond(401, json=load("error_authentication_required"))
    with pytest.raises(ProviderError) as caught:
        BlueskyProvider.connect({"handle": "humas.jakarta.go.id", "app_password": "wrong"})
    assert caught.value.kind == ErrorKind.AUTH
    assert "app password" in caught.value.message


def test_a_profile_the_appview_does_not_know_yet_still_connects(network):
    network["getProfile"].respond(
        400, json={"error": "InvalidRequest", "message": "Profile not found"}
    )
    connection = BlueskyProvider.connect({"handle": "humas.jakarta.go.id", "app_password": "x"})
    assert (connection.account.external_id, connection.account.handle) == (
        DID,
        "humas.jakarta.go.id",
    )


def test_a_second_provider_for_the_channel_reuses_the_session(network):
    make_provider().fetch_account_metrics()
    make_provider().fetch_account_metrics()
    assert network["createSession"].call_count == 1


# --- publishing -----------------------------------------------------------------------------


def test_facets_carry_utf8_byte_offsets_after_emoji(provider, network):
    network.get("/com.atproto.identity.resolveHandle").respond(json=load("resolveHandle"))
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    text = (
        "Siaga banjir 🌧️🌊 di Jakarta Selatan! Peta genangan: https://bpbd.jakarta.go.id/peta "
        "#SiagaBanjir bersama @dinkes.jakarta.go.id 👍🏽"
    )
    provider.publish(PostContent(text=text))
    record = body(create.calls.last)["record"]
    assert record["text"] == text
    encoded = text.encode()
    spans = {
        encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0]
        for f in record["facets"]
    }
    assert spans["https://bpbd.jakarta.go.id/peta"] == {
        "$type": "app.bsky.richtext.facet#link",
        "uri": "https://bpbd.jakarta.go.id/peta",
    }
    assert spans["#SiagaBanjir"] == {"$type": "app.bsky.richtext.facet#tag", "tag": "SiagaBanjir"}
    assert spans["@dinkes.jakarta.go.id"] == {
        "$type": "app.bsky.richtext.facet#mention",
        "did": load("resolveHandle")["did"],
    }
    # Byte offsets, not character offsets: the emoji before the link take 4 bytes each.
    link = next(f for f in record["facets"] if "uri" in f["features"][0])
    assert link["index"]["byteStart"] == len(text[: text.index("https")].encode())
    assert link["index"]["byteStart"] != text.index("https")
    assert record["langs"] == ["id"]
    assert record["$type"] == "app.bsky.feed.post"
    assert create.calls.last.request.headers["content-type"] == "application/json"


def test_a_mention_of_an_unknown_handle_stays_plain_text(provider, network):
    network.get("/com.atproto.identity.resolveHandle").respond(
        400, json={"error": "InvalidRequest", "message": "Unable to resolve handle"}
    )
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    provider.publish(PostContent(text="Terima kasih @tidakada.bsky.social"))
    assert "facets" not in body(create.calls.last)["record"]


def test_publishing_returns_the_at_uri_and_the_public_url(provider, network):
    network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    published = provider.publish(PostContent(text="Selamat pagi, Jakarta"))
    assert published.external_id == POST
    assert published.url == "https://bsky.app/profile/humas.jakarta.go.id/post/3lbq7mz3hxs2c"
    assert published.part_ids == (POST,)


def test_images_need_alt_text(provider, network):
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    content = PostContent(text="Foto banjir", media=[Media(data=png(), mime_type="image/png")])
    assert len(provider.validate(content)) == 1
    described = Media(data=png(), mime_type="image/png", alt_text="Banjir di Kampung Melayu")
    assert provider.validate(PostContent(text="Foto banjir", media=[described])) == []
    with pytest.raises(ProviderError) as caught:
        provider.publish(content)
    assert caught.value.kind == ErrorKind.PERMANENT
    assert not create.called


def test_images_are_uploaded_as_blobs_with_alt_text_and_aspect_ratio(provider, network):
    upload = network.post("/com.atproto.repo.uploadBlob").respond(json=load("uploadBlob"))
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    image = png(width=1200, height=675)
    provider.publish(
        PostContent(
            text="Posko pengungsian dibuka",
            media=[
                Media(data=image, mime_type="image/png", alt_text="Peta posko di Kampung Melayu")
            ],
        )
    )
    assert upload.calls.last.request.content == image
    assert upload.calls.last.request.headers["content-type"] == "image/png"
    embed = body(create.calls.last)["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    (item,) = embed["images"]
    assert item["alt"] == "Peta posko di Kampung Melayu"
    assert item["aspectRatio"] == {
        "$type": "app.bsky.embed.defs#aspectRatio",
        "width": 1200,
        "height": 675,
    }
    assert item["image"] == load("uploadBlob")["blob"]


def test_too_many_or_too_large_or_unknown_images_are_refused_before_sending(provider):
    big = Media(data=b"\xff\xd8" + b"0" * 1_000_001, mime_type="image/jpeg", alt_text="a")
    gif = Media(data=b"GIF89a", mime_type="image/gif", alt_text="a")
    five = [Media(data=png(), mime_type="image/png", alt_text="a") for _ in range(5)]
    assert provider.validate(PostContent(text="x", media=[big]))
    assert provider.validate(PostContent(text="x", media=[gif]))
    assert provider.validate(PostContent(text="x", media=five))


def test_a_link_card_uses_the_title_and_description_given(provider, network):
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    provider.publish(
        PostContent(
            text="Jadwal vaksinasi minggu ini",
            link="https://dinkes.jakarta.go.id/vaksin",
            options={
                "link_title": "Jadwal Vaksinasi",
                "link_description": "Lokasi dan jam layanan",
            },
        )
    )
    embed = body(create.calls.last)["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    card = embed["external"]
    assert (card["uri"], card["title"], card["description"]) == (
        "https://dinkes.jakarta.go.id/vaksin",
        "Jadwal Vaksinasi",
        "Lokasi dan jam layanan",
    )


def test_a_thread_is_published_as_replies_to_the_root_and_the_part_before(provider, network):
    answers = [created("3aaaaaaaaaa2a"), created("3bbbbbbbbbb2b"), created("3cccccccccc2c")]
    create = network.post("/com.atproto.repo.createRecord").mock(
        side_effect=[httpx.Response(200, json=a) for a in answers]
    )
    published = provider.publish(
        PostContent(
            text="1/3 Info PPDB",
            thread=[PostContent(text="2/3 Jadwal"), PostContent(text="3/3 Kontak")],
        )
    )
    records = [body(call)["record"] for call in create.calls]
    assert "reply" not in records[0]

    def ref(record, which):
        return (record["reply"][which]["uri"], record["reply"][which]["cid"])

    first, second = (answers[0]["uri"], answers[0]["cid"]), (answers[1]["uri"], answers[1]["cid"])
    assert ref(records[1], "root") == first and ref(records[1], "parent") == first
    assert ref(records[2], "root") == first and ref(records[2], "parent") == second
    assert published.external_id == answers[0]["uri"]
    assert published.part_ids == tuple(a["uri"] for a in answers)


def test_a_failed_thread_part_takes_back_the_parts_already_posted(provider, network):
    network.post("/com.atproto.repo.createRecord").mock(
        side_effect=[
            httpx.Response(200, json=created("3aaaaaaaaaa2a")),
            httpx.Response(400, json=load("error_invalid_request")),
        ]
    )
    delete = network.post("/com.atproto.repo.deleteRecord").respond(
        json={"commit": {"cid": "x", "rev": "y"}}
    )
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="1/2", thread=[PostContent(text="2/2")]))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "300 graphemes" in caught.value.message
    assert body(delete.calls.last) == {
        "repo": DID,
        "collection": "app.bsky.feed.post",
        "rkey": "3aaaaaaaaaa2a",
    }


def test_deleting_removes_the_record(provider, network):
    delete = network.post("/com.atproto.repo.deleteRecord").respond(json={})
    provider.delete(POST)
    assert body(delete.calls.last) == {
        "repo": DID,
        "collection": "app.bsky.feed.post",
        "rkey": "3lbq7mz3hxs2c",
    }


def test_deleting_someone_elses_post_is_refused(provider):
    with pytest.raises(ProviderError) as caught:
        provider.delete("at://did:plc:someoneelse/app.bsky.feed.post/3lbq7mz3hxs2c")
    assert caught.value.kind == ErrorKind.PERMANENT


def test_graphemes_are_counted_as_people_see_them():
    assert grapheme_count("Halo") == 4
    assert grapheme_count("👨‍👩‍👧") == 1  # a family joined by ZWJ
    assert grapheme_count("🇮🇩🇲🇾") == 2  # two flags
    assert grapheme_count("👍🏽") == 1  # skin tone
    assert grapheme_count("e\u0301") == 1  # combining accent
    assert grapheme_count("1️⃣") == 1  # keycap
    assert grapheme_count("🌧️") == 1  # variation selector


def test_the_300_grapheme_limit_counts_emoji_once(provider):
    assert provider.validate(PostContent(text="🇮🇩" * 300)) == []
    assert provider.validate(PostContent(text="a" * 301))
    assert provider.validate(PostContent(text="x", thread=[PostContent(text="b" * 301)]))


# --- replying -------------------------------------------------------------------------------


def notifications() -> list[dict[str, Any]]:
    return load("listNotifications")["notifications"]


def event_for(provider, reason: str):
    network_item = next(n for n in notifications() if n["reason"] == reason)
    return provider._event(network_item, datetime(2026, 11, 29, 3, 10, tzinfo=UTC))


def test_a_reply_to_a_reply_keeps_the_thread_root(provider, network):
    create = network.post("/com.atproto.repo.createRecord").respond(json=created("3rrrrrrrrrr2r"))
    event = event_for(provider, "reply")
    provider.reply(event, PostContent(text="Sudah surut sejak pukul 06.00, Pak Budi 🙏"))
    reply = body(create.calls.last)["record"]["reply"]
    assert reply["root"]["uri"] == POST and reply["root"]["cid"] == POST_CID
    assert reply["parent"]["uri"] == event.external_id
    assert reply["parent"]["cid"] == event.raw["cid"]


def test_a_reply_to_a_mention_makes_the_mention_the_root(provider, network):
    create = network.post("/com.atproto.repo.createRecord").respond(json=created("3rrrrrrrrrr2r"))
    event = event_for(provider, "mention")
    published = provider.reply(
        event, PostContent(text="Terima kasih, laporan diteruskan ke Dinas Bina Marga.")
    )
    reply = body(create.calls.last)["record"]["reply"]
    assert reply["root"]["uri"] == reply["parent"]["uri"] == event.external_id
    assert published.url.endswith("/post/3rrrrrrrrrr2r")


def test_a_like_cannot_be_answered(provider):
    with pytest.raises(ProviderError) as caught:
        provider.reply(event_for(provider, "like"), PostContent(text="Terima kasih"))
    assert caught.value.kind == ErrorKind.PERMANENT


# --- hearing --------------------------------------------------------------------------------


def test_notifications_become_events_of_the_right_kind(provider, network):
    network.get("/app.bsky.notification.listNotifications").respond(json=load("listNotifications"))
    events, _cursor = provider.fetch_inbound("")
    by_kind = {e.kind: e for e in events}
    assert set(by_kind) == {
        EventKind.REPLY,
        EventKind.MENTION,
        EventKind.QUOTE,
        EventKind.REACTION,
        EventKind.REPOST,
    }
    reply = by_kind[EventKind.REPLY]
    assert reply.author_handle == "budi.bsky.social" and reply.author_name == "Budi Santoso"
    assert reply.author_id == "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    assert reply.thread_id == POST and reply.parent_id == POST
    assert reply.permalink == "https://bsky.app/profile/budi.bsky.social/post/3lbq7qbfe3k2y"
    assert reply.language == "id"
    assert reply.created_at == datetime(2026, 11, 29, 3, 8, 31, 507000, tzinfo=UTC)
    mention = by_kind[EventKind.MENTION]
    assert mention.thread_id == mention.external_id and mention.parent_id == ""
    assert mention.text.startswith("@humas.jakarta.go.id lampu jalan")
    assert mention.media == [
        {
            "type": "image",
            "alt": "Lampu jalan padam di malam hari",
            "mime_type": "image/jpeg",
            "cid": "bafkreif3qb3z7afvbmvhrqdqtjiz6wjdhx6qq6rrxsvmq3bsxvlv2gcsla",
        }
    ]
    assert by_kind[EventKind.QUOTE].parent_id == POST
    like = by_kind[EventKind.REACTION]
    assert like.thread_id == POST and like.text == ""
    request = network.routes[-1].calls.last.request
    assert request.url.params.get_list("reasons") == ["mention", "reply", "quote", "like", "repost"]
    assert request.url.params["limit"] == "100"


T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def note(n: int, minutes: float, reason: str = "mention") -> dict[str, Any]:
    """Notification ``n`` at T0 + ``minutes``, shaped like the fixture's items."""
    item = copy.deepcopy(next(x for x in notifications() if x["reason"] == reason))
    at = (T0 + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item["uri"] = f"at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3n{n:011d}"
    item["indexedAt"] = at
    item["record"]["createdAt"] = at
    item["record"]["text"] = f"laporan nomor {n}"
    return item


class Pages:
    """listNotifications answering from a book of pages keyed by the cursor asked for."""

    def __init__(self) -> None:
        self.book: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.book[request.url.params.get("cursor", "")])


def drain(provider, cursor: str) -> tuple[list[str], str]:
    """What poll_channel does: call again while the cursor moves."""
    seen: list[str] = []
    for _ in range(20):
        events, next_cursor = provider.fetch_inbound(cursor)
        seen += [e.text for e in events]
        if next_cursor == cursor:
            return seen, next_cursor
        cursor = next_cursor
    raise AssertionError("the cursor never settled")


def test_two_polls_over_overlapping_pages_hand_over_each_notification_once(provider, network):
    pages = Pages()
    network.get("/app.bsky.notification.listNotifications").mock(side_effect=pages)
    pages.book[""] = {"notifications": [note(3, 3), note(2, 2), note(1, 1)], "cursor": "c-1"}
    pages.book["c-1"] = {"notifications": [note(0, -30)], "cursor": "c-9"}
    first, cursor = drain(provider, "")
    assert first == ["laporan nomor 3", "laporan nomor 2", "laporan nomor 1"]

    # Two new ones on top; the first page overlaps the last poll, the second page goes on
    # into older notifications, and then past the overlap window.
    pages.book[""] = {
        "notifications": [note(5, 5), note(4, 4), note(3, 3), note(2, 2)],
        "cursor": "c-2",
    }
    pages.book["c-2"] = {"notifications": [note(1, 1), note(0, -30)], "cursor": "c-3"}
    second, cursor = drain(provider, cursor)
    assert second == ["laporan nomor 5", "laporan nomor 4"]

    third, cursor = drain(provider, cursor)
    assert third == []
    assert _InboundCursor.load(cursor).mark == T0 + timedelta(minutes=5)


def test_a_notification_dated_just_behind_the_newest_one_is_still_found(provider, network):
    pages = Pages()
    network.get("/app.bsky.notification.listNotifications").mock(side_effect=pages)
    pages.book[""] = {"notifications": [note(2, 2), note(1, 1)], "cursor": "c-1"}
    pages.book["c-1"] = {"notifications": [note(0, -20)]}
    _events, cursor = drain(provider, "")
    # A citizen's phone runs 3 minutes slow: the AppView dates the mention by its createdAt,
    # below the newest notification humas has already seen.
    pages.book[""] = {
        "notifications": [note(2, 2), note(9, -1), note(1, 1), note(0, -20)],
        "cursor": "c-2",
    }
    found, cursor = drain(provider, cursor)
    assert found == ["laporan nomor 9"]


def test_a_long_backlog_is_paged_backwards_across_calls(provider, network):
    pages = Pages()
    network.get("/app.bsky.notification.listNotifications").mock(side_effect=pages)
    pages.book[""] = {"notifications": [note(1, 1)], "cursor": "c-0"}
    pages.book["c-0"] = {"notifications": []}
    _events, cursor = drain(provider, "")
    pages.book[""] = {
        "notifications": [note(n, 100 + n) for n in range(60, 40, -1)],
        "cursor": "p-1",
    }
    pages.book["p-1"] = {
        "notifications": [note(n, 100 + n) for n in range(40, 20, -1)],
        "cursor": "p-2",
    }
    pages.book["p-2"] = {
        "notifications": [note(n, 100 + n) for n in range(20, 1, -1)] + [note(1, 1), note(0, -30)],
        "cursor": "p-3",
    }
    found, cursor = drain(provider, cursor)
    assert found == [f"laporan nomor {n}" for n in range(60, 1, -1)]
    assert _InboundCursor.load(cursor).page == ""
    assert _InboundCursor.load(cursor).mark == T0 + timedelta(minutes=160)


def test_an_account_without_notifications_yet_pages_back_fully_later(provider, network):
    pages = Pages()
    network.get("/app.bsky.notification.listNotifications").mock(side_effect=pages)
    pages.book[""] = {"notifications": []}
    nothing, cursor = drain(provider, "")
    assert nothing == []
    # Then a busy first minute: more than a page of notifications, all newer than that poll.
    now = datetime.now(UTC)
    fresh = []
    for n in range(150, 0, -1):
        item = note(n, 0)
        item["indexedAt"] = (now + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
        fresh.append(item)
    pages.book[""] = {"notifications": fresh[:100], "cursor": "p-1"}
    pages.book["p-1"] = {"notifications": fresh[100:]}
    found, _cursor = drain(provider, cursor)
    assert len(found) == 150
    # Whereas a channel's very first call takes only the newest page, not the history.
    assert len(make_provider("bluesky:2").fetch_inbound("")[0]) == 100


def test_the_cursor_keeps_only_the_overlap_window():
    cursor = _InboundCursor(
        mark=T0,
        seen={"old": T0 - timedelta(hours=2), "new": T0 - timedelta(minutes=1)},
    )
    assert json.loads(cursor.dump())["s"].keys() == {"old", "new"}
    assert _InboundCursor.load("not json at all").mark is None


# --- measuring ------------------------------------------------------------------------------


def test_post_metrics_are_read_25_at_a_time(provider, network):
    def answer(request: httpx.Request) -> httpx.Response:
        uris = request.url.params.get_list("uris")
        template = load("getPosts")["posts"][0]
        return httpx.Response(200, json={"posts": [{**template, "uri": u} for u in uris]})

    route = network.get("/app.bsky.feed.getPosts").mock(side_effect=answer)
    uris = [f"at://{DID}/app.bsky.feed.post/3lbq7mz3hx{n:03d}" for n in range(30)]
    metrics = provider.fetch_post_metrics(uris)
    assert [len(c.request.url.params.get_list("uris")) for c in route.calls] == [25, 5]
    one = metrics[uris[7]]
    assert (one.likes, one.reposts, one.replies, one.quotes) == (42, 7, 3, 2)


def test_account_metrics_come_from_the_profile(provider):
    metrics = provider.fetch_account_metrics()
    assert (metrics.followers, metrics.following, metrics.posts) == (12873, 211, 1542)


# --- faults ---------------------------------------------------------------------------------


def test_a_401_is_an_auth_error(provider, network):
    network.get("/app.bsky.feed.getPosts").respond(401, json=load("error_authentication_required"))
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([POST])
    assert caught.value.kind == ErrorKind.AUTH


def test_an_expired_token_is_refreshed_and_the_call_retried(provider, network):
    route = network.get("/app.bsky.feed.getPosts").mock(
        side_effect=[
            httpx.Response(400, json=load("error_expired_token")),
            httpx.Response(200, json=load("getPosts")),
        ]
    )
    assert provider.fetch_post_metrics([POST])[POST].likes == 42
    assert network["refreshSession"].call_count == 1
    refresh_request = network["refreshSession"].calls.last.request
    assert (
        refresh_request.headers["authorization"] == f"Bearer {load('createSession')['refreshJwt']}"
    )
    assert (
        route.calls.last.request.headers["authorization"]
        == f"Bearer {load('refreshSession')['accessJwt']}"
    )
    assert provider.credentials["access_jwt"] == load("refreshSession")["accessJwt"]
    assert provider.credentials["refresh_jwt"] == load("refreshSession")["refreshJwt"]


def test_a_stored_access_token_past_its_expiry_is_refreshed_before_the_call(network):
    expired = (FIXTURES / "expired_access_jwt.txt").read_text().strip()
    stored = make_provider(
        did=DID,
        handle="humas.jakarta.go.id",
        access_jwt=expired,
        refresh_jwt=load("createSession")["refreshJwt"],
    )
    stored.fetch_account_metrics()
    assert network["refreshSession"].call_count == 1
    assert network["createSession"].call_count == 0


def test_a_refused_refresh_falls_back_to_the_app_password(provider, network):
    network.get("/app.bsky.feed.getPosts").mock(
        side_effect=[
            httpx.Response(400, json=load("error_invalid_token")),
            httpx.Response(200, json=load("getPosts")),
        ]
    )
    network["refreshSession"].respond(400, json=load("error_expired_token"))
    assert provider.fetch_post_metrics([POST])[POST].likes == 42
    assert network["createSession"].call_count == 2


def test_a_revoked_app_password_is_an_auth_error(provider, network):
    network.get("/app.bsky.feed.getPosts").respond(400, json=load("error_invalid_token"))
    provider.fetch_account_metrics()  # logged in
    network["refreshSession"].respond(400, json=load("error_invalid_token"))
    network["createSession"].respond(401, json=load("error_authentication_required"))
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([POST])
    assert caught.value.kind == ErrorKind.AUTH
    assert "connect the channel again" in caught.value.message


def test_a_429_waits_until_the_rate_limit_window_resets(provider, network):
    reset = int(time.time()) + 120
    network.post("/com.atproto.repo.createRecord").respond(
        429,
        json=load("error_rate_limit"),
        headers={
            "ratelimit-limit": "5000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(reset),
            "ratelimit-policy": "5000;w=3600",
        },
    )
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="Pengumuman"))
    assert caught.value.kind == ErrorKind.RATE_LIMITED
    assert caught.value.retry_after is not None
    assert 100 <= caught.value.retry_after <= 121


def test_a_blob_too_large_is_permanent(provider, network):
    network.post("/com.atproto.repo.uploadBlob").respond(413, json=load("error_payload_too_large"))
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    with pytest.raises(ProviderError) as caught:
        provider.publish(
            PostContent(
                text="Foto", media=[Media(data=png(), mime_type="image/png", alt_text="foto")]
            )
        )
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "too large" in caught.value.message
    assert not create.called


def test_a_storm_of_500s_is_transient(provider, network):
    route = network.get("/app.bsky.feed.getPosts").respond(500, json=load("error_internal"))
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([POST])
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert route.call_count == 1


def test_a_storm_of_503s_is_retried_then_transient(provider, network):
    route = network.get("/app.bsky.feed.getPosts").respond(503, json=load("error_upstream_failure"))
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([POST])
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert route.call_count == 4


def test_an_appview_outage_on_a_read_is_transient(provider, network):
    network.get("/app.bsky.notification.listNotifications").respond(
        502, json=load("error_upstream_failure")
    )
    with pytest.raises(ProviderError) as caught:
        provider.fetch_inbound("")
    assert caught.value.kind == ErrorKind.TRANSIENT


def test_a_timeout_is_transient(provider, network):
    network.get("/app.bsky.feed.getPosts").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([POST])
    assert caught.value.kind == ErrorKind.TRANSIENT


def test_a_post_that_timed_out_is_not_sent_twice(provider, network):
    route = network.post("/com.atproto.repo.createRecord").mock(
        side_effect=httpx.ReadTimeout("slow")
    )
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="Pengumuman"))
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert route.call_count == 1


def test_truncated_json_is_transient(provider, network):
    network.get("/app.bsky.feed.getPosts").respond(
        200,
        content=b'{"posts": [{"uri": "at://',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([POST])
    assert caught.value.kind == ErrorKind.TRANSIENT


def test_a_renamed_count_is_a_clear_error(provider, network):
    answer = load("getPosts")
    answer["posts"][0]["likesCount"] = answer["posts"][0].pop("likeCount")
    network.get("/app.bsky.feed.getPosts").respond(json=answer)
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([POST])
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "'likeCount'" in caught.value.message


def test_a_renamed_notification_field_is_a_clear_error(provider, network):
    answer = load("listNotifications")
    answer["notifications"][0]["indexed_at"] = answer["notifications"][0].pop("indexedAt")
    network.get("/app.bsky.notification.listNotifications").respond(json=answer)
    with pytest.raises(ProviderError) as caught:
        provider.fetch_inbound("")
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "'indexedAt'" in caught.value.message


def test_a_session_answer_without_tokens_is_a_clear_error(network):
    answer = load("createSession")
    del answer["accessJwt"]
    network["createSession"].respond(json=answer)
    with pytest.raises(ProviderError) as caught:
        BlueskyProvider.connect({"handle": "humas.jakarta.go.id", "app_password": "x"})
    assert "'accessJwt'" in caught.value.message


def test_requests_go_through_humas_http_client(provider, network):
    route = network.get("/app.bsky.feed.getPosts").respond(json=load("getPosts"))
    provider.fetch_post_metrics([POST])
    assert route.calls.last.request.headers["user-agent"].startswith("humas/")


def test_webp_sizes_are_read_for_the_aspect_ratio():
    lossless = (
        b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f"
        + ((640 - 1) | ((360 - 1) << 14)).to_bytes(4, "little")
        + b"\x00" * 8
    )
    extended = (
        b"RIFF\x1a\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"
        + (1199).to_bytes(3, "little")
        + (674).to_bytes(3, "little")
    )
    assert webp_size(lossless) == (640, 360)
    assert webp_size(extended) == (1200, 675)
    assert webp_size(b"not an image at all, not at all") == (None, None)


def test_the_connect_form_asks_for_an_app_password():
    from humas.channels.providers.bluesky.provider import ConnectForm

    form = ConnectForm(
        data={
            "service": "https://bsky.social",
            "handle": "@Humas.Jakarta.go.id",
            "app_password": "abcd-efgh-ijkl-mnop",
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["handle"] == "humas.jakarta.go.id"
    with translation.override("en"):
        help_text = str(ConnectForm.base_fields["app_password"].help_text)
    assert "Settings → Privacy and security → App passwords" in help_text
    assert form.fields["app_password"].widget.input_type == "password"


KEY = "3lbq7mz3hxs2c"


def test_the_idempotency_key_becomes_the_record_key_of_the_first_part(provider, network):
    create = network.post("/com.atproto.repo.createRecord").respond(json=load("createRecord"))
    provider.publish(PostContent(text="Info posyandu", options={"idempotency_key": KEY}))
    assert body(create.calls.last)["rkey"] == KEY


def test_a_post_is_found_by_its_key_and_a_missing_one_is_none(provider, network):
    get = network.get("/com.atproto.repo.getRecord")
    get.respond(json=load("getRecord"))
    found = provider.find_published(KEY)
    assert found is not None
    assert found.external_id == load("getRecord")["uri"]
    assert get.calls.last.request.url.params["rkey"] == KEY

    get.respond(status_code=400, json=load("error_record_not_found"))
    assert provider.find_published(KEY) is None


def test_a_second_create_with_a_taken_key_returns_the_first_post_instead_of_failing(
    provider, network
):
    # The reference PDS answers a create on an existing record key with HTTP 500.
    network.post("/com.atproto.repo.createRecord").respond(
        status_code=500, json=load("error_internal")
    )
    network.get("/com.atproto.repo.getRecord").respond(json=load("getRecord"))
    published = provider.publish(
        PostContent(text="Info posyandu", options={"idempotency_key": KEY})
    )
    assert published.external_id == load("getRecord")["uri"]


def test_a_failed_create_without_an_earlier_post_still_fails(provider, network):
    network.post("/com.atproto.repo.createRecord").respond(
        status_code=400, json=load("error_invalid_request")
    )
    network.get("/com.atproto.repo.getRecord").respond(
        status_code=400, json=load("error_record_not_found")
    )
    with pytest.raises(ProviderError):
        provider.publish(PostContent(text="Info posyandu", options={"idempotency_key": KEY}))
