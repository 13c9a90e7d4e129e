from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Count, Max, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from humas.ops.models import WorkerHeartbeat
from humas.ops.worker import stale_cutoff

logger = logging.getLogger(__name__)


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and monitors: 200 only if the database and a worker answer.

    Public by design, so it says nothing a stranger could use: no host names, no worker ids,
    no database error text (that can hold the server's address); those go to the log.
    """
    now = timezone.now()
    database: dict[str, Any] = {"ok": True}
    worker: dict[str, Any] = {"ok": False, "last_seen": None, "age_seconds": None, "workers": 0}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        seen = WorkerHeartbeat.objects.aggregate(
            newest=Max("last_seen"),
            alive=Count("pk", filter=Q(last_seen__gte=stale_cutoff(now))),
        )
    except DatabaseError as exc:
        logger.warning("healthz: the database did not answer: %s", exc)
        database = {"ok": False, "error": type(exc).__name__}
    else:
        last_seen = seen["newest"]
        worker["workers"] = seen["alive"]
        worker["ok"] = seen["alive"] > 0
        if last_seen is not None:
            worker["last_seen"] = last_seen.isoformat()
            worker["age_seconds"] = round(max(0.0, (now - last_seen).total_seconds()), 1)

    if not database["ok"]:
        status = "down"
    elif not worker["ok"]:
        status = "degraded"
    else:
        status = "ok"
    response = JsonResponse(
        {"status": status, "database": database, "worker": worker},
        status=200 if status == "ok" else 503,
    )
    response["Cache-Control"] = "no-store"
    # A 503 here is the answer a monitor asked for, not a server error: keep it out of the
    # django.request error log, which a monitor polling every few seconds would flood.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
