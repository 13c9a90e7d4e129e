from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks import TaskResultStatus

from humas.ops.models import PeriodicJob, WorkerHeartbeat
from humas.ops.tests.conftest import JobCalls
from humas.ops.tests.tasks import echo, explode
from humas.ops.worker import new_worker_id

# The worker closes and reopens connections between steps, as a long-running process must;
# that only works outside the transaction an ordinary database test is wrapped in.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("db_tasks")]


def run_worker_once(worker_id: str = "test-worker") -> None:
    call_command("worker", "--once", "--worker-id", worker_id)


def test_it_runs_a_queued_task_and_writes_its_heartbeat() -> None:
    result = echo.enqueue("halo")

    run_worker_once()

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "halo"
    assert result.worker_ids == ["test-worker"]
    heartbeat = WorkerHeartbeat.objects.get(worker_id="test-worker")
    assert timezone.now() - heartbeat.last_seen < timedelta(minutes=1)


def test_it_records_a_failing_task_and_runs_the_next_one() -> None:
    failing = explode.enqueue()
    fine = echo.enqueue("tetap jalan")

    run_worker_once()

    failing.refresh()
    fine.refresh()
    assert failing.status == TaskResultStatus.FAILED
    assert fine.status == TaskResultStatus.SUCCESSFUL


def test_it_runs_a_due_periodic_job_and_schedules_the_next_run(test_job: JobCalls) -> None:
    run_worker_once()

    assert test_job.count == 1
    job = PeriodicJob.objects.get(name=test_job.name)
    assert job.run_count == 1
    assert job.last_error == ""
    assert job.last_started_at is not None
    assert job.last_finished_at is not None
    assert job.next_run_at > timezone.now() + timedelta(seconds=200)
    assert (job.claimed_by, job.claimed_until) == ("", None)


def test_it_does_not_run_a_periodic_job_before_it_is_due(test_job: JobCalls) -> None:
    PeriodicJob.objects.create(
        name=test_job.name,
        interval_seconds=300,
        next_run_at=timezone.now() + timedelta(minutes=3),
    )

    run_worker_once()

    assert test_job.count == 0


def test_it_records_a_failing_job_and_keeps_working(test_job: JobCalls) -> None:
    test_job.error = RuntimeError("the feed answered 502")
    result = echo.enqueue("after the failure")

    run_worker_once()

    job = PeriodicJob.objects.get(name=test_job.name)
    assert "RuntimeError: the feed answered 502" in job.last_error
    assert job.run_count == 1
    assert job.next_run_at > timezone.now() + timedelta(seconds=200)
    assert job.claimed_by == ""
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_it_clears_the_last_error_once_a_job_succeeds(test_job: JobCalls) -> None:
    PeriodicJob.objects.create(
        name=test_job.name,
        interval_seconds=300,
        next_run_at=timezone.now(),
        last_error="Traceback: an old failure",
    )

    run_worker_once()

    assert PeriodicJob.objects.get(name=test_job.name).last_error == ""


def test_it_registers_the_built_in_jobs() -> None:
    run_worker_once()

    assert PeriodicJob.objects.filter(name="ops.prune", run_count=1).exists()


def test_it_refuses_a_worker_id_longer_than_the_column() -> None:
    with pytest.raises(CommandError, match="worker id"):
        call_command("worker", "--once", "--worker-id", "w" * 65)


def test_it_makes_up_a_unique_worker_id_that_fits() -> None:
    first, second = new_worker_id(), new_worker_id()

    assert first != second
    assert 0 < len(first) <= 64


def test_a_drain_thread_in_a_long_round_has_its_leases_kept_and_an_idle_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from humas.ops import jobs, worker

    in_round = threading.Event()
    finish_round = threading.Event()
    kept: list[list[str]] = []

    def slow_round(worker_id: str) -> int:
        if finish_round.is_set():
            return 0  # idle from now on
        in_round.set()
        finish_round.wait(5)
        return 1

    drain = jobs.Drain(
        "test.slow", slow_round, lambda: 1, idle_seconds=0.05, keep=kept.append, keep_seconds=0.02
    )
    monkeypatch.setattr(jobs, "DRAINS", {"test.slow": drain})
    monkeypatch.setattr(worker, "DRAINS", {"test.slow": drain})
    loop = worker.WorkerLoop(worker_id="keeper-test", interval=0.05)
    runner = threading.Thread(target=loop.run)
    runner.start()
    try:
        assert in_round.wait(5)
        _wait_until(lambda: len(kept) >= 3)
        assert kept[-1] == ["keeper-test-0"]
        finish_round.set()
        time.sleep(0.3)  # the round ends; the thread idles
        calls = len(kept)
        time.sleep(0.3)
        assert len(kept) == calls  # nothing held, nothing kept
    finally:
        finish_round.set()
        loop.stop()
        runner.join(10)


def test_a_round_stuck_for_too_long_has_its_leases_left_to_lapse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from humas.ops import jobs, worker

    drain = jobs.Drain("test.stuck", lambda w: 0, lambda: 1, idle_seconds=1.0, keep=print)
    loop = worker.WorkerLoop(worker_id="keeper-test")
    fresh, stuck = worker._DrainThread(loop, drain, 0), worker._DrainThread(loop, drain, 1)
    fresh.round_started = time.monotonic() - 5
    stuck.round_started = time.monotonic() - worker.MAX_KEPT_ROUND_SECONDS - 1
    keeper = worker._KeeperThread(loop, drain, [fresh, stuck])

    assert keeper.holders() == ["keeper-test-0"]


def _wait_until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
