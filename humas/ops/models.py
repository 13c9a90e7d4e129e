from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from humas.lib.leases import WORKER_ID_MAX_LENGTH, Leased


class WorkerHeartbeat(models.Model):
    """One running ``humas worker``, rewritten every few seconds while it lives.

    ``/healthz`` reads the newest ``last_seen``; the reaper treats a worker whose row has gone
    quiet as dead and takes back the tasks it was running.
    """

    worker_id = models.CharField(_("worker id"), max_length=WORKER_ID_MAX_LENGTH, unique=True)
    hostname = models.CharField(_("host name"), max_length=255)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started"))
    # Indexed for the two questions asked every few seconds: "is any worker alive?" and
    # "which workers are alive?".
    last_seen = models.DateTimeField(_("last seen"), db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.worker_id


class PeriodicJob(Leased):
    """A recurring piece of work, run by whichever worker claims it once it is due.

    Rows are created from the code registry (:func:`humas.ops.jobs.ensure_jobs`); the row
    only holds the schedule and the outcome of the last run.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    interval_seconds = models.PositiveIntegerField(_("interval (seconds)"))
    # Serves the claim query: "due jobs, oldest first".
    next_run_at = models.DateTimeField(_("next run"), db_index=True)
    last_started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    run_count = models.PositiveIntegerField(_("runs"), default=0)

    class Meta:
        verbose_name = _("periodic job")
        verbose_name_plural = _("periodic jobs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
