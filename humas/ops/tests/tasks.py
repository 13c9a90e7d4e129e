"""Tasks enqueued by the worker tests (tasks must live at module level to be found again)."""

from __future__ import annotations

import time
from pathlib import Path

from django_tasks import task


@task()
def echo(message: str) -> str:
    return message


@task()
def explode() -> None:
    raise RuntimeError("this task always fails")


@task()
def nap(marker: str, seconds: float) -> str:
    """Signals that it started (by creating ``marker``), then takes its time."""
    Path(marker).touch()
    time.sleep(seconds)
    return "rested"
