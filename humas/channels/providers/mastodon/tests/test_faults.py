"""Every way a Mastodon server can fail, and what humas is told to do about it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from humas.channels.providers.base import ErrorKind, Media, PostContent, ProviderError
from humas.channels.providers.mastodon import answers

from .conftest import make_provider, payload


def failure(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def poll(provider):
    return lambda: provider.fetch_inbound("")


def publish(provider, **content):
    return lambda: provider.publish(PostContent(**{"text": "Info banjir", **content}))


def test_an_invalid_token_is_an_auth_failure(api, provider):
    api.get("/api/v1/notifications").respond(401, json=payload("error_401.json"))
    error = failure(poll(provider))
    assert (error.kind, error.status) == (ErrorKind.AUTH, 401)
    assert "The access token is invalid" in error.message
    assert "Connect the channel again" in error.message


def test_a_disabled_login_is_an_auth_failure(api, provider):
    api.post("/api/v1/statuses").respond(403, json=payload("error_403.json"))
    error = failure(publish(provider))
    assert (error.kind, error.status) == (ErrorKind.AUTH, 403)
    assert "Your login is currently disabled" in error.message


def test_an_action_the_server_does_not_allow_fails_only_that_action(api, provider):
    # Replying to someone who blocks the account: the channel is fine, this post is not.
    api.post("/api/v1/statuses").respond(403, json=payload("error_403_not_allowed.json"))
    error = failure(publish(provider))
    assert (error.kind, error.status) == (ErrorKind.PERMANENT, 403)


def test_a_file_too_large_for_the_server_is_permanent(api, provider):
    api.post("/api/v2/media").respond(
        413,
        text="<html><body><h1>413 Request Entity Too Large</h1></body></html>",
        headers={"Content-Type": "text/html"},
    )
    image = Media(data=b"x" * 100, mime_type="image/jpeg", alt_text="Foto banjir")
    error = failure(publish(provider, media=[image]))
    assert (error.kind, error.status) == (ErrorKind.PERMANENT, 413)
    assert "larger than this server accepts" in error.message
    assert "<html>" not in error.message


def test_a_text_over_the_servers_limit_is_permanent_with_its_reason(api, provider):
    api.post("/api/v1/statuses").respond(422, json=payload("error_422_too_long.json"))
    error = failure(publish(provider))
    assert (error.kind, error.status) == (ErrorKind.PERMANENT, 422)
    assert "Validation failed: Text character limit of 500 exceeded" in error.message


def test_a_rate_limit_with_retry_after_says_when_to_come_back(api, provider):
    api.get("/api/v1/notifications").respond(
        429, json=payload("error_429.json"), headers={"Retry-After": "120"}
    )
    error = failure(poll(provider))
    assert (error.kind, error.retry_after) == (ErrorKind.RATE_LIMITED, 120.0)


def test_a_rate_limit_with_only_mastodons_reset_time_says_when_to_come_back(
    api, provider, monkeypatch
):
    monkeypatch.setattr(answers, "_now", lambda: datetime(2026, 11, 1, 8, 0, 0, tzinfo=UTC))
    api.get("/api/v1/notifications").respond(
        429,
        json=payload("error_429.json"),
        headers={
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2026-11-01T08:04:30.157695Z",
        },
    )
    error = failure(poll(provider))
    assert error.kind == ErrorKind.RATE_LIMITED
    assert error.retry_after == pytest.approx(270.157695)


def test_a_rate_limit_without_any_hint_waits_a_minute(api, provider):
    api.get("/api/v1/notifications").respond(429, json=payload("error_429.json"))
    assert failure(poll(provider)).retry_after == 60.0


def test_a_storm_of_503s_is_transient_after_a_bounded_number_of_tries(api, provider):
    storm = api.get("/api/v1/notifications").respond(
        503, json={"error": "There was a temporary problem serving your request, please try again"}
    )
    error = failure(poll(provider))
    assert (error.kind, error.status) == (ErrorKind.TRANSIENT, 503)
    assert storm.call_count == 4


def test_a_503_then_success_is_absorbed(api, provider):
    api.get("/api/v1/notifications").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=[])]
    )
    api.get("/api/v1/conversations").respond(200, json=[])
    assert provider.fetch_inbound("")[0] == []


def test_a_timeout_is_transient(api, provider):
    api.get("/api/v1/notifications").mock(side_effect=httpx.ReadTimeout("timed out"))
    error = failure(poll(provider))
    assert error.kind == ErrorKind.TRANSIENT
    assert "timed out" in error.message


def test_an_answer_that_is_not_json_is_transient(api, provider):
    api.get("/api/v1/notifications").respond(
        200, text="<html><title>Maintenance</title></html>", headers={"Content-Type": "text/html"}
    )
    assert failure(poll(provider)).kind == ErrorKind.TRANSIENT


def test_a_truncated_json_answer_is_transient(api, provider):
    body = httpx.Response(200, json=payload("notifications.json")).content
    api.get("/api/v1/notifications").respond(
        200, content=body[: len(body) // 2], headers={"Content-Type": "application/json"}
    )
    assert failure(poll(provider)).kind == ErrorKind.TRANSIENT


def test_json_of_the_wrong_shape_is_permanent(api, provider):
    api.get("/api/v1/notifications").respond(200, json={"notifications": []})
    error = failure(poll(provider))
    assert error.kind == ErrorKind.PERMANENT and "expected list" in error.message


def test_a_renamed_field_in_the_created_status_is_a_clear_error(api, provider):
    status = payload("status_posted.json")
    status["status_id"] = status.pop("id")
    api.post("/api/v1/statuses").respond(200, json=status)
    error = failure(publish(provider))
    assert error.kind == ErrorKind.PERMANENT
    assert "“id”" in error.message


def test_a_renamed_field_in_the_account_is_a_clear_error(api, provider):
    account = payload("account_verify_credentials.json")
    account["user_name"] = account.pop("username")
    api.get("/api/v1/accounts/verify_credentials").respond(200, json=account)
    error = failure(provider.account_info)
    assert error.kind == ErrorKind.PERMANENT and "“username”" in error.message


def test_a_channel_without_a_token_asks_for_reconnection(api):
    provider = make_provider()
    provider.credentials = {}
    assert failure(poll(provider)).kind == ErrorKind.AUTH
    assert not api.calls


def test_a_reply_to_a_deleted_status_is_permanent(api, provider):
    api.post("/api/v1/statuses").respond(
        404, json={"error": "The post you are trying to reply to does not appear to exist."}
    )
    error = failure(publish(provider))
    assert error.kind == ErrorKind.PERMANENT and "does not appear to exist" in error.message
