"""``POST /l/<code>/conversion``: signed by the agency's server, counted once per id."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.test import Client

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.analytics import actions
from humas.analytics.models import Conversion, TrackedLink
from humas.analytics.tracking import sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(org) -> str:
    return actions.regenerate_conversion_secret(org, by=Actor.system("tests"))


def call(link: TrackedLink, secret: str, payload: dict, *, at: float | None = None, **headers):
    body = json.dumps(payload).encode()
    timestamp = str(int(at if at is not None else time.time()))
    headers.setdefault("HTTP_X_HUMAS_TIMESTAMP", timestamp)
    headers.setdefault("HTTP_X_HUMAS_SIGNATURE", "sha256=" + sign(secret, timestamp, body))
    # enforce_csrf_checks: the agency's server has no CSRF cookie, and must not need one.
    return Client(enforce_csrf_checks=True).post(
        f"/l/{link.code}/conversion", body, content_type="application/json", **headers
    )


def test_it_records_a_signed_conversion(link, secret):
    response = call(link, secret, {"id": "daftar-1021", "value": 150000, "label": "pendaftaran"})
    assert response.status_code == 201
    assert response.json() == {"status": "recorded"}
    conversion = Conversion.objects.get(link=link)
    assert (conversion.count, conversion.value, conversion.label, conversion.source) == (
        1,
        Decimal("150000.00"),
        "pendaftaran",
        "server",
    )
    # The caller's id is kept only as a hash.
    assert conversion.dedupe_key is not None
    assert "daftar-1021" not in conversion.dedupe_key


def test_a_replayed_id_is_counted_once(link, secret):
    assert call(link, secret, {"id": "daftar-1021"}).status_code == 201
    response = call(link, secret, {"id": "daftar-1021"})
    assert response.status_code == 200
    assert response.json() == {"status": "duplicate"}
    assert Conversion.objects.filter(link=link).count() == 1


def test_the_same_id_on_another_link_is_another_conversion(link, secret, campaign, mastodon):
    (other,) = actions.create_links(
        campaign, destination=campaign.link, channels=[mastodon], by=Actor.system("tests")
    )
    assert call(link, secret, {"id": "x"}).status_code == 201
    assert call(other, secret, {"id": "x"}).status_code == 201


def test_a_bad_signature_is_refused_with_a_clear_error(link, secret):
    response = call(link, secret, {"id": "1"}, HTTP_X_HUMAS_SIGNATURE="sha256=" + "0" * 64)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert not Conversion.objects.exists()


def test_a_body_changed_after_signing_is_refused(link, secret):
    timestamp = str(int(time.time()))
    signature = sign(secret, timestamp, b'{"count": 1}')
    response = Client().post(
        f"/l/{link.code}/conversion",
        b'{"count": 1000}',
        content_type="application/json",
        HTTP_X_HUMAS_TIMESTAMP=timestamp,
        HTTP_X_HUMAS_SIGNATURE=signature,
    )
    assert response.json()["error"] == "bad_signature"


def test_a_stale_timestamp_is_refused(link, secret):
    response = call(link, secret, {"id": "1"}, at=time.time() - 301)
    assert response.status_code == 401
    assert response.json()["error"] == "stale_timestamp"


def test_a_timestamp_from_the_future_is_refused(link, secret):
    assert call(link, secret, {}, at=time.time() + 600).json()["error"] == "stale_timestamp"


def test_a_missing_signature_is_refused(link, secret):
    response = Client().post(f"/l/{link.code}/conversion", b"{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"] == "missing_signature"


def test_the_secret_of_another_organisation_does_not_work(link, secret, other_org):
    other_secret = actions.regenerate_conversion_secret(other_org, by=Actor.system("tests"))
    assert call(link, other_secret, {"id": "1"}).json()["error"] == "bad_signature"


def test_a_regenerated_secret_replaces_the_old_one(link, secret, org, admin):
    new = actions.regenerate_conversion_secret(org, by=Actor(user=admin))
    assert call(link, secret, {"id": "1"}).status_code == 401
    assert call(link, new, {"id": "1"}).status_code == 201
    entry = (
        AuditEntry.objects.filter(action="analytics.conversion_secret.regenerated")
        .order_by("seq")
        .last()
    )
    assert entry is not None
    assert entry.actor == admin
    assert new not in json.dumps(entry.payload)


def test_without_a_secret_every_call_is_refused(link):
    response = call(link, "guess", {"id": "1"})
    assert response.status_code == 403
    assert response.json()["error"] == "no_secret"


def test_the_secret_is_stored_encrypted(org, secret):
    assert secret not in org.conversion_secret.secret_encrypted
    assert actions.conversion_secret(org.pk) == secret


@pytest.mark.parametrize(
    "payload",
    [{"count": 0}, {"count": "3"}, {"value": "banyak"}, {"label": "x" * 101}, {"id": ""}, []],
)
def test_a_malformed_body_is_a_400_after_the_signature(link, secret, payload):
    response = call(link, secret, payload)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_an_unknown_code_is_a_json_404(secret):
    response = Client().post("/l/tidakada/conversion", b"{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_link"


def test_a_get_is_refused_with_json(link):
    response = Client().get(f"/l/{link.code}/conversion")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_a_count_adds_several_conversions_at_once(link, secret):
    call(link, secret, {"id": "batch-1", "count": 3})
    assert Conversion.objects.get(link=link).count == 3
