from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from humas.ops.models import WorkerHeartbeat
from humas.ops.tests.tasks import echo
from humas.ops.worker import reap_stale_tasks

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_tasks")]


def running_task(*worker_ids: str, started: timedelta) -> DBTaskResult:
    result = echo.enqueue("halo")
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - started,
        worker_ids=list(worker_ids),
    )
    return DBTaskResult.objects.get(pk=result.id)


def heartbeat(worker_id: str, last_seen: datetime) -> None:
    WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        hostname="test",
        pid=1,
        started_at=last_seen - timedelta(hours=1),
        last_seen=last_seen,
    )


def test_it_puts_back_a_task_whose_worker_died() -> None:
    task = running_task("dead-worker", started=timedelta(minutes=10))
    heartbeat("dead-worker", timezone.now() - timedelta(minutes=9))

    assert reap_stale_tasks() == (1, 0)

    task.refresh_from_db()
    assert task.status == TaskResultStatus.READY
    assert task.started_at is None
    assert task.worker_ids == ["dead-worker"]


def test_it_puts_back_a_task_whose_worker_left_no_heartbeat_at_all() -> None:
    task = running_task("never-seen", started=timedelta(minutes=10))

    assert reap_stale_tasks() == (1, 0)

    task.refresh_from_db()
    assert task.status == TaskResultStatus.READY


def test_it_fails_a_task_that_lost_its_worker_three_times() -> None:
    task = running_task("first", "second", "third", started=timedelta(minutes=10))

    assert reap_stale_tasks() == (0, 1)

    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED
    assert task.finished_at is not None
    assert task.exception_class_path == "humas.ops.worker.WorkerLost"
    assert "stopped sending heartbeats" in task.traceback
    assert "third" in task.traceback
    (error,) = echo.get_result(str(task.pk)).errors
    assert error.exception_class.__name__ == "WorkerLost"


def test_it_leaves_alone_a_task_whose_worker_is_alive() -> None:
    task = running_task("busy-worker", started=timedelta(hours=2))
    heartbeat("busy-worker", timezone.now() - timedelta(seconds=5))

    assert reap_stale_tasks() == (0, 0)

    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING


def test_it_leaves_alone_a_task_started_too_recently_to_judge() -> None:
    task = running_task("new-worker", started=timedelta(seconds=5))

    assert reap_stale_tasks() == (0, 0)

    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING


def test_it_judges_only_the_latest_worker_of_a_retried_task() -> None:
    task = running_task("died-earlier", "alive-now", started=timedelta(minutes=10))
    heartbeat("alive-now", timezone.now())

    assert reap_stale_tasks() == (0, 0)

    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING
