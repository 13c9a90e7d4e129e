import json
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory

from humas.channels.providers.base import ErrorKind, EventKind, PostContent, ProviderError
from humas.channels.providers.telegram.provider import ALLOWED_UPDATES, TelegramProvider

from .conftest import CHANNEL_ID, CONFIG, GROUP_ID, SECRET, SITI_ID, TOKEN, answer, load, sent


def webhook_request(body, secret=SECRET):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return RequestFactory().post("/hooks/x/", data=data, content_type="application/json", **headers)


# --- polling ------------------------------------------------------------------------------


def test_the_first_poll_reads_from_the_start_and_keeps_only_citizens_words(api, provider):
    route = api.post("getUpdates").mock(return_value=answer("getUpdates"))
    events, cursor = provider.fetch_inbound("")

    asked = sent(route)
    assert "offset" not in asked
    assert asked["timeout"] == 0 and asked["allowed_updates"] == ALLOWED_UPDATES
    assert cursor == "431000110"
    # Not events: /start, the automatic forward of the channel post, someone joining the
    # group, an edit and a channel post.
    assert [(e.kind, e.external_id) for e in events] == [
        (EventKind.DIRECT_MESSAGE, f"{SITI_ID}:56"),
        (EventKind.DIRECT_MESSAGE, "5987654321:13"),
        (EventKind.COMMENT, f"{GROUP_ID}:881"),
        (EventKind.REPLY, f"{GROUP_ID}:882"),
        (EventKind.DIRECT_MESSAGE, "5987654321:14"),
    ]


def test_a_private_message_is_a_direct_message_in_its_chat(api, provider):
    api.post("getUpdates").mock(return_value=answer("getUpdates"))
    message = provider.fetch_inbound("")[0][0]
    assert message.thread_id == str(SITI_ID)
    assert message.parent_id == ""
    assert message.author_id == str(SITI_ID)
    assert message.author_handle == "@sitirahma"
    assert message.author_name == "Siti Rahmawati"
    assert message.text.startswith("Selamat pagi, puskesmas di Kelurahan Sukamaju")
    assert message.created_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert message.raw["update_id"] == 431000101


def test_a_photo_keeps_its_largest_file_id_and_its_caption(api, provider):
    api.post("getUpdates").mock(return_value=answer("getUpdates"))
    report = provider.fetch_inbound("")[0][1]
    assert report.text.startswith("Sampah menumpuk")
    assert report.author_handle == "" and report.author_name == "Budi"
    assert report.media == [
        {
            "type": "photo",
            "file_id": "AgACAgUAAxkBAAICeGdh1pLarge",
            "file_unique_id": "AQADlarge",
            "width": 1280,
            "height": 853,
            "file_size": 98123,
        }
    ]


def test_a_shared_location_is_kept(api, provider):
    api.post("getUpdates").mock(return_value=answer("getUpdates"))
    pin = provider.fetch_inbound("")[0][4]
    assert pin.media == [{"type": "location", "latitude": -6.914744, "longitude": 107.60981}]


def test_a_comment_points_at_the_channel_post_humas_published(api, provider):
    api.post("getUpdates").mock(return_value=answer("getUpdates"))
    comment = provider.fetch_inbound("")[0][2]
    assert comment.parent_id == f"{CHANNEL_ID}:120"  # the ChannelPost's external_id
    assert comment.thread_id == f"{GROUP_ID}:880"
    assert comment.permalink == "https://t.me/dinkeskota/120?comment=881"
    assert comment.text == "Apakah imunisasi di posyandu gratis?"


def test_a_reply_to_a_comment_points_at_that_comment(api, provider):
    api.post("getUpdates").mock(return_value=answer("getUpdates"))
    reply = provider.fetch_inbound("")[0][3]
    assert reply.parent_id == f"{GROUP_ID}:881"
    assert reply.thread_id == f"{GROUP_ID}:880"
    assert reply.permalink == "https://t.me/diskusidinkeskota/882"


def test_the_next_poll_confirms_what_was_read(api, provider):
    route = api.post("getUpdates").mock(return_value=answer("getUpdates-empty"))
    events, cursor = provider.fetch_inbound("431000110")
    assert sent(route)["offset"] == 431000111
    assert (events, cursor) == ([], "431000110")


def test_a_cursor_that_is_not_an_update_id_starts_afresh(api, provider):
    route = api.post("getUpdates").mock(return_value=answer("getUpdates-empty"))
    assert provider.fetch_inbound("at://not-telegram") == ([], "at://not-telegram")
    assert "offset" not in sent(route)


