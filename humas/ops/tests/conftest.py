from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from humas.ops.jobs import DEFAULT_LEASE, JOBS, Job
from humas.ops.tests.processes import HUMAS, environment

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def db_tasks(settings: Any) -> None:
    """Queue tasks in the database, as production does, whatever HUMAS_TASK_BACKEND says.

    django-tasks drops its cached backends when it sees ``setting_changed`` for TASKS, which
    pytest-django's ``settings`` fixture sends on the change and again on the way back.
    """
    settings.TASKS = DB_TASKS


@pytest.fixture
def postgres_only() -> None:
    require_postgres()


def require_postgres() -> None:
    """Skip off PostgreSQL, except in CI when PostgreSQL was asked for: then fail loudly."""
    if connection.vendor == "postgresql":
        return
    if os.environ.get("CI") and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail(
            "CI set DATABASE_URL to PostgreSQL but the tests run on "
            f"{connection.vendor}; refusing to skip the PostgreSQL tests silently"
        )
    pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")


class JobCalls:
    """A periodic job registered for one test; counts its runs and can be told to fail."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.error: Exception | None = None

    def __call__(self) -> None:
        self.count += 1
        if self.error is not None:
            raise self.error


@pytest.fixture
def test_job() -> Iterator[JobCalls]:
    """The only registered job while the test runs: the worker runs at most ten due jobs a
    tick, and the apps' own jobs (more than ten now) must neither crowd it out nor run."""
    calls = JobCalls("tests.count_runs")
    saved = dict(JOBS)
    JOBS.clear()
    JOBS[calls.name] = Job(calls.name, timedelta(seconds=300), DEFAULT_LEASE, calls)
    try:
        yield calls
    finally:
        JOBS.clear()
        JOBS.update(saved)


@pytest.fixture(scope="session")
def installed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated installation in a temporary directory, for tests that start processes."""
    path = tmp_path_factory.mktemp("installation")
    subprocess.run(
        [*HUMAS, "migrate", "--noinput", "-v", "0"],
        env=environment(path),
        check=True,
        timeout=120,
    )
    return path
