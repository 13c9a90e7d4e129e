import json

import pytest

from humas.channels.providers.base import ErrorKind, Media, PostContent, ProviderError
from humas.channels.providers.telegram.provider import TelegramProvider

from .conftest import CHANNEL_ID, CONFIG, SECRET, TOKEN, answer, load, sent

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR"
    + (800).to_bytes(4, "big")
    + (600).to_bytes(4, "big")
)


def photo(name="posyandu.png", size=0):
    return Media(
        data=PNG + b"\x00" * size, mime_type="image/png", filename=name, width=800, height=600
    )


def video(name="imunisasi.mp4", size=0):
    return Media(
        data=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * size, mime_type="video/mp4", filename=name
    )


def multipart(route, index=-1):
    request = route.calls[index].request
    assert request.headers["content-type"].startswith("multipart/form-data")
    return request.content.decode("latin-1")


def field(body, name):
    """The value of a plain multipart field (enough for these tests)."""
    marker = f'name="{name}"\r\n\r\n'
    start = body.index(marker) + len(marker)
    return body[start : body.index("\r\n--", start)]


def test_a_text_goes_out_as_a_plain_message_with_its_public_link(api, provider):
    route = api.post("sendMessage").mock(return_value=answer("sendMessage"))
    published = provider.publish(PostContent(text="Jadwal imunisasi bulan ini sudah terbit."))

    assert sent(route) == {
        "chat_id": CHANNEL_ID,
        "text": "Jadwal imunisasi bulan ini sudah terbit.",
    }
    assert published.external_id == f"{CHANNEL_ID}:120"
    assert published.url == "https://t.me/dinkeskota/120"
    assert published.part_ids == (f"{CHANNEL_ID}:120",)


def test_a_separate_link_is_added_to_the_text_once(api, provider):
    route = api.post("sendMessage").mock(return_value=answer("sendMessage"))
    provider.publish(PostContent(text="Info lengkap:", link="https://dinkes.satu.go.id/imunisasi"))
    provider.publish(
        PostContent(text="Lihat https://dinkes.satu.go.id/x", link="https://dinkes.satu.go.id/x")
    )
    assert sent(route, 0)["text"] == "Info lengkap:\n\nhttps://dinkes.satu.go.id/imunisasi"
    assert sent(route, 1)["text"] == "Lihat https://dinkes.satu.go.id/x"


def test_a_private_channel_gets_a_members_only_link(api):
    provider = TelegramProvider(
        credentials={"bot_token": TOKEN}, config=dict(CONFIG, chat_username="")
    )
    api.post("sendMessage").mock(return_value=answer("sendMessage"))
    assert provider.publish(PostContent(text="Rapat")).url == "https://t.me/c/1987654321/120"


def test_one_photo_is_uploaded_with_its_caption(api, provider):
    route = api.post("sendPhoto").mock(return_value=answer("sendPhoto"))
    published = provider.publish(
        PostContent(text="Posyandu Melati buka setiap Selasa.", media=[photo()])
    )

    body = multipart(route)
    assert field(body, "chat_id") == str(CHANNEL_ID)
    assert field(body, "caption") == "Posyandu Melati buka setiap Selasa."
    assert 'name="photo"; filename="posyandu.png"' in body
    assert "parse_mode" not in body
    assert published.external_id == f"{CHANNEL_ID}:122"


def test_one_video_is_uploaded_for_streaming(api, provider):
    route = api.post("sendVideo").mock(return_value=answer("sendVideo"))
    published = provider.publish(PostContent(text="Cara kerja vaksin.", media=[video()]))
    body = multipart(route)
    assert 'name="video"; filename="imunisasi.mp4"' in body
    assert field(body, "supports_streaming") == "true"
    assert published.url == "https://t.me/dinkeskota/123"


def test_several_media_go_out_as_one_album_captioned_on_the_first_item(api, provider):
    route = api.post("sendMediaGroup").mock(return_value=answer("sendMediaGroup"))
    content = PostContent(
        text="Kegiatan posyandu pekan ini.",
        media=[photo("a.png"), photo("b.png"), video("c.mp4")],
    )
    published = provider.publish(content)

    body = multipart(route)
    album = json.loads(field(body, "media"))
    assert [item["media"] for item in album] == [
        "attach://file0",
        "attach://file1",
        "attach://file2",
    ]
    assert [item["type"] for item in album] == ["photo", "photo", "video"]
    assert album[0]["caption"] == "Kegiatan posyandu pekan ini."
    assert "caption" not in album[1] and "caption" not in album[2]
    for name in ("file0", "file1", "file2"):
        assert f'name="{name}"' in body
    assert published.external_id == f"{CHANNEL_ID}:124"
    assert published.part_ids == tuple(f"{CHANNEL_ID}:{n}" for n in (124, 125, 126))


