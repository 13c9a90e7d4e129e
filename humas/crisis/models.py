"""Crisis: unusual inbound traffic noticed and acknowledged (spike alerts, see
``humas/crisis/spikes.py`` and ``docs/spikes.md``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from humas.accounts import orgcache
from humas.accounts.models import Organisation
from humas.channels.models import ChannelAccount
from humas.inbox.models import Message
from humas.publishing.models import Post


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


# --- CAP 1.2 feeds (official warnings; see humas/crisis/feeds.py and docs/cap.md) -------------


class CapFeedKind(models.TextChoices):
    RSS = "rss", _("RSS list of CAP alerts")
    ATOM = "atom", _("Atom list of CAP alerts")
    SINGLE = "single", _("One CAP alert")


class CapFeed(models.Model):
    """A publisher's list of CAP alerts (BMKG's nowcast RSS), or one alert's URL, polled by
    the ``crisis.poll_cap_feeds`` job no more often than ``min_interval`` seconds."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="cap_feeds"
    )
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("address"), max_length=500)
    kind = models.CharField(
        _("kind"), max_length=10, choices=CapFeedKind.choices, default=CapFeedKind.RSS
    )
    enabled = models.BooleanField(_("polled"), default=True)
    min_interval = models.PositiveIntegerField(_("seconds between polls"), default=60)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # Conditional GET: an unchanged list costs the publisher a 304 and no CAP files.
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("CAP feed")
        verbose_name_plural = _("CAP feeds")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class CapAlert(models.Model):
    """One CAP message as received, valid or not. ``problems`` lists why an alert is
    invalid; an invalid alert is kept visible but never notified nor used to supersede.

    CAP names a message by (sender, identifier, sent); the same key twice in one organisation
    is the same alert. An alert that could not be read at all has no key (``sent`` empty) and
    is recognised again by its ``url``."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="cap_alerts"
    )
    feed = models.ForeignKey(
        CapFeed,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("feed"),
    )
    url = models.CharField(_("address"), max_length=500, blank=True)
    sender = models.CharField(_("sender"), max_length=200, blank=True)
    identifier = models.CharField(_("identifier"), max_length=200)
    sent = models.DateTimeField(_("sent"), null=True, blank=True)
    msg_type = models.CharField(_("message type"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=20, blank=True)
    event = models.CharField(_("event"), max_length=200, blank=True)
    urgency = models.CharField(_("urgency"), max_length=20, blank=True)
    severity = models.CharField(_("severity"), max_length=20, blank=True)
    certainty = models.CharField(_("certainty"), max_length=20, blank=True)
    onset = models.DateTimeField(_("onset"), null=True, blank=True)
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    headline = models.CharField(_("headline"), max_length=300, blank=True)
    area_desc = models.TextField(_("area"), blank=True)
    raw_xml = models.TextField(_("CAP XML"), blank=True)
    parsed = models.JSONField(_("parsed alert"), null=True, blank=True)
    problems = models.JSONField(_("validation problems"), default=list, blank=True)
    matches_area = models.BooleanField(_("matches our area"), default=False)
    expired_on_arrival = models.BooleanField(_("expired when received"), default=False)
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supersedes",
        verbose_name=_("superseded by"),
    )
    cancelled = models.BooleanField(_("cancelled"), default=False)
    received_at = models.DateTimeField(_("received"))
    notified_at = models.DateTimeField(_("notified"), null=True, blank=True)

    class Meta:
        verbose_name = _("CAP alert")
        verbose_name_plural = _("CAP alerts")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "sender", "identifier", "sent"],
                name="one_cap_alert_per_key",
            )
        ]
        indexes = [
            # The list page: matching alerts first, newest first.
            models.Index(
                fields=["organisation", "-matches_area", "-received_at"], name="cap_alert_list"
            ),
            # Skipping a feed item already stored (BMKG's guid is the identifier).
            models.Index(fields=["organisation", "identifier"], name="cap_alert_identifier"),
        ]

    def __str__(self) -> str:
        return f"CAP #{self.pk} · {self.identifier[:60]}"

    @property
    def is_valid(self) -> bool:
        return not self.problems


class CrisisArea(models.Model):
    """The organisation's own area: the place names (kecamatan, kabupaten, kota) it
    answers for, and optionally a polygon of (lat, lon) points."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="crisis_area"
    )
    place_names = models.JSONField(_("place names"), default=list, blank=True)
    polygon = models.JSONField(_("polygon"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("crisis area")
        verbose_name_plural = _("crisis areas")

    def __str__(self) -> str:
        return f"area of organisation {self.organisation_id}"


# --- Incidents (declared by hand, or proposed by a CAP alert or a spike; docs/incidents.md) --


class HazardType(models.TextChoices):
    FLOOD = "flood", _("Flood")
    LANDSLIDE = "landslide", _("Landslide")
    EARTHQUAKE = "earthquake", _("Earthquake")
    TSUNAMI = "tsunami", _("Tsunami")
    FIRE = "fire", _("Fire")
    EXTREME_WEATHER = "extreme_weather", _("Extreme weather")
    OUTBREAK = "outbreak", _("Outbreak")
    EVACUATION = "evacuation", _("Evacuation")
    OTHER = "other", _("Other")


class IncidentSeverity(models.TextChoices):
    # CAP 1.2's severity values, so an alert's severity is copied as it is.
    EXTREME = "extreme", _("Extreme")
    SEVERE = "severe", _("Severe")
    MODERATE = "moderate", _("Moderate")
    MINOR = "minor", _("Minor")
    UNKNOWN = "unknown", _("Unknown")


class IncidentStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")
    DISMISSED = "dismissed", _("Dismissed")


class Incident(models.Model):
    """An emergency the organisation answers for, from its declaration (or the proposal a
    person confirmed) to its closing. A CAP alert or a spike proposes at most one incident,
    enforced by the database; several incidents may be active at once."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="incidents"
    )
    hazard = models.CharField(_("hazard"), max_length=20, choices=HazardType.choices)
    title = models.CharField(_("title"), max_length=200)
    area = models.CharField(_("area"), max_length=500, blank=True)
    severity = models.CharField(
        _("severity"),
        max_length=10,
        choices=IncidentSeverity.choices,
        default=IncidentSeverity.UNKNOWN,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.ACTIVE
    )
    started_at = models.DateTimeField(_("started"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("incident lead"),
    )
    proposed_by_alert = models.OneToOneField(
        CapAlert,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incident",
        verbose_name=_("proposed by CAP alert"),
    )
    proposed_by_spike = models.OneToOneField(
        SpikeAlert,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incident",
        verbose_name=_("proposed by spike"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-started_at", "-pk"]
        indexes = [
            # The list page: one organisation's incidents by status, newest first.
            models.Index(fields=["organisation", "status", "-started_at"], name="incident_list"),
        ]

    def __str__(self) -> str:
        return f"incident #{self.pk} · {self.hazard}"


class IncidentEventKind(models.TextChoices):
    DECLARED = "declared", _("Declared")
    PROPOSED = "proposed", _("Proposed")
    CONFIRMED = "confirmed", _("Confirmed")
    DISMISSED = "dismissed", _("Dismissed")
    LEAD_CHANGED = "lead_changed", _("Lead changed")
    CAP_ALERT = "cap_alert", _("Official warning")
    SPIKE = "spike", _("Spike")
    BROADCAST = "broadcast", _("Broadcast")
    NOTE = "note", _("Note")
    CLOSED = "closed", _("Closed")


class IncidentEvent(models.Model):
    """One line of an incident's timeline (and of its after-action report)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("at"))
    kind = models.CharField(_("kind"), max_length=20, choices=IncidentEventKind.choices)
    text = models.TextField(_("text"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    cap_alert = models.ForeignKey(
        CapAlert, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    spike = models.ForeignKey(
        SpikeAlert, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    broadcast = models.ForeignKey(
        "Broadcast", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("incident event")
        verbose_name_plural = _("incident events")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"incident event #{self.pk} · {self.kind}"


# --- Emergency broadcasts (docs/broadcasts.md) ------------------------------------------------

#: The placeholders a template may use, each filled from the broadcast form.
PLACEHOLDERS = ("area", "time", "shelter", "hotline", "instructions")


class BroadcastTemplate(models.Model):
    """A prepared message for one hazard in one language, approved ahead of time so that in
    an emergency only the placeholders need filling. Editing the text withdraws the
    approval; an unapproved template cannot be broadcast."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="broadcast_templates"
    )
    hazard = models.CharField(_("hazard"), max_length=20, choices=HazardType.choices)
    # "id", "en", or a regional language the organisation adds ("jv", "su", "ban", …).
    language = models.CharField(_("language"), max_length=10)
    text = models.TextField(_("text"))
    builtin = models.BooleanField(_("supplied with humas"), default=False)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("broadcast template")
        verbose_name_plural = _("broadcast templates")
        ordering = ["hazard", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "hazard", "language"], name="one_template_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hazard}/{self.language}"


class BroadcastApprover(models.Model):
    """A member designated to approve emergency broadcasts on their own (the fast path)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="broadcast_approvers"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("broadcast approver")
        verbose_name_plural = _("broadcast approvers")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="approver_once")
        ]

    def __str__(self) -> str:
        return f"approver {self.user_id} of {self.organisation_id}"


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved and sent")
    CANCELLED = "cancelled", _("Cancelled")


class Broadcast(models.Model):
    """One emergency message to many channels at once, filled from templates. The first
    broadcast of an incident starts a thread; later ones (``parent``) are its updates and
    go under it on networks with threads. Once approved it is an urgent publishing post."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="broadcasts"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="broadcasts", verbose_name=_("incident")
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="updates",
        verbose_name=_("update of"),
    )
    hazard = models.CharField(_("hazard"), max_length=20, choices=HazardType.choices)
    languages = models.JSONField(_("languages"), default=list)
    values = models.JSONField(_("filled in"), default=dict, blank=True)
    # The final text per language, as approved (filled from the templates, then edited).
    texts = models.JSONField(_("texts"), default=dict)
    channels = models.ManyToManyField(ChannelAccount, related_name="+", verbose_name=_("channels"))
    status = models.CharField(
        _("status"), max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    post = models.OneToOneField(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="broadcast"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("written"), auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"broadcast #{self.pk} · {self.hazard}"


class IncidentMessage(models.Model):
    """A citizen's message that belongs to an incident (it was written during it and is an
    emergency, or names the incident's area or hazard). The inbox lists their conversations
    first while the incident is active; the after-action report reads them."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="messages")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    # What made it belong: "emergency", "area:<word>" or "hazard:<word>".
    matched_on = models.CharField(max_length=120)
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("incident message")
        verbose_name_plural = _("incident messages")
        ordering = ["message_id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "message"], name="incident_message_once")
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} of incident {self.incident_id}"


@receiver(post_save, sender=Incident)
def _incident_saved(
    sender: type, instance: Incident, update_fields: Any = None, **kwargs: Any
) -> None:
    # Processes keep which incidents are active (the inbox asks on every view).
    if orgcache.touches(update_fields, {"status", "organisation"}):
        orgcache.changed([instance.organisation_id])


@receiver(post_delete, sender=Incident)
def _incident_deleted(sender: type, instance: Incident, **kwargs: Any) -> None:
    orgcache.changed([instance.organisation_id])
