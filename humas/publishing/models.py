"""Planning, producing, approving and delivering posts.

A :class:`Post` is what the team writes once; a :class:`Variant` is its shape on one channel;
a :class:`Delivery` is one attempt-tracked send of a variant at a time. Deliveries are the
only rows the worker touches; they carry the post's version so that a post edited while a
worker holds it never goes out in its old form.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation
from humas.channels.models import ChannelAccount, ChannelPost
from humas.lib.leases import Leased

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def new_delivery_key() -> str:
    """A key that names one delivery on the network side, chosen before the first attempt.

    It has the shape of an AT Protocol TID (13 base32-sortable characters: microseconds
    since 1970 and a random clock id), so Bluesky can use it as the post's record key and a
    second attempt finds the first one instead of posting twice; other networks use it as
    an idempotency key as it is.
    """
    value = (time.time_ns() // 1000) << 10 | secrets.randbelow(1024)
    chars = []
    for _position in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class Pillar(models.Model):
    """A theme the agency talks about, with the share of posts it should get."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="pillars")
    name = models.CharField(_("name"), max_length=100)
    colour = models.CharField(_("colour"), max_length=7, default="#2563eb")
    target_share = models.PositiveSmallIntegerField(
        _("target share of posts (%)"), default=0, help_text=_("0 to 100")
    )
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("content pillar")
        verbose_name_plural = _("content pillars")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="pillar_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="campaigns"
    )
    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("short name"), max_length=60)
    goal = models.TextField(_("goal"), blank=True)
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"))
    hashtags = models.CharField(_("hashtags"), max_length=300, blank=True)
    link = models.URLField(_("campaign link"), max_length=1000, blank=True)
    pillar = models.ForeignKey(
        Pillar, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("pillar")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "slug"], name="campaign_slug_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class SnippetKind(models.TextChoices):
    HASHTAGS = "hashtags", _("Hashtag set")
    SIGNATURE = "signature", _("Signature line")
    BOILERPLATE = "boilerplate", _("Boilerplate text")
    TONE = "tone", _("Tone note")


class BrandSnippet(models.Model):
    """One piece of the brand kit: text the composer can insert (or, for tone, show)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="brand_snippets"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=SnippetKind.choices)
    name = models.CharField(_("name"), max_length=100)
    text = models.TextField(_("text"))

    class Meta:
        verbose_name = _("brand kit item")
        verbose_name_plural = _("brand kit")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class MediaKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")


class MediaAsset(models.Model):
    """An uploaded image or video, checked by its content, reusable across posts."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="media")
    file = models.FileField(_("file"), upload_to="media/%Y/%m/", max_length=300)
    thumbnail = models.FileField(upload_to="thumbs/%Y/%m/", max_length=300, blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=MediaKind.choices)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(_("duration (s)"), null=True, blank=True)
    codec = models.CharField(max_length=50, blank=True)
    alt_text = models.TextField(_("alt text"), blank=True)
    captions = models.TextField(
        _("captions (WebVTT or SRT)"), blank=True, help_text=_("For video: what is said.")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("media file")
        verbose_name_plural = _("media library")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name or str(self.file.name)

    @property
    def aspect_ratio(self) -> float | None:
        if self.width and self.height:
            return self.width / self.height
        return None


class PostStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("Waiting for approval")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    REJECTED = "rejected", _("Rejected")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    PUBLISHING = "publishing", _("Publishing")
    PUBLISHED = "published", _("Published")
    FAILED = "failed", _("Some deliveries failed")
    CANCELLED = "cancelled", _("Cancelled")


#: Statuses in which the text may still be changed by an editor.
EDITABLE = frozenset(
    {
        PostStatus.DRAFT,
        PostStatus.IN_REVIEW,
        PostStatus.CHANGES_REQUESTED,
        PostStatus.REJECTED,
        PostStatus.APPROVED,
        PostStatus.SCHEDULED,
        PostStatus.FAILED,
        PostStatus.CANCELLED,
    }
)


class Recurrence(models.TextChoices):
    NONE = "", _("Does not repeat")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class Post(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="posts")
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("main text"), blank=True)
    link = models.URLField(_("link"), max_length=1000, blank=True)
    pillar = models.ForeignKey(
        Pillar, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("pillar")
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("campaign")
    )
    media = models.ManyToManyField(MediaAsset, through="PostMedia", blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=PostStatus.choices, default=PostStatus.DRAFT
    )
    # Bumped by every edit; deliveries remember the version they were made for.
    version = models.PositiveIntegerField(default=1)
    scheduled_at = models.DateTimeField(_("publish at"), null=True, blank=True, db_index=True)
    recurrence = models.CharField(
        _("repeat"), max_length=10, choices=Recurrence.choices, blank=True, default=""
    )
    recurrence_until = models.DateField(_("repeat until"), null=True, blank=True)
    repeats = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="occurrences"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # An emergency broadcast: its deliveries go out at once through their own workers, side
    # by side, never behind other posts, and a publishing pause never holds it.
    urgent = models.BooleanField(_("emergency broadcast"), default=False)
    # Set while a publishing pause (an incident) holds the post back; cleared when released.
    held_at = models.DateTimeField(_("held since"), null=True, blank=True)
    held_by = models.ForeignKey(
        "PublishingPause",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="held_posts",
        verbose_name=_("held by"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class PostMedia(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attachments")
    asset = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="uses")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.post} #{self.position}"


class Variant(models.Model):
    """The post as it goes out on one channel: prefilled from the post, editable per network."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="variants")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(_("text"), blank=True)
    # Follow-up parts, each posted as a reply to the one before, where the network has threads.
    thread = models.JSONField(default=list, blank=True)
    content_warning = models.CharField(_("content warning"), max_length=200, blank=True)
    first_comment = models.TextField(_("first comment"), blank=True)
    with_media = models.BooleanField(_("attach the post's media"), default=True)
    options = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["channel__network", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["post", "channel"], name="one_variant_per_channel")
        ]

    def __str__(self) -> str:
        return f"{self.post} → {self.channel}"


class Decision(models.TextChoices):
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    REJECTED = "rejected", _("Rejected")


class Approval(models.Model):
    """One approver's decision on one version of a post, at one step of the chain."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="approvals")
    version = models.PositiveIntegerField()
    step = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.post} v{self.version} step {self.step}: {self.decision}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENDING = "sending", _("Sending")
    PUBLISHED = "published", _("Published")
    FAILED = "failed", _("Failed")
    # The worker died during the network call and the network can neither repeat a post
    # safely nor be asked whether it arrived: a person checks the channel and decides.
    UNCERTAIN = "uncertain", _("Check the channel")
    CANCELLED = "cancelled", _("Cancelled")
    # Kept back by a publishing pause (an incident): released one by one by a person.
    HELD = "held", _("Held back")


