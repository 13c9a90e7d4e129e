"""Publishing statuses, threads, media and replies; deleting; validating against the server."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from humas.channels.providers.base import (
    ErrorKind,
    EventKind,
    InboundEvent,
    Media,
    PostContent,
    ProviderError,
)
from humas.channels.providers.mastodon.provider import MEDIA_CHECK_PAUSES
from humas.channels.providers.mastodon.text import status_length, with_mention

from .conftest import make_provider, payload

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR"
    + (640).to_bytes(4, "big")
    + (480).to_bytes(4, "big")
    + b"rest"
)


def asked_in_order(waits: list[float], expected: tuple[float, ...]) -> bool:
    """``expected`` pauses appear in ``waits`` in order (the rate limiter adds its own)."""
    remaining = iter(waits)
    return all(any(w == e for w in remaining) for e in expected)


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def flood_map(alt: str = "Peta lokasi posko banjir di Kelurahan Sukamaju") -> Media:
    return Media(data=PNG, mime_type="image/png", alt_text=alt, filename="posko.png")


def status_answer(status_id: str, **changes) -> dict:
    body = payload("status_posted.json")
    body.update(id=status_id, url=f"https://social.example/@pemkotsatu/{status_id}", **changes)
    return body


def test_it_publishes_an_image_with_alt_text_a_content_warning_and_a_visibility(api, provider):
    upload = api.post("/api/v2/media").respond(200, json=payload("media_uploaded.json"))
    post = api.post("/api/v1/statuses").respond(200, json=payload("status_posted.json"))
    content = PostContent(
        text="Posko banjir dibuka di Kelurahan Sukamaju. Hubungi 112 untuk keadaan darurat.",
        media=[flood_map()],
        options={"spoiler_text": "Info banjir", "visibility": "unlisted", "focus": ["-0.42,0.69"]},
    )

    published = provider.publish(content)

    assert published.external_id == "113452960000000001"
    assert published.url == "https://social.example/@pemkotsatu/113452960000000001"
    assert published.part_ids == ("113452960000000001",)
    sent_media = upload.calls.last.request
    assert (
        b'name="description"\r\n\r\nPeta lokasi posko banjir di Kelurahan Sukamaju'
        in sent_media.content
    )
    assert b'name="focus"\r\n\r\n-0.42,0.69' in sent_media.content
    assert b'filename="posko.png"' in sent_media.content
    assert b"Content-Type: image/png" in sent_media.content
    sent = post.calls.last.request
    assert form(sent) == {
        "status": [content.text],
        "visibility": ["unlisted"],
        "media_ids[]": ["113452000000000881"],
        "spoiler_text": ["Info banjir"],
        "language": ["id"],
    }
    assert sent.headers["Idempotency-Key"].startswith("humas-")


def test_the_idempotency_key_depends_on_the_content_only(provider):
    def key(**changes):
        base = dict(
            text="Info banjir",
            spoiler="",
            visibility="public",
            language="id",
            sensitive=None,
            in_reply_to="",
            media=[flood_map()],
        )
        return provider.idempotency_key(**{**base, **changes})

    assert key() == key()  # a retry, even from another worker, sends the same key
    assert key() == make_provider().idempotency_key(
        text="Info banjir",
        spoiler="",
        visibility="public",
        language="id",
        sensitive=None,
        in_reply_to="",
        media=[flood_map()],
    )
    assert (
        len(
            {
                key(),
                key(text="Info banjir!"),
                key(media=[flood_map("Peta lain")]),
                key(media=[]),
                key(in_reply_to="1"),
                key(visibility="direct"),
                key(seed="delivery-42"),
            }
        )
        == 7
    )
    assert len(key()) <= 64


def test_a_post_resent_after_a_timeout_carries_the_same_key(api, provider):
    post = api.post("/api/v1/statuses").mock(
        side_effect=[
            httpx.ReadTimeout("timed out"),
            httpx.Response(200, json=payload("status_posted.json")),
        ]
    )
    published = provider.publish(PostContent(text="Info banjir"))
    assert published.external_id == "113452960000000001"
    keys = [call.request.headers["Idempotency-Key"] for call in post.calls]
    assert len(keys) == 2 and keys[0] == keys[1]


def test_a_thread_is_posted_part_by_part_each_replying_to_the_one_before(api, provider):
    post = api.post("/api/v1/statuses").mock(
        side_effect=[
            httpx.Response(200, json=status_answer("201")),
            httpx.Response(200, json=status_answer("202")),
            httpx.Response(200, json=status_answer("203")),
        ]
    )
    content = PostContent(
        text="Jadwal pemadaman listrik (1/3)",
        thread=[
            PostContent(text="Kecamatan Utara: 09.00–12.00 (2/3)"),
            PostContent(text="Kecamatan Selatan: 13.00–16.00 (3/3)"),
        ],
        options={"spoiler_text": "Pemadaman", "visibility": "public"},
    )
    published = provider.publish(content)
    assert published.part_ids == ("201", "202", "203")
    assert published.external_id == "201"
    sent = [form(call.request) for call in post.calls]
    assert [s.get("in_reply_to_id") for s in sent] == [None, ["201"], ["202"]]
    assert all(s["spoiler_text"] == ["Pemadaman"] for s in sent)
    assert len({call.request.headers["Idempotency-Key"] for call in post.calls}) == 3


def test_a_link_given_apart_is_added_to_the_text_for_the_preview_card(api, provider):
    post = api.post("/api/v1/statuses").respond(200, json=payload("status_posted.json"))
    provider.publish(PostContent(text="Baca selengkapnya", link="https://kota.example/banjir"))
    assert form(post.calls.last.request)["status"] == [
        "Baca selengkapnya\n\nhttps://kota.example/banjir"
    ]


def test_a_video_still_processing_is_awaited_before_posting(api, provider, waits):
    api.post("/api/v2/media").respond(202, json=payload("media_processing.json"))
    check = api.get("/api/v1/media/113452000000000882").mock(
        side_effect=[
            httpx.Response(206),
            httpx.Response(206),
            httpx.Response(200, json=payload("media_processed.json")),
        ]
    )
    post = api.post("/api/v1/statuses").respond(200, json=payload("status_posted.json"))
    video = Media(
        data=b"\x00\x00\x00\x18ftypmp42",
        mime_type="video/mp4",
        alt_text="Video imbauan waspada banjir dari Wali Kota",
    )

    provider.publish(PostContent(text="Imbauan Wali Kota", media=[video]))

    assert check.call_count == 3
    assert asked_in_order(waits, MEDIA_CHECK_PAUSES[:3])
    assert not asked_in_order(waits, MEDIA_CHECK_PAUSES[:4])
    assert form(post.calls.last.request)["media_ids[]"] == ["113452000000000882"]


def test_media_that_never_finishes_processing_fails_as_transient_after_a_bounded_wait(
    api, provider, waits
):
    api.post("/api/v2/media").respond(202, json=payload("media_processing.json"))
    check = api.get("/api/v1/media/113452000000000882").respond(206)
    post = api.post("/api/v1/statuses")
    video = Media(data=b"video", mime_type="video/mp4", alt_text="Video imbauan")
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="Imbauan", media=[video]))
    assert caught.value.kind == ErrorKind.TRANSIENT
    assert "still processing" in caught.value.message
    assert check.call_count == len(MEDIA_CHECK_PAUSES)
    assert asked_in_order(waits, MEDIA_CHECK_PAUSES)
    assert not post.called


def test_deleting_removes_the_status(api, provider):
    delete = api.delete("/api/v1/statuses/113452960000000001").respond(
        200, json=payload("status_posted.json")
    )
    provider.delete("113452960000000001")
    assert delete.called


def test_deleting_a_status_that_is_already_gone_is_not_an_error(api, provider):
    # A person deleted it on the server, or an earlier attempt did and its answer was lost:
    # either way the post is no longer visible, which is what was asked.
    api.delete("/api/v1/statuses/404404").respond(404, json=payload("error_404.json"))
    provider.delete("404404")


# --- replying ------------------------------------------------------------------------------


def event(kind: EventKind, visibility: str, handle: str = "@siti@warga.example") -> InboundEvent:
    return InboundEvent(
        kind=kind,
        external_id="113453100000000010",
        created_at=datetime(2026, 11, 1, 9, 12, tzinfo=UTC),
        author_id="109400000000000202",
        author_handle=handle,
        text="Posko di Sukamaju sudah penuh, apakah ada posko lain?",
        raw={"status": {"id": "113453100000000010", "visibility": visibility}},
    )


def test_a_reply_mentions_the_author_and_answers_in_the_thread(api, provider):
    post = api.post("/api/v1/statuses").respond(200, json=status_answer("301"))
    published = provider.reply(
        event(EventKind.REPLY, "public"), PostContent(text="Posko kedua ada di GOR Kota.")
    )
    assert published.external_id == "301"
    sent = form(post.calls.last.request)
    assert sent["status"] == ["@siti@warga.example Posko kedua ada di GOR Kota."]
    assert sent["in_reply_to_id"] == ["113453100000000010"]
    assert sent["visibility"] == ["public"]


def test_a_direct_message_is_answered_directly_whatever_the_editor_chose(api, provider):
    post = api.post("/api/v1/statuses").respond(200, json=status_answer("302"))
    provider.reply(
        event(EventKind.DIRECT_MESSAGE, "direct"),
        PostContent(text="Laporan Bapak sudah kami terima.", options={"visibility": "public"}),
    )
    assert form(post.calls.last.request)["visibility"] == ["direct"]


def test_a_reply_is_never_more_visible_than_what_it_answers(api, provider):
    post = api.post("/api/v1/statuses").respond(200, json=status_answer("303"))
    provider.reply(event(EventKind.MENTION, "private"), PostContent(text="Terima kasih."))
    assert form(post.calls.last.request)["visibility"] == ["private"]
    provider.reply(
        event(EventKind.MENTION, "public"),
        PostContent(text="Terima kasih.", options={"visibility": "unlisted"}),
    )
    assert form(post.calls.last.request)["visibility"] == ["unlisted"]


def test_a_reply_that_already_mentions_the_author_is_left_alone(api, provider):
    post = api.post("/api/v1/statuses").respond(200, json=status_answer("304"))
    provider.reply(
        event(EventKind.MENTION, "public"), PostContent(text="Baik @siti@warga.example, kami cek.")
    )
    assert form(post.calls.last.request)["status"] == ["Baik @siti@warga.example, kami cek."]


def test_favourites_and_boosts_cannot_be_answered(provider):
    with pytest.raises(ProviderError) as caught:
        provider.reply(event(EventKind.REACTION, "public"), PostContent(text="Terima kasih"))
    assert caught.value.kind == ErrorKind.PERMANENT


def test_a_mention_is_recognised_only_for_the_same_person():
    assert (
        with_mention("Halo", "@budi@social.example", "social.example")
        == "@budi@social.example Halo"
    )
    assert with_mention("Halo @budi", "@budi@social.example", "social.example") == "Halo @budi"
    # @budi on our server is somebody else than budi@warga.example
    assert (
        with_mention("Halo @budi", "@budi@warga.example", "social.example")
        == "@budi@warga.example Halo @budi"
    )
    assert with_mention("Halo @budiman", "@budi@social.example", "social.example").startswith(
        "@budi@social.example "
    )
    assert (
        with_mention("cc @BUDI@SOCIAL.EXAMPLE.", "@budi@social.example", "")
        == "cc @BUDI@SOCIAL.EXAMPLE."
    )


# --- validating ----------------------------------------------------------------------------


def test_it_validates_against_this_servers_character_limit():
    long_text = "a" * 800
    assert make_provider(max_characters=1000).validate(PostContent(text=long_text)) == []
    problems = make_provider().validate(PostContent(text=long_text))
    assert problems == ["The text is 800 characters long; this network takes at most 500."]


def test_links_count_as_23_characters_and_the_content_warning_counts_too():
    link = "https://kota.example/" + "x" * 200
    assert status_length(f"Info {link}.") == len("Info ") + 23 + 1
    assert status_length("Halo @budi@warga.example") == len("Halo @budi")
    assert status_length("abc", "CW") == 5
    provider = make_provider()
    assert provider.validate(PostContent(text="a" * 470 + " " + link)) == []
    assert provider.validate(PostContent(text="a" * 490, options={"spoiler_text": "x" * 20}))


def test_images_need_alt_text_and_the_servers_types_and_sizes():
    provider = make_provider()
    assert provider.validate(PostContent(text="Halo", media=[flood_map()])) == []
    no_alt = provider.validate(PostContent(text="Halo", media=[flood_map(alt="")]))
    assert any("alt text" in p for p in no_alt)
    too_long_alt = provider.validate(PostContent(text="Halo", media=[flood_map(alt="x" * 1501)]))
    assert any("1500" in p for p in too_long_alt)
    five = provider.validate(PostContent(text="Halo", media=[flood_map()] * 5))
    assert any("At most 4 images" in p for p in five)
    tiff = provider.validate(
        PostContent(text="Halo", media=[Media(data=b"x", mime_type="image/tiff", alt_text="x")])
    )
    assert any("image/tiff" in p for p in tiff)
    big = Media(data=b"x" * (3 * 1024 * 1024), mime_type="image/png", alt_text="Peta")
    assert make_provider().validate(PostContent(text="Halo", media=[big])) == []
    assert make_provider(image_size_limit=2 * 1024 * 1024).validate(
        PostContent(text="Halo", media=[big])
    )


def test_a_video_cannot_share_a_post_with_images():
    video = Media(data=b"v", mime_type="video/mp4", alt_text="Video")
    problems = make_provider().validate(PostContent(text="Halo", media=[video, flood_map()]))
    assert any("either one video" in p for p in problems)


def test_each_thread_part_is_checked_and_named():
    content = PostContent(text="Bagian satu", thread=[PostContent(text="b" * 600)])
    assert make_provider().validate(content) == [
        "Part 2: The text is 600 characters long; this network takes at most 500."
    ]


def test_an_unknown_visibility_is_refused():
    assert make_provider().validate(PostContent(text="Halo", options={"visibility": "everyone"}))
    with pytest.raises(ProviderError):
        make_provider().publish(PostContent(text="Halo", options={"visibility": "everyone"}))
