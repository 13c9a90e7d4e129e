"""Citizens' conversations with the organisation: who wrote, what was said, who answers.

A :class:`Contact` is one citizen's identity on one network. A :class:`Conversation` is that
citizen in one thread (or in their direct messages) on one channel; it carries the labels of
its latest triaged message and its deadlines. A :class:`Message` is one message in or out;
inbound ones point at the stored :class:`~humas.channels.models.InboundEvent`, outbound ones
at what was published (:class:`~humas.channels.models.ChannelPost`) or at the error that kept
them from going. A :class:`Note` is for colleagues only.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation, Unit
from humas.channels.models import ChannelAccount, ChannelPost, InboundEvent


class Category(models.TextChoices):
    COMPLAINT = "complaint", _("Complaint")
    INFORMATION_REQUEST = "information_request", _("Information request")
    ASPIRATION = "aspiration", _("Aspiration")
    APPRECIATION = "appreciation", _("Appreciation")
    EMERGENCY = "emergency", _("Emergency")
    SPAM = "spam", _("Spam")
    OTHER = "other", _("Other")


class Urgency(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


#: Most urgent first; the inbox's "most urgent" order sorts on this.
URGENCY_RANK = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.NORMAL: 2, Urgency.LOW: 3}


class Sentiment(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


class Language(models.TextChoices):
    INDONESIAN = "id", _("Indonesian")
    ENGLISH = "en", _("English")
    JAVANESE = "jv", _("Javanese")
    SUNDANESE = "su", _("Sundanese")
    MIXED = "mixed", _("Mixed")
    UNKNOWN = "unknown", _("Unknown")


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class Direction(models.TextChoices):
    IN = "in", _("From the citizen")
    OUT = "out", _("Our reply")


class SendStatus(models.TextChoices):
    NONE = "", _("Not applicable")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Not sent")


class Contact(models.Model):
    """A citizen as one network knows them (an account, a Telegram user, an e-mail address)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="contacts"
    )
    network = models.CharField(_("network"), max_length=30)
    external_id = models.CharField(max_length=255)
    handle = models.CharField(_("handle"), max_length=255, blank=True)
    display_name = models.CharField(_("name"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("citizen")
        verbose_name_plural = _("citizens")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "network", "external_id"], name="contact_once_per_network"
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.handle or self.external_id or "?"


class Conversation(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="conversations"
    )
    channel = models.ForeignKey(
        ChannelAccount,
        on_delete=models.CASCADE,
        related_name="conversations",
        verbose_name=_("channel"),
    )
    # The network's thread (root post, chat, e-mail thread), or "dm" for direct messages.
    thread_key = models.CharField(max_length=500)
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="conversations", verbose_name=_("citizen")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    unit = models.ForeignKey(
        Unit,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("unit"),
    )
    # Copied from the latest triaged message (or set by a person, see ``labels_corrected``).
    category = models.CharField(
        _("category"), max_length=30, choices=Category.choices, default=Category.OTHER
    )
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    sentiment = models.CharField(
        _("sentiment"), max_length=10, choices=Sentiment.choices, default=Sentiment.NEUTRAL
    )
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.UNKNOWN
    )
    abusive = models.BooleanField(_("abusive"), default=False)
    needs_review = models.BooleanField(_("labels need checking"), default=False)
    # Set when a person changed the labels: later messages no longer overwrite them.
    labels_corrected = models.BooleanField(default=False)
    # The latest inbound text, cut short, as it is and with personal data masked.
    preview = models.CharField(max_length=300, blank=True)
    preview_masked = models.CharField(max_length=300, blank=True)
    opened_at = models.DateTimeField(_("opened"))
    last_message_at = models.DateTimeField(_("last message"))
    first_response_due = models.DateTimeField(_("first answer due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    responded_at = models.DateTimeField(_("answered"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at"]
        indexes = [
            # The inbox list: one organisation's open (or resolved) conversations, newest first.
            models.Index(fields=["organisation", "status", "-last_message_at"], name="conv_list"),
            # The "most urgent first" order and the urgency filter.
            models.Index(fields=["organisation", "urgency"], name="conv_urgency"),
            # Threading a new message: the latest conversation of this citizen in this thread.
            models.Index(fields=["channel", "thread_key", "contact"], name="conv_thread"),
            # A unit agent's list.
            models.Index(fields=["unit", "status", "-last_message_at"], name="conv_unit"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} · {self.channel.handle}"

    @property
    def pending_due(self) -> datetime | None:
        """The deadline that matters now: the first answer, then the resolution."""
        if self.status != Status.OPEN:
            return None
        if self.responded_at is None and self.first_response_due is not None:
            return self.first_response_due
        return self.resolution_due


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    # One message per stored event: ingesting the same event twice finds it.
    event = models.OneToOneField(
        InboundEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="message"
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    text = models.TextField(_("text"), blank=True)
    # The text with personal data masked, when the triage found any (blank otherwise).
    masked_text = models.TextField(blank=True)
    author_label = models.CharField(_("author"), max_length=255, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("written"))
    # What the triage engine said (``Triage.as_dict()``); empty for our replies.
    triage = models.JSONField(default=dict, blank=True)
    # Labels a person set instead of the triage's ({"category": "complaint", …}), for
    # retraining the classifier on the agency's own judgement.
    corrections = models.JSONField(default=dict, blank=True)
    channel_post = models.ForeignKey(
        ChannelPost, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    send_status = models.CharField(
        _("sending"), max_length=10, choices=SendStatus.choices, blank=True, default=""
    )
    send_error = models.TextField(blank=True)
    send_error_kind = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_thread")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk}"


class Note(models.Model):
    """A remark for colleagues on a conversation; never sent to the citizen."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField(_("note"))
    mentioned = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"note #{self.pk}"