class Delivery(Leased):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="deliveries")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    post_version = models.PositiveIntegerField()
    due_at = models.DateTimeField(db_index=True)
    # The post's ``urgent``, copied so each of the two claims reads its own small index.
    urgent = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    key = models.CharField(max_length=40, unique=True, default=new_delivery_key)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_kind = models.CharField(max_length=20, blank=True)
    channel_post = models.OneToOneField(
        ChannelPost, on_delete=models.SET_NULL, null=True, blank=True, related_name="delivery"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["due_at", "pk"]
        indexes = [
            # What the claim reads: only deliveries still to send, oldest first. Published
            # ones (nearly all rows, in time) are not in it.
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="delivery_to_send",
            ),
            # What the emergency workers poll several times a second: almost always empty.
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status__in=["pending", "sending"], urgent=True),
                name="delivery_urgent",
            ),
            # What keeping leases reads every few seconds: the few rows a worker holds.
            models.Index(
                fields=["claimed_by"],
                condition=models.Q(claimed_until__isnull=False),
                name="delivery_held",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.post} → {self.channel}"


class PublishingPause(models.Model):
    """While a pause is on, the organisation's scheduled posts (not emergency broadcasts) are
    held back instead of going out: during an incident, cheerful promotion next to warnings
    hurts. Another app starts and ends pauses (crisis: one per active incident); publishing
    only honours them. Held posts are listed and released one by one by a person."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="publishing_pauses"
    )
    reason = models.CharField(_("reason"), max_length=300)
    # What started it, for the app that did ("crisis.incident:12").
    source = models.CharField(max_length=100, unique=True)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("publishing pause")
        verbose_name_plural = _("publishing pauses")
        ordering = ["-starts_at", "-pk"]

    def __str__(self) -> str:
        return self.reason


class Stage(models.TextChoices):
    IDEA = "idea", _("Idea")
    SCRIPT = "script", _("Script")
    RECORDING = "recording", _("Recording")
    EDITING = "editing", _("Editing")
    REVIEW = "review", _("Review")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    PUBLISHED = "published", _("Published")


class Card(models.Model):
    """A piece of content on the production board, from idea to published."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="cards")
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.IDEA)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    due_on = models.DateField(_("due"), null=True, blank=True)
    pillar = models.ForeignKey(
        Pillar, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("pillar")
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("campaign")
    )
    post = models.OneToOneField(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="card"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("board card")
        verbose_name_plural = _("board cards")
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return self.title


class CardComment(models.Model):
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.text[:50]
