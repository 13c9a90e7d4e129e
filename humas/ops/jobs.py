"""Periodic jobs: recurring work declared in code, scheduled by rows in ``PeriodicJob``.

An app declares a job in its own ``jobs.py``::

    from humas.ops.jobs import register_job

    @register_job("inbox.poll_channels", interval_seconds=60)
    def poll_channels() -> None:
        ...

``humas worker`` imports every ``humas.<app>.jobs`` module at start, creates the missing rows
(:func:`ensure_jobs`) and runs each job when it is due, on exactly one worker at a time. A job
runs again ``interval_seconds`` after its previous run finished. It must finish within its
lease (``lease_seconds``, 10 minutes unless given) or call
:func:`humas.lib.leases.renew` on its row; otherwise another worker may start it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any, TypeVar

from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from humas.ops.models import PeriodicJob, WorkerHeartbeat

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[[], Any])

DEFAULT_LEASE = timedelta(minutes=10)
TASK_RESULT_RETENTION = timedelta(days=14)
HEARTBEAT_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Job:
    name: str
    interval: timedelta
    lease: timedelta
    func: Callable[[], Any]


JOBS: dict[str, Job] = {}


@dataclass(frozen=True)
class Drain:
    """Work that cannot wait for a job's interval (deliveries due this second).

    ``func(worker_id)`` does one round (claiming its rows with leases) and returns how much it
    did. ``humas worker`` runs it in ``threads()`` threads, each calling again at once while
    there was work and after ``idle_seconds`` when there was none.

    ``keep(worker_ids)``, if given, extends the leases of the rows those threads hold; the
    worker calls it every ``keep_seconds`` for its threads that are in a round. A drain can
    then use a lease of a few seconds, so rows held by a killed worker come back that soon,
    while a slow round in a live worker never loses its rows.
    """

    name: str
    func: Callable[[str], int]
    threads: Callable[[], int]
    idle_seconds: float
    keep: Callable[[list[str]], None] | None = None
    keep_seconds: float = 2.0


DRAINS: dict[str, Drain] = {}


def register_drain(
    name: str,
    *,
    threads: Callable[[], int],
    idle_seconds: float = 1.0,
    keep: Callable[[list[str]], None] | None = None,
    keep_seconds: float = 2.0,
) -> Callable[[Callable[[str], int]], Callable[[str], int]]:
    def decorator(func: Callable[[str], int]) -> Callable[[str], int]:
        DRAINS[name] = Drain(name, func, threads, idle_seconds, keep, keep_seconds)
        return func

    return decorator


def register_job(
    name: str, interval_seconds: int, *, lease_seconds: int | None = None
) -> Callable[[F], F]:
    """Declare the decorated function (no arguments) as the periodic job ``name``."""
    if interval_seconds < 1:
        raise ValueError("interval_seconds must be at least 1")

    def decorator(func: F) -> F:
        existing = JOBS.get(name)
        if existing is not None and _path(existing.func) != _path(func):
            raise ValueError(f"periodic job {name!r} is already registered")
        lease = timedelta(seconds=lease_seconds) if lease_seconds else DEFAULT_LEASE
        JOBS[name] = Job(name, timedelta(seconds=interval_seconds), lease, func)
        return func

    return decorator


def _path(func: Callable[[], Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def discover_jobs() -> None:
    """Import ``jobs`` from each humas app so that their ``register_job`` calls run.

    Limited to our own apps: a third-party app may well have an unrelated ``jobs`` module.
    """
    for config in apps.get_app_configs():
        if config.name.startswith("humas.") and module_has_submodule(config.module, "jobs"):
            import_module(f"{config.name}.jobs")


def ensure_jobs(now: datetime | None = None) -> int:
    """Create a row for every registered job that lacks one; return how many were made.

    New jobs are due at once. A job whose interval changed in code gets the new interval,
    and, if that is shorter, an earlier next run.
    """
    now = now or timezone.now()
    rows = {job.name: job for job in PeriodicJob.objects.filter(name__in=list(JOBS))}
    created = 0
    for name, spec in JOBS.items():
        interval_seconds = int(spec.interval.total_seconds())
        row = rows.get(name)
        if row is None:
            try:
                # Several workers start together; the loser of the race simply moves on.
                with transaction.atomic():
                    PeriodicJob.objects.create(
                        name=name, interval_seconds=interval_seconds, next_run_at=now
                    )
                created += 1
            except IntegrityError:
                pass
        elif row.interval_seconds != interval_seconds:
            row.interval_seconds = interval_seconds
            row.next_run_at = min(row.next_run_at, now + spec.interval)
            row.save(update_fields=["interval_seconds", "next_run_at"])
    return created


@register_job("ops.prune", interval_seconds=3600)
def prune() -> None:
    """Delete finished task results older than two weeks and heartbeats silent for a day.

    django-tasks-db keeps every result forever; without this the table grows by one row
    per task, and the heartbeat table by one row per worker start.
    """
    prune_old_rows()


def prune_old_rows(now: datetime | None = None) -> tuple[int, int]:
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    results, _ = (
        DBTaskResult.objects.finished().filter(finished_at__lt=now - TASK_RESULT_RETENTION).delete()
    )
    heartbeats, _ = WorkerHeartbeat.objects.filter(last_seen__lt=now - HEARTBEAT_RETENTION).delete()
    if results or heartbeats:
        logger.info("pruned %d task results and %d worker heartbeats", results, heartbeats)
    return results, heartbeats
