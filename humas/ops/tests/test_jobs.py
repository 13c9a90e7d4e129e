from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from humas.ops.jobs import JOBS, ensure_jobs, prune_old_rows, register_job
from humas.ops.models import PeriodicJob, WorkerHeartbeat
from humas.ops.tests.conftest import JobCalls
from humas.ops.tests.tasks import echo

pytestmark = pytest.mark.django_db


def test_it_creates_a_row_per_registered_job_due_at_once(test_job: JobCalls) -> None:
    now = timezone.now()

    assert ensure_jobs(now=now) == len(JOBS)
    assert ensure_jobs(now=now) == 0

    job = PeriodicJob.objects.get(name=test_job.name)
    assert job.interval_seconds == 300
    assert job.next_run_at == now


def test_it_follows_an_interval_shortened_in_code(test_job: JobCalls) -> None:
    now = timezone.now()
    PeriodicJob.objects.create(
        name=test_job.name, interval_seconds=86400, next_run_at=now + timedelta(days=1)
    )

    ensure_jobs(now=now)

    job = PeriodicJob.objects.get(name=test_job.name)
    assert job.interval_seconds == 300
    assert job.next_run_at == now + timedelta(seconds=300)


def test_it_refuses_two_jobs_with_one_name() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_job("ops.prune", interval_seconds=60)
        def another_prune() -> None:
            pass

    assert JOBS["ops.prune"].func.__name__ == "prune"


@pytest.mark.usefixtures("db_tasks")
def test_it_prunes_old_finished_task_results_and_silent_heartbeats() -> None:
    now = timezone.now()
    old_done, old_failed, recent_done, old_waiting = (echo.enqueue(str(i)) for i in range(4))
    for result, status, finished in [
        (old_done, TaskResultStatus.SUCCESSFUL, now - timedelta(days=15)),
        (old_failed, TaskResultStatus.FAILED, now - timedelta(days=15)),
        (recent_done, TaskResultStatus.SUCCESSFUL, now - timedelta(days=13)),
    ]:
        DBTaskResult.objects.filter(pk=result.id).update(status=status, finished_at=finished)
    for worker_id, age in [("gone", timedelta(days=2)), ("here", timedelta(seconds=5))]:
        WorkerHeartbeat.objects.create(
            worker_id=worker_id,
            hostname="h",
            pid=1,
            started_at=now - age,
            last_seen=now - age,
        )

    assert prune_old_rows(now=now) == (2, 1)

    left = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert {str(pk) for pk in left} == {recent_done.id, old_waiting.id}
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["here"]
