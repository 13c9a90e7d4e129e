from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from humas.ops.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def heartbeat(age: timedelta, worker_id: str = "web-1-abcd") -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        hostname="secret-host.internal",
        pid=4242,
        started_at=now - timedelta(hours=1),
        last_seen=now - age,
    )


def get_health(client: Client) -> tuple[int, dict[str, Any], str]:
    response = client.get(reverse("ops:healthz"))
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, response.json(), response.content.decode()


def test_it_lives_at_slash_healthz() -> None:
    assert reverse("ops:healthz") == "/healthz"


def test_it_reports_degraded_without_any_worker(client: Client) -> None:
    status, body, _ = get_health(client)

    assert status == 503
    assert body == {
        "status": "degraded",
        "database": {"ok": True},
        "worker": {"ok": False, "last_seen": None, "age_seconds": None, "workers": 0},
    }


def test_it_reports_ok_with_a_fresh_heartbeat(client: Client) -> None:
    heartbeat(timedelta(seconds=3))
    heartbeat(timedelta(seconds=10), worker_id="web-2-ef01")

    status, body, text = get_health(client)

    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["worker"]["ok"] is True
    assert body["worker"]["workers"] == 2
    assert 2 <= body["worker"]["age_seconds"] < 60
    assert body["worker"]["last_seen"].startswith(str(timezone.now().year))
    assert "secret-host" not in text
    assert "web-1" not in text


def test_it_reports_degraded_when_the_only_heartbeat_is_stale(
    client: Client, settings: Any
) -> None:
    heartbeat(timedelta(seconds=settings.HUMAS_WORKER_STALE_SECONDS + 30))

    status, body, _ = get_health(client)

    assert status == 503
    assert body["status"] == "degraded"
    assert body["worker"]["ok"] is False
    assert body["worker"]["workers"] == 0
    assert body["worker"]["age_seconds"] >= settings.HUMAS_WORKER_STALE_SECONDS + 30


def test_it_reports_down_without_leaking_the_database_error(client: Client) -> None:
    error = OperationalError('connection to server at "10.1.2.3", port 5432 failed')
    with mock.patch.object(WorkerHeartbeat.objects, "aggregate", side_effect=error):
        status, body, text = get_health(client)

    assert status == 503
    assert body == {
        "status": "down",
        "database": {"ok": False, "error": "OperationalError"},
        "worker": {"ok": False, "last_seen": None, "age_seconds": None, "workers": 0},
    }
    assert "10.1.2.3" not in text


def test_it_needs_no_login_and_answers_head(client: Client) -> None:
    heartbeat(timedelta(seconds=1))

    assert client.head(reverse("ops:healthz")).status_code == 200
    assert client.post(reverse("ops:healthz")).status_code == 405
