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
from django.db.models import F
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
    # One person on several networks: merged identities point at the one kept, whose history
    # then shows every conversation of them all. Never a chain: merging re-points the merged
    # identity's own merged ones.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged",
        verbose_name=_("merged into"),
    )
    # Blocked: their messages are still stored (a record of what was sent to the
    # organisation) but kept out of the default inbox, and never answered automatically.
    blocked_at = models.DateTimeField(_("blocked"), null=True, blank=True)
    # Erased on the citizen's request (UU 27/2022): names and message texts are gone, the
    # rows stay so that counts, deadlines and the audit trail still add up.
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)

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


def pending_due_expression() -> models.Case:
    """:attr:`Conversation.pending_due` in SQL (without the status, which callers filter on):
    the first-answer deadline until the first answer, then the resolution deadline. The
    list's deadline filter and the ``conv_pending_due`` index use this one expression, so
    PostgreSQL recognises the index."""
    # The lookups in the order the migration writer sorts them: Django compares the index
    # with its migration by the arguments as given, and another order reads as a change.
    return models.Case(
        models.When(
            first_response_due__isnull=False,
            responded_at__isnull=True,
            then=F("first_response_due"),
        ),
        default=F("resolution_due"),
    )


class Conversation(models.Model):
    # Organisation, channel and unit lead conv_list, conv_thread and conv_unit: indexes on
    # the columns alone would only slow every insert.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    channel = models.ForeignKey(
        ChannelAccount,
        on_delete=models.CASCADE,
        related_name="conversations",
        verbose_name=_("channel"),
        db_index=False,
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
        db_index=False,
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
    # Set when a person routed the conversation: routing rules leave it alone from then on.
    routed_manually = models.BooleanField(default=False)
    # A deadline was breached and leadership was told (see humas/inbox/jobs.py).
    escalated = models.BooleanField(_("escalated"), default=False)
    # When the on-duty members were told of this emergency (once per conversation).
    emergency_notified_at = models.DateTimeField(null=True, blank=True)

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
            # The inbox's default order, "most urgent first": the same CASE as
            # InboxFilterForm.filter's ``urgency_rank``, so that a page is read off the index
            # (the planner matches the expression) instead of sorting every open
            # conversation. See "Inbox: list" in docs/benchmarks.md.
            models.Index(
                F("organisation_id"),
                F("status"),
                models.Case(
                    *[
                        models.When(urgency=u, then=models.Value(r))
                        for u, r in URGENCY_RANK.items()
                    ],
                    default=models.Value(9),
                    output_field=models.IntegerField(),
                ),
                F("last_message_at").desc(),
                F("id").desc(),
                name="conv_urgent",
            ),
            # "Newest first" over every status (the search's usual order).
            models.Index(
                F("organisation_id"),
                F("last_message_at").desc(),
                F("id").desc(),
                name="conv_newest",
            ),
            # The deadline filter ("due soon", "overdue"): the deadline that matters now, as
            # the list computes it (pending_due_expression), for open conversations only.
            models.Index(
                F("organisation_id"),
                pending_due_expression(),
                name="conv_pending_due",
                condition=models.Q(status="open"),
            ),
            # Dashboards, reports and the transparency page: one organisation's conversations
            # opened in a period, with every column their figures read, so the aggregates
            # run on the index alone (INCLUDE is PostgreSQL's; SQLite gets the plain index).
            models.Index(
                fields=["organisation", "opened_at"],
                include=[
                    "channel",
                    "category",
                    "sentiment",
                    "unit",
                    "responded_at",
                    "resolved_at",
                    "resolution_due",
                ],
                name="conv_opened",
            ),
        ]

    def __str__(self) -> str:
        # No citizen's name: this label is copied into audit entries, which cannot be
        # rewritten when the citizen's data is erased.
        return f"#{self.pk} · {self.channel.handle}"

    @property
    def pending_due(self) -> datetime | None:
        """The deadline that matters now: the first answer, then the resolution."""
        if self.status != Status.OPEN:
            return None
        if self.responded_at is None and self.first_response_due is not None:
            return self.first_response_due
        return self.resolution_due


