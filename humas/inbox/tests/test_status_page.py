"""The public status page: a citizen types a tracking number and sees how the report stands,
with no personal data, the same answer for malformed and unknown numbers, and a limit on
guessing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape

from humas.accounts.audit import Actor
from humas.inbox import cases, views

pytestmark = pytest.mark.django_db

URL = reverse("inbox:status")


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def case(say, responder, unit):
    conversation = say(
        "Saya Budi Santoso, NIK 3273015108900001, jalan depan rumah rusak", author="budisantoso"
    )
    case = cases.open_case(conversation, by=Actor(user=responder))
    cases.forward_case(
        case,
        unit,
        by=Actor(user=responder),
        public_note="Laporan diteruskan ke <b>Dinas</b>.",
        internal_note="RAHASIA internal",
    )
    return case


def test_it_needs_no_login_and_shows_the_status_unit_dates_and_public_notes(client, case):
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"number": case.tracking_number.lower().replace("-", " ")})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="status-result"' in body
    assert case.tracking_number in body
    assert "Forwarded" in body
    assert "Dinas Kesehatan" in body
    assert "Laporan diteruskan ke &lt;b&gt;Dinas&lt;/b&gt;." in body


def test_it_shows_no_personal_data_and_no_internal_notes(client, case):
    body = client.post(URL, {"number": case.tracking_number}).content.decode()
    for secret in ("Budi", "budisantoso", "3273015108900001", "jalan depan rumah", "RAHASIA"):
        assert secret not in body, secret
    assert "responder@satu.go.id" not in body


def test_malformed_and_unknown_numbers_get_the_same_answer(client, case):
    def answer(number):
        response = client.post(URL, {"number": number})
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
        # The form echoes what was typed (escaped); the rest of the page must not differ.
        return response.status_code, body.replace(f'value="{escape(number)}"', "")

    unknown = answer("LPR-2026-ZZZZ-ZZZZ")
    assert 'data-testid="status-not-found"' in unknown[1]
    for number in ("hello", "LPR-2026", "<script>alert(1)</script>", "x" * 60):
        assert answer(number) == unknown, number


def test_guessing_is_rate_limited_per_address(client, case):
    for _ in range(views.STATUS_LOOKUPS):
        client.post(URL, {"number": "LPR-2026-ZZZZ-ZZZZ"})
    response = client.post(URL, {"number": case.tracking_number})
    assert response.status_code == 429
    assert case.tracking_number not in response.content.decode().split("status-limited")[1]
    other = client.post(URL, {"number": case.tracking_number}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


def test_the_page_passes_the_content_security_policy(client):
    response = client.get(URL)
    assert "script-src" in response["Content-Security-Policy"]
    template = Path(views.__file__).parent / "templates" / "inbox" / "status.html"
    source = template.read_text()
    assert "<script" not in source
    assert "style=" not in source and "<style" not in source
