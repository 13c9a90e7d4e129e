"""Crisis: unusual inbound traffic noticed and acknowledged (spike alerts, see
``humas/crisis/spikes.py`` and ``docs/spikes.md``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation
from humas.inbox.models import Message


class SpikeSignal(models.TextChoices):
    INBOUND = "inbound", _("All messages")
    NEGATIVE = "negative", _("Negative messages")
    EMERGENCY = "emergency", _("Emergencies")


class SpikeKeyKind(models.TextChoices):
    ALL = "all", _("Whole organisation")
    WORD = "word", _("Topic word")
    PLACE = "place", _("Place")


class SpikeAlert(models.Model):
    """One spike of one signal for one key (a word, a place, or "" for everything), from
    the first window that spiked to the last.

    While ``is_active`` (the key is still spiking, or stopped less than a window ago), the
    detector updates this alert instead of raising another: at most one active alert per
    (organisation, signal, key), enforced by the database. Acknowledging does not end it;
    only the traffic does. ``messages`` are the citizens' messages that made it; a later
    incident can start from the alert's key and these messages.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="spike_alerts"
    )
    signal = models.CharField(_("signal"), max_length=20, choices=SpikeSignal.choices)
    key = models.CharField(_("word or place"), max_length=100, blank=True)
    key_kind = models.CharField(
        _("kind"), max_length=10, choices=SpikeKeyKind.choices, default=SpikeKeyKind.ALL
    )
    # The first window that spiked starts the alert; the latest one ends it.
    window_start = models.DateTimeField(_("from"))
    window_end = models.DateTimeField(_("until"))
    # The latest spiking window's figures (what the alert page shows), and the highest count.
    count = models.PositiveIntegerField(_("messages"))
    expected = models.FloatField(_("usual"))
    p_value = models.FloatField(_("probability"))
    peak_count = models.PositiveIntegerField(_("highest count"))
    is_active = models.BooleanField(_("still spiking"), default=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    created_at = models.DateTimeField(_("raised"), auto_now_add=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    # Rows, not copied texts: the page reads the messages as they are now, so a citizen's
    # erasure (which blanks texts and marks the contact) reaches the alert too.
    messages = models.ManyToManyField(
        Message, blank=True, related_name="spike_alerts", verbose_name=_("messages")
    )

    class Meta:
        verbose_name = _("spike alert")
        verbose_name_plural = _("spike alerts")
        ordering = ["-window_end", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "signal", "key"],
                condition=models.Q(is_active=True),
                name="one_active_spike_per_key",
            )
        ]
        indexes = [
            # The list page: one organisation's alerts, unacknowledged first, newest first.
            models.Index(
                fields=["organisation", "acknowledged_at", "-window_end"], name="spike_list"
            ),
        ]

    def __str__(self) -> str:
        # No key: the label is copied into audit entries (the key is in their payload).
        return f"spike #{self.pk} · {self.signal}"
