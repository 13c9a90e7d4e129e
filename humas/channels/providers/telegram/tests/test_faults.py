"""Every way a Bot API call can fail, and the ProviderError kind humas acts on."""

import httpx
import pytest

from humas.channels.providers.base import ErrorKind, PostContent, ProviderError
from humas.lib.http import HttpClient

from .conftest import API, TOKEN, answer, load

POST = PostContent(text="Jadwal imunisasi bulan ini sudah terbit.")


def publish_fails(api, provider, **mock):
    route = api.post("sendMessage").mock(**mock)
    with pytest.raises(ProviderError) as caught:
        provider.publish(POST)
    assert TOKEN not in caught.value.message
    return caught.value, route


def poll_fails(api, provider, **mock):
    route = api.post("getUpdates").mock(**mock)
    with pytest.raises(ProviderError) as caught:
        provider.fetch_inbound("431000110")
    assert TOKEN not in caught.value.message
    return caught.value, route


def test_401_unauthorized_is_an_auth_error(api, provider):
    error, _ = publish_fails(api, provider, return_value=answer("error-unauthorized", 401))
    assert error.kind == ErrorKind.AUTH and error.status == 401


def test_404_not_found_means_the_token_is_not_a_bots(api, provider):
    error, _ = poll_fails(api, provider, return_value=answer("error-not-found", 404))
    assert error.kind == ErrorKind.AUTH


def test_a_bot_kicked_from_the_channel_needs_reconnecting_and_says_why(api, provider):
    error, _ = publish_fails(api, provider, return_value=answer("error-kicked", 403))
    assert error.kind == ErrorKind.AUTH
    assert "bot was kicked from the channel chat" in error.message


def test_a_bot_that_lost_the_channel_entirely_needs_reconnecting(api, provider):
    error, _ = publish_fails(api, provider, return_value=answer("error-chat-not-found", 400))
    assert error.kind == ErrorKind.AUTH


def test_a_message_that_is_too_long_is_permanent_with_telegrams_reason(api, provider):
    error, _ = publish_fails(api, provider, return_value=answer("error-message-too-long", 400))
    assert error.kind == ErrorKind.PERMANENT
    assert "message is too long" in error.message


def test_413_too_large_is_permanent(api, provider):
    error, _ = publish_fails(api, provider, return_value=answer("error-too-large", 413))
    assert error.kind == ErrorKind.PERMANENT
    assert "50 MB" in error.message


def test_413_from_a_proxy_in_front_of_telegram_is_permanent_too(api, provider):
    page = httpx.Response(
        413, text="<html><body><h1>413 Request Entity Too Large</h1></body></html>"
    )
    error, _ = publish_fails(api, provider, return_value=page)
    assert error.kind == ErrorKind.PERMANENT


def test_429_waits_as_long_as_telegram_says(api, provider):
    error, route = publish_fails(api, provider, return_value=answer("error-flood", 429))
    assert error.kind == ErrorKind.RATE_LIMITED
    assert error.retry_after == 35.0
    assert route.call_count == 1


def test_a_flood_wait_in_another_status_is_still_a_wait(api, provider):
    body = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: FLOOD_WAIT",
        "parameters": {"retry_after": 12},
    }
    error, _ = publish_fails(api, provider, return_value=httpx.Response(400, json=body))
    assert (error.kind, error.retry_after) == (ErrorKind.RATE_LIMITED, 12.0)


def test_a_5xx_storm_on_a_send_is_transient_and_not_resent_blindly(api, provider):
    error, route = publish_fails(api, provider, return_value=answer("error-bad-gateway", 502))
    assert error.kind == ErrorKind.TRANSIENT
    # A POST that may have reached Telegram is not repeated (it could post twice).
    assert route.call_count == 1


def test_a_5xx_storm_on_a_read_is_retried_then_transient(api, provider):
    error, route = poll_fails(
        api, provider, return_value=httpx.Response(503, text="Service Unavailable")
    )
    assert error.kind == ErrorKind.TRANSIENT
    assert route.call_count == HttpClient(key="x").max_attempts


