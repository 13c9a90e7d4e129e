"""What an organisation teaches the triage engine: operators' corrections and the models
trained from them (see ``docs/triage.md``, "Your organisation's own model")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation


class LabelCorrection(models.Model):
    """An operator saying "this message's <field> is <value>", as the inbox saw the text."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="label_corrections"
    )
    # Whatever the caller passed: the inbox passes the masked text, so no personal data is
    # kept here that the conversation itself does not keep.
    text = models.TextField(_("text"))
    # Where the text came from (e.g. "inbox.message:42"), so that erasing a citizen's data
    # can erase what was learnt from their messages too (forget_corrections).
    source = models.CharField(max_length=100, blank=True, db_index=True)
    field = models.CharField(_("field"), max_length=20)
    value = models.CharField(_("value"), max_length=40)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("label correction")
        verbose_name_plural = _("label corrections")
        ordering = ["created_at", "pk"]
        # Serves retraining (all of one field) and the counts per field on the page.
        indexes = [models.Index(fields=["organisation", "field"], name="triage_corr_org_field")]

    def __str__(self) -> str:
        return f"{self.field}={self.value}"


class ModelVersion(models.Model):
    """One organisation's trained triage model. ``weights`` is an ``.npz`` (no pickle) holding
    the fields in ``fields``; the other fields come from the shipped model."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="triage_versions"
    )
    number = models.PositiveIntegerField(_("number"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    weights = models.BinaryField(_("weights"))
    fields = models.JSONField(_("fields trained"), default=list)
    corrections_used = models.PositiveIntegerField(_("corrections used"), default=0)
    scores = models.JSONField(_("scores"), default=dict)
    active = models.BooleanField(_("active"), default=False)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("triage model version")
        verbose_name_plural = _("triage model versions")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number"], name="triage_version_number_unique"
            ),
            # At most one active version per organisation; this index also serves the
            # per-batch "which version is active?" query of classify_many.
            models.UniqueConstraint(
                fields=["organisation"], condition=Q(active=True), name="triage_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


class RetrainStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RetrainRun(models.Model):
    """A retraining asked for on the page and done by the worker: its progress for the page."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="triage_runs"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=RetrainStatus.choices, default=RetrainStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)  # percent
    message = models.CharField(_("message"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="triage_run_org")]

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in (RetrainStatus.QUEUED, RetrainStatus.RUNNING)
