"""Background work of the triage app, run by ``humas worker``."""

from __future__ import annotations

from django_tasks import task


@task()
def run_retrain(run_id: int) -> str:
    from humas.triage.actions import perform_run

    return perform_run(run_id)
