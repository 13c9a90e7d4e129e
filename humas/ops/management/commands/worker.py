from __future__ import annotations

import logging
import signal
import threading
from argparse import ArgumentParser, ArgumentTypeError
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from humas.lib.leases import WORKER_ID_MAX_LENGTH
from humas.ops.worker import WorkerLoop, new_worker_id

logger = logging.getLogger("humas.ops.worker")


def _worker_id(value: str) -> str:
    if not value or len(value) > WORKER_ID_MAX_LENGTH:
        raise ArgumentTypeError(f"a worker id has 1 to {WORKER_ID_MAX_LENGTH} characters")
    return value


def _interval(value: str) -> float:
    seconds = float(value)
    if not 0 <= seconds <= 3600:
        raise ArgumentTypeError("the interval is between 0 and 3600 seconds")
    return seconds


class Command(BaseCommand):
    help = (
        "Run background work: queued tasks, periodic jobs, and the reaper for tasks of dead "
        "workers. Stops after the current task on Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--interval",
            type=_interval,
            default=1.0,
            help="seconds to wait between ticks when there is nothing to do (default: 1)",
        )
        parser.add_argument(
            "--once", action="store_true", help="do one tick, then exit (tests, cron)"
        )
        parser.add_argument(
            "--worker-id",
            type=_worker_id,
            default=None,
            help="unique name of this worker (default: host-pid-random)",
        )
        parser.add_argument(
            "--queues",
            default="*",
            help="comma-separated task queues to run, or * for all (default: *)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] < 2:
            # django-tasks-db announces every batch start and end; one batch runs per tick.
            logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
        queues = [q.strip() for q in options["queues"].split(",") if q.strip()] or ["*"]
        loop = WorkerLoop(
            worker_id=options["worker_id"] or new_worker_id(),
            interval=options["interval"],
            queues=queues,
        )

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if loop.stopping:
                # A second Ctrl-C means "now". A SIGTERM after the first signal is ignored:
                # `humas serve` forwards one while the terminal's Ctrl-C already arrived.
                if signum == signal.SIGINT:
                    raise KeyboardInterrupt
                return
            logger.info(
                "received %s: stopping after the current task (Ctrl-C again to stop at once)",
                signal.Signals(signum).name,
            )
            loop.stop()

        previous: dict[signal.Signals, Any] = {}
        # signal.signal only works in the main thread (call_command may run elsewhere).
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, on_signal)
        try:
            loop.run(once=options["once"])
        except KeyboardInterrupt as exc:
            raise CommandError(
                "stopped at once; a task or job left unfinished is taken back later by the "
                "reaper or when its lease runs out"
            ) from exc
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