def test_a_thread_answers_each_part_to_the_one_before(api, provider):
    route = api.post("sendMessage").mock(
        side_effect=[answer("sendMessage"), answer("sendMessage-thread-part")]
    )
    published = provider.publish(
        PostContent(text="Jadwal imunisasi.", thread=[PostContent(text="Bawa buku KIA.")])
    )
    assert "reply_parameters" not in sent(route, 0)
    assert sent(route, 1)["reply_parameters"] == {"message_id": 120}
    assert published.external_id == f"{CHANNEL_ID}:120"
    assert published.part_ids == (f"{CHANNEL_ID}:120", f"{CHANNEL_ID}:121")


def test_a_thread_that_breaks_halfway_says_what_is_already_public(api, provider):
    api.post("sendMessage").mock(
        side_effect=[answer("sendMessage"), answer("error-message-too-long", 400)]
    )
    with pytest.raises(ProviderError) as caught:
        provider.publish(PostContent(text="Satu", thread=[PostContent(text="Dua")]))
    # Not retried automatically: the first part would be posted twice.
    assert caught.value.kind == ErrorKind.PERMANENT
    assert f"{CHANNEL_ID}:120" in caught.value.message
    assert "message is too long" in caught.value.message


def test_a_video_telegram_holds_back_still_gets_a_unique_reference(api, provider):
    api.post("sendVideo").mock(return_value=answer("sendVideo-scheduled"))
    first = provider.publish(PostContent(text="Video", media=[video()]))
    second = provider.publish(PostContent(text="Video", media=[video()]))
    assert first.external_id.startswith(f"{CHANNEL_ID}:scheduled-")
    assert first.external_id != second.external_id
    assert first.url == ""
    with pytest.raises(ProviderError, match="Delete it in Telegram"):
        provider.delete(first.external_id)


def test_deleting_removes_the_message(api, provider):
    route = api.post("deleteMessage").mock(return_value=answer("deleteMessage"))
    provider.delete(f"{CHANNEL_ID}:120")
    assert sent(route) == {"chat_id": CHANNEL_ID, "message_id": 120}


def test_deleting_a_message_that_is_already_gone_is_fine(api, provider):
    api.post("deleteMessage").mock(return_value=answer("error-message-to-delete-not-found", 400))
    provider.delete(f"{CHANNEL_ID}:120")


def test_deleting_something_that_is_not_a_telegram_reference_is_refused(provider):
    with pytest.raises(ProviderError) as caught:
        provider.delete("at://did:plc:abc/app.bsky.feed.post/xyz")
    assert caught.value.kind == ErrorKind.PERMANENT


# --- validation ---------------------------------------------------------------------------


def problems(content):
    return TelegramProvider(credentials={"bot_token": TOKEN, "webhook_secret": SECRET}).validate(
        content
    )


def test_a_long_text_fits_but_the_same_text_as_a_caption_does_not():
    text = "a" * 2000
    assert problems(PostContent(text=text)) == []
    found = problems(PostContent(text=text, media=[photo()]))
    assert len(found) == 1 and "1024" in found[0]


def test_text_over_4096_characters_is_refused():
    found = problems(PostContent(text="a" * 4097))
    assert len(found) == 1 and "4096" in found[0]


def test_the_appended_link_counts_towards_the_limit():
    assert problems(PostContent(text="a" * 1020, link="https://x.go.id", media=[photo()]))


def test_an_album_takes_at_most_ten_items():
    assert problems(PostContent(text="", media=[photo()] * 10)) == []
    assert len(problems(PostContent(text="", media=[photo()] * 11))) == 1
    assert len(problems(PostContent(text="", media=[photo()] * 6 + [video()] * 5))) == 1


def test_media_type_and_size_limits_are_telegrams():
    assert problems(PostContent(text="x", media=[photo(size=10_000_001)]))
    assert problems(PostContent(text="x", media=[video(size=50_000_001)]))
    assert problems(PostContent(text="x", media=[Media(data=b"GIF89a", mime_type="image/gif")]))
    webp = Media(data=b"RIFF0000WEBP", mime_type="image/webp", filename="a.webp")
    assert problems(PostContent(text="x", media=[webp])) == []


def test_a_photo_telegram_cannot_show_is_refused():
    strip = Media(data=PNG, mime_type="image/png", filename="strip.png", width=4000, height=100)
    assert problems(PostContent(text="x", media=[strip]))


def test_an_empty_post_is_refused():
    assert problems(PostContent(text="  "))


def test_problems_in_a_thread_say_which_part():
    found = problems(PostContent(text="ok", thread=[PostContent(text="b" * 5000)]))
    assert len(found) == 1 and found[0].startswith("Part 2:")


def test_the_fixtures_describe_the_channel_the_tests_use():
    assert load("sendMessage")["result"]["chat"]["id"] == CHANNEL_ID
