"""Tasks enqueued by the worker tests (tasks must live at module level to be found again)."""

from __future__ import annotations

from django_tasks import task


@task()
def echo(message: str) -> str:
    return message


@task()
def explode() -> None:
    raise RuntimeError("this task always fails")