class Message(models.Model):
    # Indexed by message_thread (conversation, created_at); a second index on the column
    # alone only slowed every insert (see "Inbox: ingest" in docs/benchmarks.md).
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
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
    # Our replies only: indexed where set (citizens' messages, nearly all rows, have none).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("written"))
    # What the triage engine said (``Triage.as_dict()``); empty for our replies.
    triage = models.JSONField(default=dict, blank=True)
    # Labels a person set instead of the triage's ({"category": "complaint", …}), for
    # retraining the classifier on the agency's own judgement.
    corrections = models.JSONField(default=dict, blank=True)
    channel_post = models.ForeignKey(
        ChannelPost,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    send_status = models.CharField(
        _("sending"), max_length=10, choices=SendStatus.choices, blank=True, default=""
    )
    send_error = models.TextField(blank=True)
    send_error_kind = models.CharField(max_length=20, blank=True)
    # When the send in hand began: a reply still "sending" long after was cut off by a
    # stopped process (see inbox.stuck_replies).
    sending_since = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Images or videos from the media library sent with one of our replies.
    attachments = models.ManyToManyField(
        "publishing.MediaAsset", blank=True, related_name="+", verbose_name=_("attachments")
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_thread"),
            # Set on our replies only; what deleting a user or a post looks up.
            models.Index(
                fields=["author"], condition=models.Q(author__isnull=False), name="message_author"
            ),
            models.Index(
                fields=["channel_post"],
                condition=models.Q(channel_post__isnull=False),
                name="message_channel_post",
            ),
            # Inbound volume per day (dashboards, reports): citizens' messages by time only.
            models.Index(
                fields=["created_at"],
                include=["conversation"],
                condition=models.Q(direction="in"),
                name="message_inbound",
            ),
        ]

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


# --- routing rules, canned replies, cases, deadline alerts --------------------------------


class RoutingRule(models.Model):
    """One line of an organisation's routing table: conditions on a newly ingested message
    and what to do when all of them hold.

    Rules are evaluated in ``position`` order and the first match wins (later rules are not
    looked at). An empty condition matches everything; a rule without any condition matches
    every message, so it belongs at the end as a catch-all.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="routing_rules"
    )
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    # Lists of choice values (Category, Urgency, Language); empty: any.
    categories = models.JSONField(_("categories"), default=list, blank=True)
    urgencies = models.JSONField(_("urgencies"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    channels = models.ManyToManyField(
        ChannelAccount, blank=True, related_name="+", verbose_name=_("channels")
    )
    # One per line; any of them, whole words, case-insensitive.
    keywords = models.TextField(_("keywords"), blank=True)
    places = models.TextField(_("place names"), blank=True)
    unit = models.ForeignKey(
        Unit,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("route to unit"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assign to"),
    )
    raise_urgency = models.CharField(
        _("raise urgency to"), max_length=10, choices=Urgency.choices, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["organisation", "position", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.splitlines() if k.strip()]

    @property
    def place_list(self) -> list[str]:
        return [p.strip() for p in self.places.splitlines() if p.strip()]

    def labels(self) -> dict[str, list[str]]:
        """The chosen categories, urgencies and languages by their translated names."""
        return {
            name: [str(dict(choices.choices).get(v, v)) for v in getattr(self, name)]
            for name, choices in (
                ("categories", Category),
                ("urgencies", Urgency),
                ("languages", Language),
            )
        }


class CannedReply(models.Model):
    """A ready answer with ``{name}``, ``{tracking_number}`` and ``{unit}`` placeholders."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="canned_replies"
    )
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title


class CaseStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    FORWARDED = "forwarded", _("Forwarded")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class Case(models.Model):
    """A complaint the organisation handles to the end, with a public tracking number.

    Deadlines follow SP4N-LAPOR!: forwarded to the unit within 3 working days of receipt,
    followed up within 5, closed after 10 (``humas.lib.workdays``), on the organisation's
    calendar.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="cases")
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="case", verbose_name=_("conversation")
    )
    tracking_number = models.CharField(_("tracking number"), max_length=30, unique=True)
    status = models.CharField(
        _("status"), max_length=12, choices=CaseStatus.choices, default=CaseStatus.RECEIVED
    )
    unit = models.ForeignKey(
        Unit,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("unit"),
    )
    received_at = models.DateTimeField(_("received"))
    forward_due = models.DateTimeField(_("forward due"))
    follow_up_due = models.DateTimeField(_("follow-up due"))
    close_due = models.DateTimeField(_("closing due"))
    forwarded_at = models.DateTimeField(_("forwarded"), null=True, blank=True)
    followed_up_at = models.DateTimeField(_("followed up"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    escalated = models.BooleanField(_("escalated"), default=False)
    # The reply that told the citizen of the resolution (sent, or failed and retriable).
    resolution_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-received_at", "-pk"]
        indexes = [
            # A unit agent's case list, and the organisation's.
            models.Index(fields=["unit", "status", "-received_at"], name="case_unit"),
            models.Index(fields=["organisation", "status", "-received_at"], name="case_list"),
        ]

    def __str__(self) -> str:
        return self.tracking_number

    @property
    def pending_step(self) -> tuple[str, datetime] | None:
        """The SP4N-LAPOR! step the case waits for and when it is due."""
        if self.status == CaseStatus.RECEIVED:
            return "forward", self.forward_due
        if self.status == CaseStatus.FORWARDED:
            return "follow_up", self.follow_up_due
        if self.status == CaseStatus.IN_PROGRESS:
            return "close", self.close_due
        return None

    @property
    def pending_due(self) -> datetime | None:
        step = self.pending_step
        return step[1] if step else None


class CaseEvent(models.Model):
    """One line of a case's timeline: a status change and/or a note.

    ``public_note`` is what the citizen may read on the status page; ``internal_note`` is for
    colleagues only.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(_("status"), max_length=12, choices=CaseStatus.choices, blank=True)
    public_note = models.TextField(_("public note"), blank=True)
    internal_note = models.TextField(_("internal note"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"))

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.case} {self.status or 'note'}"


class DeadlineAlert(models.Model):
    """A warning or escalation already sent, so the periodic check sends each only once.

    ``key`` names the object, the step, the kind and the deadline itself: a deadline that
    moves (a category corrected) can be warned about again.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


def correction_source(message_pk: int) -> str:
    """How a label correction names the message it was learnt from (see humas.triage)."""
    return f"inbox.message:{message_pk}"
