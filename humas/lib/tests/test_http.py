import httpx
import pytest
import respx

from humas.lib.http import (
    MAX_RESPONSE_BYTES,
    HttpClient,
    HttpFailure,
    ResponseTooLarge,
    parse_retry_after,
)

BASE = "https://api.example.test"


@pytest.fixture
def naps():
    return []


@pytest.fixture
def client(naps):
    with HttpClient(key="test-channel", base_url=BASE, sleep=naps.append, per_second=1000) as c:
        yield c


@respx.mock
def test_a_503_storm_is_retried_a_bounded_number_of_times_with_growing_jittered_pauses(
    client, naps
):
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(503))
    response = client.get("/x")
    assert response.status_code == 503
    assert route.call_count == client.max_attempts
    assert len(naps) == client.max_attempts - 1
    assert all(0 <= n <= client.max_wait for n in naps)


@respx.mock
def test_a_server_that_recovers_is_answered_by_the_retry(client):
    respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={"ok": 1})]
    )
    assert client.get("/x").json() == {"ok": 1}


@respx.mock
def test_retry_after_on_429_is_honoured(client, naps):
    respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)]
    )
    assert client.get("/x").status_code == 200
    assert naps == [7.0]


@respx.mock
def test_a_429_asking_for_too_long_a_wait_is_handed_back(client, naps):
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    response = client.get("/x")
    assert response.status_code == 429
    assert naps == []


@respx.mock
def test_a_429_without_retry_after_is_handed_back_to_the_caller(client):
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429))
    assert client.get("/x").status_code == 429


@respx.mock
def test_a_post_is_not_retried_after_a_timeout_since_it_may_have_landed(client):
    route = respx.post(f"{BASE}/statuses").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(HttpFailure, match="timed out"):
        client.post("/statuses", json={"status": "halo"})
    assert route.call_count == 1


@respx.mock
def test_a_post_is_retried_when_the_connection_was_never_made(client):
    route = respx.post(f"{BASE}/statuses").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200)]
    )
    assert client.post("/statuses").status_code == 200
    assert route.call_count == 2


@respx.mock
def test_a_get_that_keeps_timing_out_gives_up_with_a_clear_error(client):
    respx.get(f"{BASE}/x").mock(side_effect=httpx.ConnectTimeout("no answer"))
    with pytest.raises(HttpFailure, match="gave up after 4 attempts"):
        client.get("/x")


@respx.mock
def test_a_huge_response_is_cut_off(client):
    respx.get(f"{BASE}/big").mock(
        return_value=httpx.Response(200, content=b"x" * (MAX_RESPONSE_BYTES + 1))
    )
    with pytest.raises(ResponseTooLarge):
        client.get("/big")


@respx.mock
def test_4xx_answers_are_returned_unretried_for_the_provider_to_interpret(client):
    route = respx.get(f"{BASE}/x").mock(
        return_value=httpx.Response(401, json={"error": "invalid token"})
    )
    assert client.get("/x").status_code == 401
    assert route.call_count == 1


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_the_rate_limit_makes_callers_wait_once_the_burst_is_spent(naps):
    with HttpClient(
        key="slow-channel",
        sleep=naps.append,
        per_second=1.0,
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
    ) as c:
        for _ in range(7):
            c.get("https://api.example.test/x")
    assert len([n for n in naps if n > 0]) >= 2