def test_a_500_with_the_bot_api_envelope_is_transient(api, provider):
    error, _ = publish_fails(api, provider, return_value=answer("error-internal", 500))
    assert error.kind == ErrorKind.TRANSIENT


def test_a_timeout_while_sending_is_transient(api, provider):
    error, route = publish_fails(
        api, provider, side_effect=httpx.ReadTimeout("The read operation timed out")
    )
    assert error.kind == ErrorKind.TRANSIENT
    assert route.call_count == 1


def test_a_timeout_while_polling_is_retried_then_transient(api, provider):
    error, route = poll_fails(api, provider, side_effect=httpx.ConnectTimeout("timed out"))
    assert error.kind == ErrorKind.TRANSIENT
    assert route.call_count > 1


def test_a_connection_error_never_shows_the_token(api, provider):
    failure = httpx.ConnectError(f"could not reach {API}sendMessage")
    error, _ = publish_fails(api, provider, side_effect=failure)
    assert error.kind == ErrorKind.TRANSIENT
    assert "<token>" in error.message


GARBLED = [b"{not json", b'{"ok": true, "result": [{"update_id": 1', b"", b"<html>ok</html>"]


@pytest.mark.parametrize("body", GARBLED)
def test_malformed_or_cut_off_json_on_a_read_is_transient(api, provider, body):
    error, _ = poll_fails(api, provider, return_value=httpx.Response(200, content=body))
    assert error.kind == ErrorKind.TRANSIENT


@pytest.mark.parametrize("body", GARBLED)
def test_malformed_json_after_a_send_is_permanent_as_the_message_may_be_out(api, provider, body):
    error, route = publish_fails(api, provider, return_value=httpx.Response(200, content=body))
    assert error.kind == ErrorKind.PERMANENT
    assert "may have been published" in error.message
    assert route.call_count == 1


def test_ok_false_without_an_error_code_is_handled(api, provider):
    error, _ = publish_fails(api, provider, return_value=httpx.Response(200, json={"ok": False}))
    assert error.kind == ErrorKind.TRANSIENT
    error, _ = publish_fails(api, provider, return_value=httpx.Response(400, json={"ok": False}))
    assert error.kind == ErrorKind.PERMANENT


def test_a_renamed_field_in_a_result_is_a_clear_error(api, provider):
    body = load("sendMessage")
    body["result"]["msg_id"] = body["result"].pop("message_id")
    error, _ = publish_fails(api, provider, return_value=httpx.Response(200, json=body))
    assert error.kind == ErrorKind.PERMANENT
    assert "message_id" in error.message and "sendMessage" in error.message


def test_a_missing_result_is_a_clear_error(api, provider):
    error, _ = publish_fails(api, provider, return_value=httpx.Response(200, json={"ok": True}))
    assert error.kind == ErrorKind.PERMANENT


def test_a_renamed_update_id_stops_polling_with_a_clear_error(api, provider):
    body = load("getUpdates")
    for update in body["result"]:
        update["id"] = update.pop("update_id")
    error, _ = poll_fails(api, provider, return_value=httpx.Response(200, json=body))
    assert error.kind == ErrorKind.PERMANENT
    assert "update_id" in error.message


def test_a_group_upgraded_to_a_supergroup_tells_the_admin_the_new_id(api, provider):
    error, _ = publish_fails(api, provider, return_value=answer("error-migrated", 400))
    assert error.kind == ErrorKind.PERMANENT
    assert "-1001234567890" in error.message
    assert "connect the channel again" in error.message


def test_polling_while_a_webhook_is_set_explains_the_conflict(api, provider):
    error, _ = poll_fails(api, provider, return_value=answer("error-webhook-conflict", 409))
    assert error.kind == ErrorKind.AUTH
    assert "webhook" in error.message


def test_two_programs_polling_one_bot_is_transient(api, provider):
    error, _ = poll_fails(api, provider, return_value=answer("error-polling-conflict", 409))
    assert error.kind == ErrorKind.TRANSIENT