def test_a_channel_fed_by_webhook_does_not_poll(api):
    route = api.post("getUpdates").mock(return_value=answer("getUpdates"))
    provider = TelegramProvider(
        credentials={"bot_token": TOKEN}, config=dict(CONFIG, delivery="webhook")
    )
    assert provider.fetch_inbound("431000110") == ([], "431000110")
    assert not route.called


def test_messages_from_other_chats_and_from_the_bot_itself_are_ignored(provider):
    base = load("update-private-message")
    elsewhere = {
        **base["message"],
        "chat": {"id": -1001111111111, "type": "supergroup", "title": "Lain"},
    }
    own = {**base["message"], "from": {"id": CONFIG["bot_id"], "is_bot": True, "first_name": "Bot"}}
    assert provider.events_from_update({"update_id": 1, "message": elsewhere}) == []
    assert provider.events_from_update({"update_id": 2, "message": own}) == []


def test_the_channel_writing_in_its_own_group_is_not_a_comment(provider):
    comment = load("update-comment")
    as_channel = {
        **comment["message"],
        "sender_chat": {"id": CHANNEL_ID, "type": "channel", "title": "Dinas Kesehatan Kota Satu"},
    }
    assert provider.events_from_update({"update_id": 3, "message": as_channel}) == []


def test_an_anonymous_group_admin_is_shown_as_the_group(provider):
    comment = load("update-comment")["message"]
    anonymous = {
        **comment,
        "from": {
            "id": 1087968824,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        },
        "sender_chat": {
            "id": GROUP_ID,
            "type": "supergroup",
            "title": "Diskusi",
            "username": "diskusidinkeskota",
        },
    }
    (event,) = provider.events_from_update({"update_id": 4, "message": anonymous})
    assert event.author_handle == "@diskusidinkeskota"
    assert event.author_name == "Diskusi"


def test_a_plain_group_message_is_a_comment_without_a_post(provider):
    comment = load("update-comment")["message"]
    loose = {k: v for k, v in comment.items() if k not in ("reply_to_message", "message_thread_id")}
    (event,) = provider.events_from_update({"update_id": 5, "message": loose})
    assert (event.kind, event.parent_id, event.thread_id) == (EventKind.COMMENT, "", str(GROUP_ID))


def test_without_a_discussion_group_only_private_messages_count(api):
    provider = TelegramProvider(
        credentials={"bot_token": TOKEN}, config=dict(CONFIG, discussion_chat_id=None)
    )
    api.post("getUpdates").mock(return_value=answer("getUpdates"))
    events, _cursor = provider.fetch_inbound("")
    assert {e.kind for e in events} == {EventKind.DIRECT_MESSAGE}


def test_an_odd_message_inside_a_good_update_is_skipped_not_refused(provider):
    assert provider.events_from_update({"update_id": 6, "message": "surprise"}) == []
    assert (
        provider.events_from_update({"update_id": 7, "message": {"chat": [], "message_id": "x"}})
        == []
    )


# --- webhook ------------------------------------------------------------------------------


def test_the_webhook_secret_must_match_exactly(provider):
    body = load("update-private-message")
    assert provider.verify_webhook(webhook_request(body)) is True
    assert provider.verify_webhook(webhook_request(body, secret="wrong")) is False
    assert provider.verify_webhook(webhook_request(body, secret=SECRET + "x")) is False
    assert provider.verify_webhook(webhook_request(body, secret=None)) is False


def test_without_a_stored_secret_no_delivery_is_trusted():
    provider = TelegramProvider(credentials={"bot_token": TOKEN}, config=dict(CONFIG))
    assert provider.verify_webhook(webhook_request({}, secret="")) is False


def test_a_delivery_is_one_update(provider):
    (event,) = provider.parse_webhook(webhook_request(load("update-private-message")))
    assert event.external_id == f"{SITI_ID}:60"
    assert event.text == "Apakah vaksin HPV untuk anak SD sudah tersedia?"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe\x00", b"[]", b'"text"', b'{"message": {}}', b'{"update_id": "12"}'],
)
def test_a_malformed_delivery_is_a_permanent_error(provider, body):
    with pytest.raises(ProviderError) as caught:
        provider.parse_webhook(webhook_request(body))
    assert caught.value.kind == ErrorKind.PERMANENT


def test_an_update_humas_does_not_use_is_accepted_and_empty(provider):
    edited = load("getUpdates")["result"][7]
    assert provider.parse_webhook(webhook_request(edited)) == []


# --- choosing delivery ---------------------------------------------------------------------


def test_registering_the_webhook_sends_the_secret_and_the_updates_humas_reads(api, provider):
    route = api.post("setWebhook").mock(return_value=answer("setWebhook"))
    provider.register_webhook("https://humas.satu.go.id/hooks/abc/")
    assert sent(route) == {
        "url": "https://humas.satu.go.id/hooks/abc/",
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "channel_post"],
    }


