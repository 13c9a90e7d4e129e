"""Tracked links: short codes for campaign links, click counters and conversions.

Nothing here identifies a person. A click is a number in a per-day counter; a conversion is a
number with an optional value and label; the only browser-specific value ever derived is the
pixel's random token, stored as a hash salted with the link, so two links' conversions from
the same browser cannot be joined.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation
from humas.channels.models import ChannelAccount
from humas.publishing.models import Campaign, Post

#: Length of a code in characters (6 random bytes, base64url): 2**48 possible codes, so
#: guessing a live one among a million takes about 280 million tries on average.
CODE_BYTES = 6


def new_code() -> str:
    """A random code that starts with a letter or a digit: a leading "-" would read as a
    formula in the CSV export (and be quoted there), and is easy to drop when copying."""
    while True:
        code = secrets.token_urlsafe(CODE_BYTES)
        if code[0].isalnum():
            return code


class TrackedLink(models.Model):
    """``/l/<code>``: redirects to ``destination`` and counts the click.

    One link per campaign and channel (so clicks are by channel), optionally per post.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="tracked_links"
    )
    code = models.CharField(_("code"), max_length=16, unique=True, default=new_code)
    destination = models.URLField(_("destination"), max_length=2000)
    # SET_NULL everywhere: a link already printed or posted keeps working after its
    # campaign, channel or post is removed.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tracked_links",
        verbose_name=_("campaign"),
    )
    channel = models.ForeignKey(
        ChannelAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tracked_links",
        verbose_name=_("channel"),
    )
    post = models.ForeignKey(
        Post,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tracked_links",
        verbose_name=_("post"),
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    is_active = models.BooleanField(_("active"), default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "campaign"], name="link_org_campaign")]

    def __str__(self) -> str:
        return self.code

    @property
    def short_url(self) -> str:
        return f"{settings.SITE_URL}/l/{self.code}"


class LinkClickDay(models.Model):
    """Clicks on one link on one day (in the organisation's time zone).

    A redirect adds one with a single ``INSERT … ON CONFLICT DO UPDATE SET clicks = clicks + 1``
    on one of ``CLICK_SLOTS`` rows chosen at random, so a link that goes viral spreads its
    writes over several rows instead of queueing every redirect on one row lock. Readers sum
    the slots.
    """

    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="click_days")
    day = models.DateField()
    slot = models.PositiveSmallIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "day", "slot"], name="click_day_slot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.link_id} {self.day}: {self.clicks}"


CLICK_SLOTS = 8


class ConversionSource(models.TextChoices):
    SERVER = "server", _("Server call")
    PIXEL = "pixel", _("Pixel")


class Conversion(models.Model):
    """Conversions recorded for a link on one day (``count`` is usually 1)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="conversions"
    )
    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="conversions")
    day = models.DateField()
    count = models.PositiveIntegerField(default=1)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    label = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=ConversionSource.choices)
    # SHA-256 of the caller's idempotency id (server) or of the link and the browser's random
    # pixel token (pixel): the same conversion is stored once. Hashed so that an order number
    # or a token never sits in the database in clear.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["link", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="conversion_dedupe_per_link",
            )
        ]
        indexes = [models.Index(fields=["link", "day"], name="conversion_link_day")]

    def __str__(self) -> str:
        return f"{self.link_id} {self.day}: {self.count}"


class ConversionSecret(models.Model):
    """The organisation's key for signing server-to-server conversion calls (encrypted)."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="conversion_secret"
    )
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"conversion secret of {self.organisation_id}"


# --- metric snapshots --------------------------------------------------------------------

#: When a post's counts are taken, in hours after publishing: often while it is young, then
#: once a day up to 90 days. A point missed (the worker was stopped) is not made up later:
#: counts read late are not what they were at that age.
SNAPSHOT_HOURS = (1, 6, 24, 72, 168, *range(192, 90 * 24 + 1, 24))


