"""Counting favourites, boosts and replies; followers."""

from __future__ import annotations

import httpx
import pytest

from humas.channels.providers.base import AccountMetrics, ErrorKind, PostMetrics, ProviderError

from .conftest import payload


def test_post_counts_come_from_one_lookup_of_many_statuses(api, provider):
    lookup = api.get("/api/v1/statuses").respond(200, json=payload("statuses_lookup.json"))
    found = provider.fetch_post_metrics(["113452960000000001", "113452960000000002", "999"])
    assert lookup.calls.last.request.url.params.get_list("id[]") == [
        "113452960000000001",
        "113452960000000002",
        "999",
    ]
    assert found == {
        "113452960000000001": PostMetrics(
            "113452960000000001", likes=42, reposts=17, replies=4, quotes=None
        ),
        "113452960000000002": PostMetrics(
            "113452960000000002", likes=9, reposts=3, replies=1, quotes=None
        ),
    }, "a deleted status is simply absent; no quotes_count before Mastodon 4.5: not provided"


def test_the_lookup_asks_twenty_ids_at_a_time(api, provider):
    lookup = api.get("/api/v1/statuses").respond(200, json=[])
    provider.fetch_post_metrics([str(n) for n in range(45)])
    assert [len(c.request.url.params.get_list("id[]")) for c in lookup.calls] == [20, 20, 5]


def test_servers_before_4_3_are_asked_status_by_status(api, provider):
    api.get("/api/v1/statuses").respond(404, json=payload("error_404.json"))
    statuses = payload("statuses_lookup.json")
    first = api.get("/api/v1/statuses/113452960000000001").respond(200, json=statuses[0])
    gone = api.get("/api/v1/statuses/113452960000000009").respond(
        404, json=payload("error_404.json")
    )
    found = provider.fetch_post_metrics(["113452960000000001", "113452960000000009"])
    assert first.called and gone.called
    assert list(found) == ["113452960000000001"]
    assert found["113452960000000001"].likes == 42


def test_quote_counts_are_used_where_the_server_has_them(api, provider):
    status = payload("statuses_lookup.json")[0]
    status["quotes_count"] = 2
    api.get("/api/v1/statuses").respond(200, json=[status])
    assert provider.fetch_post_metrics([status["id"]])[status["id"]].quotes == 2


def test_a_renamed_count_is_a_clear_error_not_a_zero(api, provider):
    status = payload("statuses_lookup.json")[0]
    status["likes_count"] = status.pop("favourites_count")
    api.get("/api/v1/statuses").respond(200, json=[status])
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics([status["id"]])
    assert caught.value.kind == ErrorKind.PERMANENT
    assert "favourites_count" in caught.value.message


def test_account_counts_come_from_verify_credentials(api, provider):
    api.get("/api/v1/accounts/verify_credentials").respond(
        200, json=payload("account_verify_credentials.json")
    )
    assert provider.fetch_account_metrics() == AccountMetrics(
        followers=12840, following=57, posts=1893
    )


def test_no_ids_means_no_request(api, provider):
    assert provider.fetch_post_metrics([]) == {}
    assert not api.calls


def test_a_timeout_while_counting_is_transient(api, provider):
    api.get("/api/v1/statuses").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(ProviderError) as caught:
        provider.fetch_post_metrics(["1"])
    assert caught.value.kind == ErrorKind.TRANSIENT