@pytest.mark.parametrize(
    "url", ["http://humas.satu.go.id/hooks/abc/", "https://humas.satu.go.id:8000/hooks/abc/"]
)
def test_telegram_cannot_deliver_to_plain_http_or_odd_ports(api, provider, url):
    route = api.post("setWebhook").mock(return_value=answer("setWebhook"))
    with pytest.raises(ProviderError) as caught:
        provider.register_webhook(url)
    assert caught.value.kind == ErrorKind.PERMANENT
    assert not route.called


def test_an_https_site_gets_a_webhook(api, provider):
    hook = api.post("setWebhook").mock(return_value=answer("setWebhook"))
    assert provider.setup_delivery("https://humas.satu.go.id/hooks/abc/") == {"delivery": "webhook"}
    assert hook.called


def test_a_site_telegram_cannot_reach_polls_after_removing_any_old_webhook(api, provider):
    hook = api.post("setWebhook").mock(return_value=answer("setWebhook"))
    unhook = api.post("deleteWebhook").mock(return_value=answer("deleteWebhook"))
    assert provider.setup_delivery("http://127.0.0.1:8000/hooks/abc/") == {"delivery": "polling"}
    assert sent(unhook) == {"drop_pending_updates": False}
    assert not hook.called


# --- replying -----------------------------------------------------------------------------


def test_a_direct_message_is_answered_in_the_private_chat(api, provider):
    route = api.post("sendMessage").mock(return_value=answer("sendMessage-reply-private"))
    api.post("getUpdates").mock(return_value=answer("getUpdates"))
    question = provider.fetch_inbound("")[0][0]

    published = provider.reply(question, PostContent(text="Puskesmas buka kembali hari Kamis."))
    assert sent(route) == {
        "chat_id": SITI_ID,
        "text": "Puskesmas buka kembali hari Kamis.",
        "reply_parameters": {"message_id": 56, "allow_sending_without_reply": True},
    }
    assert published.external_id == f"{SITI_ID}:57"
    assert published.url == ""


def test_a_comment_is_answered_in_its_thread_in_the_group(api, provider):
    route = api.post("sendMessage").mock(return_value=answer("sendMessage-reply-comment"))
    (comment,) = provider.events_from_update(load("update-comment"))

    published = provider.reply(comment, PostContent(text="Gratis, Bu. Silakan bawa buku KIA."))
    assert sent(route)["chat_id"] == GROUP_ID
    assert sent(route)["reply_parameters"] == {"message_id": 881}
    assert published.external_id == f"{GROUP_ID}:890"
    assert published.url == "https://t.me/diskusidinkeskota/890"


def test_a_citizen_who_blocked_the_bot_fails_the_reply_not_the_channel(api, provider):
    api.post("sendMessage").mock(return_value=answer("error-blocked", 403))
    (question,) = provider.events_from_update(load("update-private-message"))
    with pytest.raises(ProviderError) as caught:
        provider.reply(question, PostContent(text="Halo"))
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "blocked by the user" in caught.value.message


# --- measuring ----------------------------------------------------------------------------


def test_the_channels_member_count_is_its_followers(api, provider):
    route = api.post("getChatMemberCount").mock(return_value=answer("getChatMemberCount"))
    assert provider.fetch_account_metrics().followers == 1523
    assert sent(route) == {"chat_id": CHANNEL_ID}


def test_post_metrics_are_not_offered(provider):
    # The Bot API has no view or reaction counts for channel posts.
    assert provider.capabilities.post_metrics is False


def test_testing_the_connection_checks_the_bot_can_still_post(api, provider):
    api.post("getMe").mock(return_value=answer("getMe"))
    api.post("getChat").mock(return_value=answer("getChat-channel"))
    api.post("getChatMember").mock(return_value=answer("getChatMember-administrator"))
    info = provider.account_info()
    assert (info.external_id, info.handle) == (str(CHANNEL_ID), "@dinkeskota")

    api.post("getChatMember").mock(return_value=answer("getChatMember-left"))
    with pytest.raises(ProviderError) as caught:
        provider.account_info()
    assert caught.value.kind == ErrorKind.AUTH


def test_the_bot_token_never_reaches_the_logs(api, provider, caplog):
    api.post("getUpdates").mock(return_value=answer("getUpdates-empty"))
    # Settings keep httpx at WARNING; someone turning it up for debugging must still not
    # see the token.
    with caplog.at_level("DEBUG", logger="httpx"):
        provider.fetch_inbound("")
    assert "getUpdates" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