class PostSnapshot(models.Model):
    """A published post's counts at one age (append-only; one per post and age).

    A count is ``None`` when the network does not give it ("not provided by <network>"),
    never 0, so a network that stops giving a count shows a gap, not a drop.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    # The post's row is kept when it is deleted from the network (``deleted_at``), so its
    # history stays in the reports.
    post = models.ForeignKey(
        "channels.ChannelPost", on_delete=models.CASCADE, related_name="snapshots"
    )
    age_hours = models.PositiveIntegerField(_("age in hours"))
    taken_at = models.DateTimeField(_("taken at"))
    likes = models.PositiveIntegerField(null=True, blank=True)
    reposts = models.PositiveIntegerField(null=True, blank=True)
    replies = models.PositiveIntegerField(null=True, blank=True)
    quotes = models.PositiveIntegerField(null=True, blank=True)
    views = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("post snapshot")
        verbose_name_plural = _("post snapshots")
        constraints = [
            models.UniqueConstraint(fields=["post", "age_hours"], name="post_snapshot_once")
        ]
        indexes = [models.Index(fields=["organisation", "taken_at"], name="post_snapshot_time")]

    def __str__(self) -> str:
        return f"{self.post_id} @ {self.age_hours} h"


class AccountSnapshot(models.Model):
    """A channel's followers on one day (in the organisation's time zone; append-only)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="account_snapshots"
    )
    day = models.DateField(_("day"))
    taken_at = models.DateTimeField(_("taken at"))
    followers = models.PositiveIntegerField(null=True, blank=True)
    following = models.PositiveIntegerField(null=True, blank=True)
    posts = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("account snapshot")
        verbose_name_plural = _("account snapshots")
        constraints = [
            models.UniqueConstraint(fields=["channel", "day"], name="account_snapshot_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} on {self.day}"


# --- goals ---------------------------------------------------------------------------------


class GoalMetric(models.TextChoices):
    """What a goal measures: one KPI of ``humas/analytics/kpis.py`` each (docs/metrics.md).

    Reach and impressions are not here: no network humas supports gives them, so a goal on
    them could never be measured (the form refuses it with that reason).
    """

    ENGAGEMENT_RATE = "engagement_rate", _("Engagement rate (%)")
    FOLLOWER_GROWTH = "follower_growth", _("Follower growth")
    FIRST_RESPONSE = "first_response", _("Median first-response time (minutes)")
    RESOLVED_WITHIN_DEADLINE = (
        "resolved_within_deadline",
        _("Complaints resolved within the deadline (%)"),
    )
    CONVERSIONS = "conversions", _("Campaign conversions")
    CONVERSION_RATE = "conversion_rate", _("Conversion rate (%)")
    PILLAR_MIX = "pillar_mix", _("Content pillar mix (% match with targets)")


class Goal(models.Model):
    """A target for one KPI over a period of local days, for the organisation or for one
    channel or one campaign of it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="goals")
    # CASCADE: a goal for a channel or campaign that is gone can no longer be measured.
    channel = models.ForeignKey(
        ChannelAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="goals",
        verbose_name=_("channel"),
    )
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="goals",
        verbose_name=_("campaign"),
    )
    metric = models.CharField(_("metric"), max_length=30, choices=GoalMetric.choices)
    target = models.DecimalField(_("target"), max_digits=12, decimal_places=2)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        ordering = ["-ends_on", "metric", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__isnull=True) | models.Q(campaign__isnull=True),
                name="goal_channel_or_campaign",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="goal_period_order"
            ),
            models.CheckConstraint(condition=models.Q(target__gt=0), name="goal_target_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()}: {self.target}"


# --- reports -------------------------------------------------------------------------------


class ReportSchedule(models.Model):
    """Monthly report e-mailed to chosen members on the first working day of the month."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="report_schedules"
    )
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", verbose_name=_("recipients")
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="id"
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # The first day of the last month whose report went out: a month is sent once, even
    # when the job runs again that day or a worker restarts halfway.
    last_sent_month = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.organisation_id} ({self.language})"


# --- public transparency page --------------------------------------------------------------


class TransparencyPage(models.Model):
    """The organisation's opt-in public page of responsiveness figures (no personal data).

    The figures are computed once a day by a job and stored here as plain numbers, so the
    public page never queries citizens' conversations and always shows one consistent day.
    """

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="transparency"
    )
    enabled = models.BooleanField(_("published"), default=False)
    figures = models.JSONField(default=dict, blank=True)
    # The last local day the figures include, and when they were computed.
    computed_for = models.DateField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("transparency page")
        verbose_name_plural = _("transparency pages")

    def __str__(self) -> str:
        return str(self.organisation_id)


# --- content audit -------------------------------------------------------------------------


class AuditRubric(models.Model):
    """A question asked of every past post, with the answers it allows (``values``: a list
    of short keys; the built-in hook rubric's keys have translated labels in code)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="audit_rubrics"
    )
    name = models.CharField(_("name"), max_length=120)
    values = models.JSONField(_("values"), default=list)
    # The built-in "opening hook" rubric, scored automatically as well as by people.
    builtin = models.CharField(max_length=30, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("audit rubric")
        verbose_name_plural = _("audit rubrics")
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="audit_rubric_name_once")
        ]

    def __str__(self) -> str:
        return self.name


class ScoreSource(models.TextChoices):
    AUTO = "auto", _("Automatic")
    PERSON = "person", _("By a person")


class AuditScore(models.Model):
    """One post's answer to one rubric; a person's answer replaces the automatic one."""

    rubric = models.ForeignKey(AuditRubric, on_delete=models.CASCADE, related_name="scores")
    post = models.ForeignKey(
        "channels.ChannelPost", on_delete=models.CASCADE, related_name="audit_scores"
    )
    value = models.CharField(_("value"), max_length=60)
    source = models.CharField(max_length=10, choices=ScoreSource.choices)
    scored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scored_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("audit score")
        verbose_name_plural = _("audit scores")
        constraints = [models.UniqueConstraint(fields=["rubric", "post"], name="audit_score_once")]

    def __str__(self) -> str:
        return f"{self.post_id}: {self.value}"
