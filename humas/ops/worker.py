"""The ``humas worker`` loop.

Each tick, in this order:

1. write this worker's heartbeat (``WorkerHeartbeat``);
2. every few seconds, reap tasks left RUNNING by workers that stopped beating
   (:func:`reap_stale_tasks`);
3. run the periodic jobs that are due, each claimed with a lease (:func:`run_due_jobs`);
4. run ready django-tasks with django-tasks-db's own worker, in batch mode, so queue
   handling, priorities and ``run_after`` stay exactly as that package defines them.

A failure in one step is logged and the loop goes on: a worker that crashes on a bad row
stops every other piece of background work with it.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connections, transaction
from django.db.models import F
from django.utils import timezone

from humas.lib.leases import WORKER_ID_MAX_LENGTH, claim, release, renew
from humas.ops.jobs import DEFAULT_LEASE, DRAINS, JOBS, Drain, discover_jobs, ensure_jobs
from humas.ops.models import PeriodicJob, WorkerHeartbeat

if TYPE_CHECKING:
    from django_tasks_db.management.commands.db_worker import Worker

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A task is started at most this many times; a worker dying on it every time suggests the
# task itself kills workers (memory, a native crash), so it is not tried again.
MAX_TASK_ATTEMPTS = 3
REAP_EVERY_SECONDS = 10.0
LAST_ERROR_MAX_CHARS = 20_000


class WorkerLost(Exception):
    """The worker running a task stopped sending heartbeats before the task finished."""


def new_worker_id() -> str:
    host = socket.gethostname().split(".")[0][:40] or "worker"
    worker_id = f"{host}-{os.getpid()}-{secrets.token_hex(4)}"
    return worker_id[:WORKER_ID_MAX_LENGTH]


def stale_cutoff(now: datetime | None = None) -> datetime:
    """Heartbeats older than this belong to workers presumed dead."""
    now = now or timezone.now()
    return now - timedelta(seconds=settings.HUMAS_WORKER_STALE_SECONDS)


def beat(worker_id: str, *, started_at: datetime, now: datetime | None = None) -> None:
    """Record that ``worker_id`` is alive (insert its row on the first beat)."""
    now = now or timezone.now()
    if WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen=now):
        return
    try:
        with transaction.atomic():
            WorkerHeartbeat.objects.create(
                worker_id=worker_id,
                hostname=socket.gethostname()[:255],
                pid=os.getpid(),
                started_at=started_at,
                last_seen=now,
            )
    except IntegrityError:
        # The heartbeat thread and the loop raced to insert the first row.
        WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen=now)


def reap_stale_tasks(now: datetime | None = None) -> tuple[int, int]:
    """Take back django-tasks left RUNNING by dead workers; return (requeued, failed).

    django-tasks-db marks a task RUNNING when a worker takes it and nothing ever resets it if
    that worker is killed. A task counts as abandoned when it started before the stale
    cutoff and its latest worker has no fresh heartbeat. It goes back to READY unless it was
    already started ``MAX_TASK_ATTEMPTS`` times, in which case it is marked FAILED with
    :class:`WorkerLost` as the error.
    """
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    cutoff = stale_cutoff(now)
    abandoned = list(
        DBTaskResult.objects.running()
        .filter(started_at__lt=cutoff)
        .values_list("pk", "worker_ids", "started_at")
    )
    if not abandoned:
        return 0, 0
    alive = set(
        WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).values_list("worker_id", flat=True)
    )
    requeued = failed = 0
    for pk, worker_ids, started_at in abandoned:
        worker_ids = list(worker_ids or [])
        last_worker = worker_ids[-1] if worker_ids else ""
        if last_worker in alive:
            continue
        # Matching on started_at makes this a compare-and-set: if another worker's reaper got
        # here first and the task has since been started again, the row is left alone.
        row = DBTaskResult.objects.filter(
            pk=pk, status=TaskResultStatus.RUNNING, started_at=started_at
        )
        if len(worker_ids) < MAX_TASK_ATTEMPTS:
            if row.update(status=TaskResultStatus.READY, started_at=None):
                requeued += 1
                logger.warning(
                    "task %s was left running by worker %s, which stopped; queued again",
                    pk,
                    last_worker or "(unknown)",
                )
            continue
        message = (
            f"{WorkerLost.__module__}.{WorkerLost.__qualname__}: the worker running this task "
            f"({last_worker or 'unknown'}) stopped sending heartbeats before it finished. "
            f"The task was started {len(worker_ids)} times and every worker was lost, so it "
            "is not tried again.\n"
        )
        if row.update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
            traceback=message,
        ):
            failed += 1
            logger.error("task %s lost its worker %d times; marked failed", pk, len(worker_ids))
    return requeued, failed


def run_due_jobs(
    worker_id: str,
    *,
    now: datetime | None = None,
    limit: int = 10,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Claim and run up to ``limit`` due periodic jobs, one at a time; return how many ran.

    A job's exception is stored in ``last_error`` and the job is scheduled as usual; it never
    reaches the caller.
    """
    if not JOBS:
        return 0
    ran = 0
    due = PeriodicJob.objects.filter(name__in=list(JOBS))
    while ran < limit and not (should_stop and should_stop()):
        # One at a time: a job claimed now but run after a slow one would eat its own lease.
        claimed = claim(
            due, worker_id=worker_id, lease=DEFAULT_LEASE, due_field="next_run_at", now=now
        )
        if not claimed:
            break
        _run_job(claimed[0], worker_id)
        ran += 1
    return ran


