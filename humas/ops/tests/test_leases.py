from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from humas.lib.leases import claim, release, renew
from humas.ops.models import PeriodicJob

pytestmark = pytest.mark.django_db

LEASE = timedelta(minutes=5)


def make_jobs(count: int, *, due_in: timedelta = timedelta(0)) -> list[PeriodicJob]:
    now = timezone.now()
    return [
        PeriodicJob.objects.create(
            name=f"tests.job_{i:03}",
            interval_seconds=60,
            next_run_at=now + due_in + timedelta(milliseconds=i),
        )
        for i in range(count)
    ]


def test_it_claims_a_free_row_for_the_worker() -> None:
    (job,) = make_jobs(1)

    (claimed,) = claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE)

    assert claimed.pk == job.pk
    assert claimed.claimed_by == "alpha"
    assert claimed.claimed_until is not None
    assert claimed.claimed_until > timezone.now() + LEASE - timedelta(minutes=1)


def test_it_does_not_claim_a_row_again_while_its_lease_holds() -> None:
    make_jobs(1)
    now = timezone.now()
    claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE, now=now)

    assert claim(PeriodicJob.objects.all(), worker_id="beta", lease=LEASE, now=now) == []
    later = now + LEASE - timedelta(seconds=1)
    assert claim(PeriodicJob.objects.all(), worker_id="beta", lease=LEASE, now=later) == []
    assert PeriodicJob.objects.get().claimed_by == "alpha"


def test_it_hands_a_lapsed_lease_to_another_worker() -> None:
    make_jobs(1)
    now = timezone.now()
    claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE, now=now)

    after_lapse = now + LEASE + timedelta(seconds=1)
    (claimed,) = claim(PeriodicJob.objects.all(), worker_id="beta", lease=LEASE, now=after_lapse)

    assert claimed.claimed_by == "beta"
    assert claimed.claimed_until == after_lapse + LEASE


def test_it_takes_no_more_rows_than_the_limit() -> None:
    make_jobs(7)

    first = claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE, limit=3)
    second = claim(PeriodicJob.objects.all(), worker_id="beta", lease=LEASE, limit=3)
    third = claim(PeriodicJob.objects.all(), worker_id="gamma", lease=LEASE, limit=3)

    assert [len(first), len(second), len(third)] == [3, 3, 1]
    pks = {job.pk for job in [*first, *second, *third]}
    assert len(pks) == 7


def test_it_takes_due_rows_oldest_first_and_leaves_the_rest() -> None:
    due = make_jobs(3, due_in=timedelta(minutes=-10))
    later = PeriodicJob.objects.create(
        name="tests.later", interval_seconds=60, next_run_at=timezone.now() + timedelta(hours=1)
    )

    claimed = claim(
        PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE, limit=10, due_field="next_run_at"
    )

    assert [job.pk for job in claimed] == [job.pk for job in due]
    later.refresh_from_db()
    assert later.claimed_by == ""


def test_it_keeps_the_callers_filters() -> None:
    make_jobs(3)

    claimed = claim(
        PeriodicJob.objects.filter(name="tests.job_001"), worker_id="alpha", lease=LEASE, limit=5
    )

    assert [job.name for job in claimed] == ["tests.job_001"]


def test_it_renews_the_lease_only_for_its_holder() -> None:
    make_jobs(1)
    now = timezone.now()
    (job,) = claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE, now=now)

    assert renew(job, "beta", timedelta(hours=1), now=now) is False
    assert renew(job, "alpha", timedelta(hours=1), now=now) is True

    job.refresh_from_db()
    assert job.claimed_by == "alpha"
    assert job.claimed_until == now + timedelta(hours=1)


def test_it_does_not_renew_a_lease_another_worker_has_taken_over() -> None:
    make_jobs(1)
    now = timezone.now()
    (held_by_alpha,) = claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE, now=now)
    claim(PeriodicJob.objects.all(), worker_id="beta", lease=LEASE, now=now + 2 * LEASE)

    assert renew(held_by_alpha, "alpha", LEASE, now=now + 2 * LEASE) is False
    assert release(held_by_alpha, "alpha", last_error="stale") is False
    assert PeriodicJob.objects.get().claimed_by == "beta"
    assert PeriodicJob.objects.get().last_error == ""


def test_it_releases_only_for_the_holder_and_writes_the_outcome_with_it() -> None:
    make_jobs(1)
    (job,) = claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE)
    next_run = timezone.now() + timedelta(hours=2)

    assert release(job, "beta", next_run_at=next_run) is False
    assert release(job, "alpha", next_run_at=next_run, run_count=F("run_count") + 1) is True

    job.refresh_from_db()
    assert (job.claimed_by, job.claimed_until) == ("", None)
    assert job.next_run_at == next_run
    assert job.run_count == 1
    due: dict[str, Any] = {"worker_id": "beta", "lease": LEASE, "due_field": "next_run_at"}
    assert claim(PeriodicJob.objects.all(), **due) == []
    assert len(claim(PeriodicJob.objects.all(), **due, now=next_run)) == 1


def test_it_refuses_a_worker_id_that_does_not_fit_the_column() -> None:
    with pytest.raises(ValueError, match="worker_id"):
        claim(PeriodicJob.objects.all(), worker_id="x" * 65, lease=LEASE)
    with pytest.raises(ValueError, match="worker_id"):
        claim(PeriodicJob.objects.all(), worker_id="", lease=LEASE)
