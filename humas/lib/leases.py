"""Claiming rows with a lease, so that any number of workers can share one table of work.

A row that some worker is busy with carries ``claimed_by`` (the worker's id) and
``claimed_until`` (when the lease runs out). Workers only take rows whose lease is empty or
has run out, so a worker that dies mid-job loses its rows after ``lease`` and another worker
picks them up. Work done under a lease must therefore be safe to start again: check whether
the effect already happened (a post already published, a poll already stored) before acting.

The contract every caller relies on:

- :func:`claim` never hands the same row to two workers while a lease holds, on PostgreSQL
  (row locks with ``SKIP LOCKED``, so workers do not queue behind each other) and on SQLite
  (a single writer, and a compare-and-set on the old lease).
- :func:`renew` and :func:`release` change a row only while ``worker_id`` still holds it, so a
  worker that lost its lease cannot trample the new holder's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import connections, models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

M = TypeVar("M", bound=models.Model)

WORKER_ID_MAX_LENGTH = 64


class Leased(models.Model):
    """Adds the two lease fields used by :func:`claim`, :func:`renew` and :func:`release`."""

    claimed_by = models.CharField(max_length=WORKER_ID_MAX_LENGTH, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


def claim(
    queryset: QuerySet[M],
    *,
    worker_id: str,
    lease: timedelta,
    limit: int = 1,
    due_field: str | None = None,
    now: datetime | None = None,
    related: Sequence[str] = (),
) -> list[M]:
    """Take up to ``limit`` rows of ``queryset`` for ``worker_id`` and return them.

    ``queryset`` holds the rows the caller considers to be work (its own filters stay in
    force); of those, only rows with no lease or a lapsed one are taken. With ``due_field``
    (a datetime field such as ``"next_run_at"``), rows must also be due by ``now`` and the
    oldest are taken first. Each returned instance is freshly read (with ``related`` loaded
    through ``select_related``), with ``claimed_by == worker_id`` and
    ``claimed_until == now + lease``.
    """
    if not worker_id or len(worker_id) > WORKER_ID_MAX_LENGTH:
        raise ValueError(f"worker_id must be 1 to {WORKER_ID_MAX_LENGTH} characters")
    if limit < 1:
        return []
    now = now or timezone.now()
    until = now + lease
    alias = queryset.db
    model = queryset.model
    manager = model._default_manager.using(alias)

    candidates = queryset.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    if due_field:
        candidates = candidates.filter(**{f"{due_field}__lte": now}).order_by(due_field, "pk")
    elif not candidates.query.order_by and not model._meta.ordering:
        candidates = candidates.order_by("pk")

    features = connections[alias].features
    with transaction.atomic(using=alias):
        if features.has_select_for_update_skip_locked:
            # "of self": a caller's queryset may join other tables (a delivery's channel);
            # those rows must not be locked, and Postgres refuses to lock a nullable join.
            of = ("self",) if features.has_select_for_update_of else ()
            candidates = candidates.select_for_update(skip_locked=True, of=of)
        seen = list(candidates.values_list("pk", flat=True)[:limit])
        if not seen:
            return []
        # One UPDATE for the lot, repeating the lease condition: SQLite has no row locks, and
        # on any backend this keeps a row from being taken twice if the locking above is ever
        # weakened (a replica, a different isolation level). A row another worker claimed
        # since it was read now has a lease in the future, and is left alone.
        manager.filter(pk__in=seen).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        ).update(claimed_by=worker_id, claimed_until=until)
    by_pk = manager.select_related(*related).in_bulk(seen)
    return [
        by_pk[pk]
        for pk in seen
        if pk in by_pk
        and by_pk[pk].claimed_by == worker_id  # type: ignore[attr-defined]
        and by_pk[pk].claimed_until == until  # type: ignore[attr-defined]
    ]


def renew(
    obj: models.Model, worker_id: str, lease: timedelta, *, now: datetime | None = None
) -> bool:
    """Extend ``obj``'s lease to ``now + lease`` if ``worker_id`` still holds it.

    A lease that ran out but that nobody has taken since is still renewed: no other worker
    can have started on the row, since claiming it would have replaced ``claimed_by``.
    """
    until = (now or timezone.now()) + lease
    updated = (
        type(obj)
        ._default_manager.using(obj._state.db)
        .filter(pk=obj.pk, claimed_by=worker_id, claimed_until__isnull=False)
        .update(claimed_until=until)
    )
    if updated:
        obj.claimed_until = until  # type: ignore[attr-defined]
    return bool(updated)


def release(obj: models.Model, worker_id: str, **changes: Any) -> bool:
    """Clear ``obj``'s lease if ``worker_id`` holds it, writing ``changes`` in the same update.

    Passing the outcome of the work here (``next_run_at=…``, ``status=…``) means a worker
    that lost its lease cannot overwrite what the new holder records. ``changes`` may hold
    expressions (``F("run_count") + 1``); those are not copied onto ``obj``.
    """
    updated = (
        type(obj)
        ._default_manager.using(obj._state.db)
        .filter(pk=obj.pk, claimed_by=worker_id)
        .update(claimed_by="", claimed_until=None, **changes)
    )
    if updated:
        obj.claimed_by = ""  # type: ignore[attr-defined]
        obj.claimed_until = None  # type: ignore[attr-defined]
        for name, value in changes.items():
            if not hasattr(value, "resolve_expression"):
                setattr(obj, name, value)
    return bool(updated)