def _run_job(job: PeriodicJob, worker_id: str) -> None:
    spec = JOBS[job.name]
    if spec.lease != DEFAULT_LEASE:
        renew(job, worker_id, spec.lease)
    started = timezone.now()
    PeriodicJob.objects.filter(pk=job.pk, claimed_by=worker_id).update(last_started_at=started)
    error = ""
    try:
        spec.func()
    except Exception:
        logger.exception("periodic job %s failed", job.name)
        error = traceback.format_exc()[-LAST_ERROR_MAX_CHARS:]
    finished = timezone.now()
    kept = release(
        job,
        worker_id,
        next_run_at=finished + spec.interval,
        last_finished_at=finished,
        last_error=error,
        run_count=F("run_count") + 1,
    )
    if not kept:
        logger.warning(
            "periodic job %s outlived its lease (%s); another worker may have run it too",
            job.name,
            spec.lease,
        )


class _HeartbeatThread(threading.Thread):
    """Keeps the heartbeat fresh while the loop is busy with one long task or job.

    Without it, a task running longer than HUMAS_WORKER_STALE_SECONDS would look abandoned
    and another worker's reaper would start it a second time.
    """

    def __init__(self, loop: WorkerLoop, period: float) -> None:
        super().__init__(name="humas-heartbeat", daemon=True)
        self.loop = loop
        self.period = period
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(self.period):
                try:
                    close_old_connections()
                    beat(self.loop.worker_id, started_at=self.loop.started_at)
                except Exception:
                    logger.warning("could not write the worker heartbeat", exc_info=True)
        finally:
            # Connections are per thread; this one's would otherwise stay open until exit.
            connections.close_all()


class _DrainThread(threading.Thread):
    """Runs one registered drain over and over until the worker stops."""

    def __init__(self, loop: WorkerLoop, drain: Drain, number: int) -> None:
        super().__init__(name=f"humas-{drain.name}-{number}", daemon=True)
        self.loop = loop
        self.drain = drain
        # Each thread claims under its own id, so a lease names the thread holding it.
        self.worker_id = f"{loop.worker_id[: WORKER_ID_MAX_LENGTH - 4]}-{number}"
        #: When the round in hand began (monotonic), None between rounds.
        self.round_started: float | None = None

    def run(self) -> None:
        try:
            while not self.loop.stopping:
                done = 0
                try:
                    close_old_connections()
                    self.round_started = time.monotonic()
                    done = self.drain.func(self.worker_id)
                except Exception:
                    logger.exception(
                        "worker %s: %s failed; carrying on", self.worker_id, self.drain.name
                    )
                    # A broken connection (a database restart) is dropped; the next round
                    # reconnects. Work left half done is found again when its lease lapses.
                    connections.close_all()
                    self.loop._sleep(self.drain.idle_seconds)
                finally:
                    self.round_started = None
                if not done:
                    self.loop._sleep(self.drain.idle_seconds)
        finally:
            connections.close_all()


#: A round older than this has its leases left to lapse: a thread stuck that long (a bug, a
#: hung call) must not keep its rows from other workers for ever.
MAX_KEPT_ROUND_SECONDS = 600.0


class _KeeperThread(threading.Thread):
    """Extends the leases held by one drain's threads while they are in a round."""

    def __init__(self, loop: WorkerLoop, drain: Drain, threads: list[_DrainThread]) -> None:
        super().__init__(name=f"humas-{drain.name}-keeper", daemon=True)
        self.loop = loop
        self.drain = drain
        self.threads = threads
        self.done = threading.Event()

    def holders(self) -> list[str]:
        now = time.monotonic()
        return [
            t.worker_id
            for t in self.threads
            if (started := t.round_started) is not None and now - started < MAX_KEPT_ROUND_SECONDS
        ]

    def run(self) -> None:
        keep = self.drain.keep
        try:
            while keep is not None and not self.done.wait(self.drain.keep_seconds):
                holders = self.holders()
                if not holders:
                    continue
                try:
                    close_old_connections()
                    keep(holders)
                except Exception:
                    # The leases then lapse and other workers take the rows over, which the
                    # drain is built to survive; a database that is back is used next time.
                    logger.warning("could not keep %s leases", self.drain.name, exc_info=True)
                    connections.close_all()
        finally:
            connections.close_all()


