"""`humas worker` as a real process: signals and a task in flight."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

from humas.ops.tests.processes import DEADLINE_SECONDS, HUMAS, database_path, environment


def enqueue_nap(data_dir: Path, marker: Path, seconds: float) -> str:
    code = (
        f"from humas.ops.tests.tasks import nap; print(nap.enqueue({str(marker)!r}, {seconds}).id)"
    )
    done = subprocess.run(
        [*HUMAS, "shell", "-c", code],
        env=environment(data_dir),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout.strip().splitlines()[-1]


def query(data_dir: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(database_path(data_dir)) as db:
        return db.execute(sql, params).fetchall()


def test_it_finishes_the_task_in_hand_on_sigterm_then_exits_cleanly(installed_dir: Path) -> None:
    marker = installed_dir / f"nap-{uuid.uuid4().hex}"
    task_id = enqueue_nap(installed_dir, marker, seconds=3)
    log = installed_dir / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [*HUMAS, "worker", "--interval", "0.2", "--worker-id", "process-test"],
            env=environment(installed_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not marker.exists():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the task never started:\n{log.read_text()}"
            time.sleep(0.05)

        worker.send_signal(signal.SIGTERM)

        assert worker.wait(timeout=DEADLINE_SECONDS) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    ((status, return_value),) = query(
        installed_dir,
        "SELECT status, return_value FROM django_tasks_database_dbtaskresult WHERE id = ?",
        uuid.UUID(task_id).hex,
    )
    assert (status, json.loads(str(return_value))) == ("SUCCESSFUL", "rested")
    assert "received SIGTERM: stopping after the current task" in log.read_text()
    # A worker that stopped cleanly is gone from /healthz at once.
    heartbeats = "SELECT count(*) FROM ops_workerheartbeat WHERE worker_id = 'process-test'"
    assert query(installed_dir, heartbeats) == [(0,)]