class WorkerLoop:
    """One worker process's loop. The management command owns signals and calls :meth:`stop`."""

    def __init__(
        self,
        *,
        worker_id: str,
        interval: float = 1.0,
        queues: Sequence[str] = ("*",),
        backend_name: str = "default",
        tasks_per_tick: int = 100,
        jobs_per_tick: int = 10,
    ) -> None:
        self.worker_id = worker_id
        self.interval = interval
        self.queues = list(queues)
        self.backend_name = backend_name
        # Bounded so that a flood of tasks cannot keep periodic jobs and the reaper waiting.
        self.tasks_per_tick = tasks_per_tick
        self.jobs_per_tick = jobs_per_tick
        self.started_at = timezone.now()
        self.stopping = False
        self._tasks_worker: Worker | None = None
        self._jobs_ensured = False
        self._last_reap: float | None = None
        self._warned_backend = False
        self.once = False

    def stop(self) -> None:
        """Finish the task or job in hand, then leave :meth:`run`. Safe in a signal handler."""
        self.stopping = True
        worker = self._tasks_worker
        if worker is not None:
            worker.running = False

    def run(self, *, once: bool = False) -> None:
        logger.info("worker %s started", self.worker_id)
        self.once = once
        discover_jobs()
        heartbeat: _HeartbeatThread | None = None
        drains: list[_DrainThread] = []
        keepers: list[_KeeperThread] = []
        if not once:
            period = max(1.0, min(10.0, settings.HUMAS_WORKER_STALE_SECONDS / 4))
            heartbeat = _HeartbeatThread(self, period)
            heartbeat.start()
            number = 0
            for drain in DRAINS.values():
                mine = []
                for _n in range(max(1, drain.threads())):
                    mine.append(_DrainThread(self, drain, number))
                    number += 1
                drains += mine
                if drain.keep is not None:
                    keepers.append(_KeeperThread(self, drain, mine))
            for thread in [*drains, *keepers]:
                thread.start()
        try:
            while not self.stopping:
                busy = self.tick()
                if once:
                    break
                if not busy:
                    self._sleep(self.interval)
        finally:
            self.stopping = True
            for thread in drains:
                thread.join(timeout=30)
            for keeper in keepers:
                keeper.done.set()
                keeper.join(timeout=5)
            if heartbeat is not None:
                heartbeat.done.set()
                heartbeat.join(timeout=5)
                # Gone at once from /healthz rather than after the stale delay. A --once run
                # keeps its row: run from cron, it is the worker as far as anyone can tell.
                self._guard(
                    "heartbeat removal",
                    lambda: WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete(),
                )
            logger.info("worker %s stopped", self.worker_id)

    def tick(self) -> bool:
        """Do one round of work; return True when more work is probably waiting."""
        close_old_connections()
        self._guard("heartbeat", lambda: beat(self.worker_id, started_at=self.started_at))
        if not self._jobs_ensured:
            self._jobs_ensured = self._guard("job registry", ensure_jobs) is not None
        now = time.monotonic()
        if self._last_reap is None or now - self._last_reap >= REAP_EVERY_SECONDS:
            self._last_reap = now
            self._guard("reaper", reap_stale_tasks)
        jobs = self._guard(
            "periodic jobs",
            lambda: run_due_jobs(
                self.worker_id, limit=self.jobs_per_tick, should_stop=lambda: self.stopping
            ),
        )
        if self.once:
            # No drain threads in a single run (cron): one round of each, here.
            for drain in DRAINS.values():
                self._guard(drain.name, functools.partial(drain.func, self.worker_id))
        tasks_busy = False
        if not self.stopping:
            tasks_busy = bool(self._guard("tasks", self.run_tasks))
        return tasks_busy or jobs == self.jobs_per_tick

    def run_tasks(self) -> bool:
        """Run ready tasks until none are left or ``tasks_per_tick`` ran; True if cut short."""
        from django_tasks import task_backends
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.management.commands.db_worker import Worker

        if not isinstance(task_backends[self.backend_name], DatabaseBackend):
            if not self._warned_backend:
                self._warned_backend = True
                logger.warning(
                    "the %r task backend is not django-tasks-db; this worker runs periodic "
                    "jobs only",
                    self.backend_name,
                )
            return False
        worker = Worker(
            queue_names=self.queues,
            interval=0,
            batch=True,
            backend_name=self.backend_name,
            startup_delay=False,
            max_tasks=self.tasks_per_tick,
            worker_id=self.worker_id,
            excluded_queue_names=[],
        )
        # Published before the stopping check so that stop() either sees this worker or
        # has already set the flag checked next; no signal can fall in between unnoticed.
        self._tasks_worker = worker
        try:
            if self.stopping:
                return False
            worker.run()
        finally:
            self._tasks_worker = None
        return getattr(worker, "_run_tasks", 0) >= self.tasks_per_tick

    def _guard(self, what: str, step: Callable[[], T]) -> T | None:
        try:
            return step()
        except Exception:
            logger.exception("worker %s: %s failed; carrying on", self.worker_id, what)
            # A broken connection is dropped here so the next tick reconnects.
            close_old_connections()
            return None

    def _sleep(self, seconds: float) -> None:
        # Short naps rather than one sleep: a stop request ends the wait within 0.1 s, and a
        # signal handler never has to touch a lock.
        deadline = time.monotonic() + seconds
        while not self.stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.1))
