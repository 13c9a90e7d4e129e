"""Named actions for planning, writing, approving and scheduling posts.

Every action runs in one transaction and writes one audit entry. The post row is locked
(``select_for_update``) by every action that changes a post and by the worker before it
sends, so an edit and a send never interleave: either the edit comes first and the worker
sees the new version, or the send has started and the edit is refused until it is over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, notify
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation, User
from humas.channels.actions import _usable
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.publishing.compose import Draft, check_all
from humas.publishing.models import (
    Approval,
    BrandSnippet,
    Campaign,
    Card,
    CardComment,
    Decision,
    Delivery,
    DeliveryStatus,
    MediaAsset,
    Pillar,
    Post,
    PostMedia,
    PostStatus,
    PublishingPause,
    Recurrence,
    Stage,
    Variant,
    new_delivery_key,
)

#: Deliveries that may still change: the worker has not taken them or finished them.
OPEN_DELIVERIES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.HELD,
    DeliveryStatus.FAILED,
    DeliveryStatus.UNCERTAIN,
)


def _locked(post: Post) -> Post:
    fresh = Post.objects.select_for_update().get(pk=post.pk)
    post.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return post


def _refuse_while_sending(post: Post) -> None:
    """Called with the post row locked: a worker marks SENDING under the same lock."""
    if post.deliveries.filter(status=DeliveryStatus.SENDING).exists():
        raise ActionError(_("This post is being sent right now; try again in a moment."))


# --- planning -----------------------------------------------------------------------------


M = TypeVar("M", Pillar, Campaign, BrandSnippet)


def _save_row(
    org: Organisation, row: M, created: bool, fields: dict[str, Any], *, by: Actor, what: str
) -> M:
    """Create or change a planning row (pillar, campaign, brand kit item): one audit entry."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        record(
            f"publishing.{what}.{'created' if created else 'updated'}",
            actor=by,
            organisation=org,
            target=row,
            payload={k: v if isinstance(v, str | int) else str(v) for k, v in fields.items()},
        )
    return row


def save_pillar(
    org: Organisation, *, by: Actor, pillar: Pillar | None = None, **fields: Any
) -> Pillar:
    return _save_row(
        org, pillar or Pillar(organisation=org), pillar is None, fields, by=by, what="pillar"
    )


def save_campaign(
    org: Organisation, *, by: Actor, campaign: Campaign | None = None, **fields: Any
) -> Campaign:
    if (
        fields.get("starts_on")
        and fields.get("ends_on")
        and fields["ends_on"] < fields["starts_on"]
    ):
        raise ActionError(_("A campaign cannot end before it starts."))
    campaign = campaign or Campaign(organisation=org)
    created = campaign.pk is None
    if not campaign.slug and not fields.get("slug"):
        base = slugify(fields.get("name") or campaign.name)[:50] or "kampanye"
        slug, n = base, 1
        while Campaign.objects.filter(organisation=org, slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        fields["slug"] = slug
    return _save_row(org, campaign, created, fields, by=by, what="campaign")


def save_snippet(
    org: Organisation, *, by: Actor, snippet: BrandSnippet | None = None, **fields: Any
) -> BrandSnippet:
    return _save_row(
        org,
        snippet or BrandSnippet(organisation=org),
        snippet is None,
        fields,
        by=by,
        what="brand_kit",
    )


def delete_snippet(snippet: BrandSnippet, *, by: Actor) -> None:
    with transaction.atomic():
        record(
            "publishing.brand_kit.deleted",
            actor=by,
            organisation=snippet.organisation,
            target=snippet,
            payload={"kind": snippet.kind, "name": snippet.name},
        )
        snippet.delete()


# --- writing ------------------------------------------------------------------------------


def variant_drafts(post: Post) -> list[Draft]:
    return [Draft.of(v) for v in post.variants.select_related("channel")]


def post_assets(post: Post) -> list[MediaAsset]:
    return [pm.asset for pm in post.attachments.select_related("asset")]


def problems_of(post: Post) -> dict[int, list[str]]:
    """Per channel id, what blocks publishing this post (empty lists when all is well)."""
    checks = check_all(variant_drafts(post), post_assets(post), link=post.link)
    return {channel_id: check.problems for channel_id, check in checks.items()}


def _require_publishable(post: Post) -> None:
    if not post.variants.exists():
        raise ActionError(_("Choose at least one channel."))
    problems = problems_of(post)
    blocking = [p for found in problems.values() for p in found]
    if blocking:
        raise ActionError(_("Fix these first: %(problems)s") % {"problems": " ".join(blocking)})


def save_post(
    org: Organisation,
    *,
    by: Actor,
    post: Post | None = None,
    title: str,
    text: str,
    link: str = "",
    pillar: Pillar | None = None,
    campaign: Campaign | None = None,
    drafts: Sequence[Draft] = (),
    media: Sequence[MediaAsset] = (),
    recurrence: str = "",
    recurrence_until: date | None = None,
) -> Post:
    """Create a post or save changes to it (text, variants, media).

    Changing a post that was approved sends it back for approval (with the organisation's
    approval rule on); pending deliveries of the old version are cancelled either way.
    """
    for draft in drafts:
        if draft.channel.organisation_id != org.pk:
            raise ActionError(_("That channel belongs to another organisation."))
    for asset in media:
        if asset.organisation_id != org.pk:
            raise ActionError(_("That media file belongs to another organisation."))
    with transaction.atomic():
        created = post is None
        if post is None:
            post = Post(organisation=org, author=by.user)
        else:
            _locked(post)
            if post.status in (PostStatus.PUBLISHING, PostStatus.PUBLISHED):
                raise ActionError(
                    _("This post is being published or was published; it can no longer be edited.")
                )
            _refuse_while_sending(post)
            post.version += 1
        was = post.status
        post.title = title
        post.text = text
        post.link = link
        post.pillar = pillar
        post.campaign = campaign
        post.recurrence = recurrence
        post.recurrence_until = recurrence_until
        if (
            not created
            and org.approval_steps
            and was
            in (
                PostStatus.IN_REVIEW,
                PostStatus.APPROVED,
                PostStatus.SCHEDULED,
            )
        ):
            post.status = PostStatus.IN_REVIEW
        elif was == PostStatus.CANCELLED:
            post.status = PostStatus.DRAFT
        post.save()
        keep = {d.channel.pk for d in drafts}
        post.variants.exclude(channel_id__in=keep).delete()
        for draft in drafts:
            Variant.objects.update_or_create(
                post=post,
                channel=draft.channel,
                defaults={
                    "text": draft.text,
                    "thread": [p for p in draft.thread if p.strip()],
                    "content_warning": draft.content_warning,
                    "first_comment": draft.first_comment,
                    "with_media": draft.with_media,
                    "options": draft.options,
                },
            )
        post.attachments.all().delete()
        PostMedia.objects.bulk_create(
            [PostMedia(post=post, asset=a, position=i) for i, a in enumerate(media)]
        )
        cancelled = _cancel_open_deliveries(post)
        if not created and was == PostStatus.SCHEDULED and post.status == PostStatus.SCHEDULED:
            # No approval rule: the edited post keeps its time, in its new form.
            _create_deliveries(post)
        elif not created and was == PostStatus.SCHEDULED:
            post.status = PostStatus.IN_REVIEW if org.approval_steps else PostStatus.APPROVED
            post.save(update_fields=["status"])
        record(
            "publishing.post.created" if created else "publishing.post.updated",
            actor=by,
            organisation=org,
            target=post,
            payload={
                "version": post.version,
                "channels": sorted(keep),
                "media": [a.pk for a in media],
                "status": {"from": was, "to": post.status} if was != post.status else post.status,
                **({"cancelled_deliveries": cancelled} if cancelled else {}),
            },
        )
    _sync_card(post)
    return post


def _cancel_open_deliveries(post: Post) -> int:
    return Delivery.objects.filter(
        post=post, status__in=(DeliveryStatus.PENDING, DeliveryStatus.HELD)
    ).update(status=DeliveryStatus.CANCELLED, claimed_by="", claimed_until=None)


def _create_deliveries(post: Post) -> list[Delivery]:
    when = post.scheduled_at or timezone.now()
    already = set(
        Delivery.objects.filter(post=post, status=DeliveryStatus.PUBLISHED).values_list(
            "channel_id", flat=True
        )
    )
    # Scheduled while a pause is on: held from the start, so it is listed with the others.
    pause = None if post.urgent else active_pause(post.organisation_id)
    if pause is not None:
        _mark_held([post], pause)
    return Delivery.objects.bulk_create(
        [
            Delivery(
                organisation=post.organisation,
                post=post,
                variant=variant,
                channel=variant.channel,
                post_version=post.version,
                due_at=when,
                urgent=post.urgent,
                status=DeliveryStatus.HELD if pause is not None else DeliveryStatus.PENDING,
            )
            for variant in post.variants.select_related("channel")
            if variant.channel_id not in already
        ]
    )


@dataclass(frozen=True)
class UrgentPart:
    """One channel's shape of an emergency post (see :func:`publish_urgent`)."""

    channel: ChannelAccount
    text: str
    thread: list[str]
    options: dict[str, Any]


def publish_urgent(
    org: Organisation, *, by: Actor, author: User | None, title: str, parts: Sequence[UrgentPart]
) -> Post:
    """An emergency post, approved elsewhere (crisis's fast path), due at once on every
    channel through the urgent workers; pauses never hold it. Runs inside the caller's
    transaction when there is one."""
    if not parts:
        raise ActionError(_("Choose at least one channel."))
    for part in parts:
        _usable(part.channel)
    with transaction.atomic():
        now = timezone.now()
        post = Post.objects.create(
            organisation=org,
            title=title[:200],
            text=parts[0].text,
            status=PostStatus.SCHEDULED,
            scheduled_at=now,
            urgent=True,
            author=author,
        )
        Variant.objects.bulk_create(
            [
                Variant(
                    post=post,
                    channel=part.channel,
                    text=part.text,
                    thread=list(part.thread),
                    options=dict(part.options),
                    with_media=False,
                )
                for part in parts
            ]
        )
        made = _create_deliveries(post)
        record(
            "publishing.post.urgent",
            actor=by,
            organisation=org,
            target=post,
            payload={"channels": [p.channel.pk for p in parts], "deliveries": len(made)},
        )
    return post


# --- pausing (an incident holds promotion back) ---------------------------------------------


def active_pause(organisation_id: int) -> PublishingPause | None:
    return (
        PublishingPause.objects.filter(organisation_id=organisation_id, ends_at__isnull=True)
        .order_by("starts_at", "pk")
        .first()
    )


def _mark_held(posts: Sequence[Post], pause: PublishingPause) -> None:
    now = timezone.now()
    fresh = [p.pk for p in posts if p.held_at is None]
    Post.objects.filter(pk__in=fresh).update(held_at=now, held_by=pause)
    for post in posts:
        if post.held_at is None:
            post.held_at, post.held_by = now, pause


def pause_publishing(
    org: Organisation, *, source: str, reason: str, by: Actor, starts_at: datetime | None = None
) -> PublishingPause:
    """Hold back the organisation's scheduled posts (not emergency broadcasts) until a person
    releases each; posts scheduled while the pause is on are held too. Starting the same
    ``source`` twice changes nothing."""
    with transaction.atomic():
        pause, created = PublishingPause.objects.get_or_create(
            source=source,
            defaults={
                "organisation": org,
                "reason": reason[:300],
                "starts_at": starts_at or timezone.now(),
            },
        )
        if not created and pause.ends_at is None:
            return pause
        if not created:
            pause.ends_at = None
            pause.save(update_fields=["ends_at"])
        # Posts before deliveries, in primary-key order: the worker locks them the same way.
        # A post whose send has started is left to finish.
        # (PostgreSQL refuses FOR UPDATE with DISTINCT: find the posts, then lock them.)
        candidates = set(
            Delivery.objects.filter(
                organisation=org, post__urgent=False, status=DeliveryStatus.PENDING
            ).values_list("post_id", flat=True)
        )
        locked = list(Post.objects.select_for_update().filter(pk__in=candidates).order_by("pk"))
        # Read under the lock: the worker marks SENDING under the same lock.
        sending = set(
            Delivery.objects.filter(post__in=locked, status=DeliveryStatus.SENDING).values_list(
                "post_id", flat=True
            )
        )
        waiting = [post for post in locked if post.pk not in sending]
        held = Delivery.objects.filter(
            post__in=waiting, status=DeliveryStatus.PENDING, claimed_until__isnull=True
        ).update(status=DeliveryStatus.HELD)
        _mark_held(waiting, pause)
        record(
            "publishing.pause.started",
            actor=by,
            organisation=org,
            target=pause,
            payload={"source": source, "posts": len(waiting), "deliveries": held},
        )
    return pause


def end_pause(pause: PublishingPause, *, by: Actor) -> PublishingPause:
    """New posts go out again; posts already held stay held until a person releases them."""
    with transaction.atomic():
        pause = PublishingPause.objects.select_for_update().get(pk=pause.pk)
        if pause.ends_at is not None:
            return pause
        pause.ends_at = timezone.now()
        pause.save(update_fields=["ends_at"])
        record(
            "publishing.pause.ended",
            actor=by,
            organisation=pause.organisation,
            target=pause,
            payload={"source": pause.source, "still_held": pause.held_posts.count()},
        )
    return pause


def release_post(post: Post, *, by: Actor) -> Post:
    """A held post goes out: now if its time has passed, else at its time."""
    with transaction.atomic():
        _locked(post)
        if post.held_at is None:
            raise ActionError(_("This post is not held back."))
        now = timezone.now()
        held = Delivery.objects.filter(post=post, status=DeliveryStatus.HELD)
        released = held.filter(due_at__gte=now).update(status=DeliveryStatus.PENDING)
        released += held.update(status=DeliveryStatus.PENDING, due_at=now)
        was = post.held_by_id
        post.held_at = None
        post.held_by = None
        post.save(update_fields=["held_at", "held_by", "updated_at"])
        record(
            "publishing.post.released",
            actor=by,
            organisation=post.organisation,
            target=post,
            payload={"pause": was, "deliveries": released},
        )
    return post


# --- approving ----------------------------------------------------------------------------


def approvers_of(org: Organisation) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(organisation=org, is_active=True).select_related("user")
        if m.has_perm("content.approve")
    ]


def submit_for_approval(post: Post, *, by: Actor) -> Post:
    org = post.organisation
    with transaction.atomic():
        _locked(post)
        if post.status not in (
            PostStatus.DRAFT,
            PostStatus.CHANGES_REQUESTED,
            PostStatus.REJECTED,
            PostStatus.CANCELLED,
        ):
            raise ActionError(_("Only a draft can be sent for approval."))
        _require_publishable(post)
        post.status = PostStatus.IN_REVIEW if org.approval_steps else PostStatus.APPROVED
        post.save(update_fields=["status", "updated_at"])
        record(
            "publishing.post.submitted",
            actor=by,
            organisation=org,
            target=post,
            payload={"version": post.version, "steps": org.approval_steps},
        )
        if org.approval_steps:
            notify(
                org,
                [u for u in approvers_of(org) if u != post.author],
                kind="publishing.review",
                title=_("“%(title)s” waits for your approval") % {"title": post.title},
                url=reverse("publishing:post", args=[post.pk]),
            )
    _sync_card(post)
    return post


def approval_step(post: Post) -> int:
    """Which step of the chain the next approval would be (1-based)."""
    return post.approvals.filter(version=post.version, decision=Decision.APPROVED).count() + 1


def decide(post: Post, *, by: Actor, decision: str, comment: str = "") -> Post:
    """An approver approves, rejects or asks for changes to the current version."""
    org = post.organisation
    user = by.user
    if user is None:
        raise ActionError(_("Only a person can approve."))
    if decision not in Decision.values:
        raise ActionError(_("Unknown decision."))
    if decision != Decision.APPROVED and not comment.strip():
        raise ActionError(_("Say what should change (a comment is required)."))
    with transaction.atomic():
        _locked(post)
        if post.status != PostStatus.IN_REVIEW:
            raise ActionError(_("This post is not waiting for approval."))
        if post.author_id == user.pk:
            raise ActionError(_("You cannot approve your own post; another approver must."))
        step = approval_step(post)
        if post.approvals.filter(
            version=post.version, decision=Decision.APPROVED, by=user
        ).exists():
            raise ActionError(_("The second step must be taken by a different approver."))
        Approval.objects.create(
            post=post, version=post.version, step=step, decision=decision, comment=comment, by=user
        )
        if decision == Decision.APPROVED:
            if step >= max(1, org.approval_steps):
                post.status = PostStatus.APPROVED
                if post.scheduled_at:
                    post.status = PostStatus.SCHEDULED
                    _cancel_open_deliveries(post)
                    _create_deliveries(post)
        elif decision == Decision.REJECTED:
            post.status = PostStatus.REJECTED
        else:
            post.status = PostStatus.CHANGES_REQUESTED
        post.save(update_fields=["status", "updated_at"])
        record(
            f"publishing.post.{decision}",
            actor=by,
            organisation=org,
            target=post,
            payload={"version": post.version, "step": step, "comment": comment},
        )
        labels = {
            Decision.APPROVED: _("“%(title)s” was approved"),
            Decision.REJECTED: _("“%(title)s” was rejected"),
            Decision.CHANGES_REQUESTED: _("Changes requested on “%(title)s”"),
        }
        if decision != Decision.APPROVED or post.status != PostStatus.IN_REVIEW:
            notify(
                org,
                [post.author],
                kind="publishing.decision",
                title=labels[Decision(decision)] % {"title": post.title},
                url=reverse("publishing:post", args=[post.pk]),
            )
    _sync_card(post)
    return post


# --- scheduling ---------------------------------------------------------------------------


def schedule_post(post: Post, *, by: Actor, when: datetime | None) -> Post:
    """Publish at ``when`` (``None``: now). The post must be approved, unless no rule applies."""
    org = post.organisation
    when = when or timezone.now()
    if timezone.is_naive(when):
        raise ActionError(_("The publishing time needs a time zone."))
    with transaction.atomic():
        _locked(post)
        allowed = {PostStatus.APPROVED, PostStatus.SCHEDULED}
        if not org.approval_steps:
            allowed |= {
                PostStatus.DRAFT,
                PostStatus.CHANGES_REQUESTED,
                PostStatus.REJECTED,
                PostStatus.CANCELLED,
                PostStatus.FAILED,
            }
        if post.status not in allowed:
            raise ActionError(
                _("Only an approved post can be scheduled; send it for approval first.")
            )
        _require_publishable(post)
        _refuse_while_sending(post)
        was = post.scheduled_at
        post.scheduled_at = when
        post.status = PostStatus.SCHEDULED
        post.save(update_fields=["scheduled_at", "status", "updated_at"])
        _cancel_open_deliveries(post)
        made = _create_deliveries(post)
        record(
            "publishing.post.scheduled",
            actor=by,
            organisation=org,
            target=post,
            payload={
                "at": when.isoformat(),
                **({"was": was.isoformat()} if was else {}),
                "deliveries": len(made),
            },
        )
    _sync_card(post)
    return post


def cancel_post(post: Post, *, by: Actor) -> Post:
    """Stop what has not gone out yet; what was already published stays."""
    with transaction.atomic():
        _locked(post)
        _refuse_while_sending(post)
        cancelled = Delivery.objects.filter(post=post, status__in=OPEN_DELIVERIES).update(
            status=DeliveryStatus.CANCELLED, claimed_by="", claimed_until=None
        )
        published = post.deliveries.filter(status=DeliveryStatus.PUBLISHED).exists()
        post.status = PostStatus.PUBLISHED if published else PostStatus.CANCELLED
        post.save(update_fields=["status", "updated_at"])
        record(
            "publishing.post.cancelled",
            actor=by,
            organisation=post.organisation,
            target=post,
            payload={"deliveries": cancelled},
        )
    _sync_card(post)
    return post


def retry_delivery(delivery: Delivery, *, by: Actor, send_again: bool = False) -> Delivery:
    """Try a failed delivery again now. For an uncertain one, the person says it did not arrive.

    An uncertain delivery gets a new key: the person checked that the earlier attempt is not
    on the channel, so the new attempt must not be mistaken for it.
    """
    with transaction.atomic():
        post = _locked(delivery.post)
        delivery.refresh_from_db()
        if delivery.status not in (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN):
            raise ActionError(_("Only a failed delivery can be tried again."))
        if delivery.status == DeliveryStatus.UNCERTAIN and not send_again:
            raise ActionError(
                _("Check the channel first, then confirm that the post is not there.")
            )
        if delivery.post_version != post.version:
            raise ActionError(_("The post was changed since; schedule it again instead."))
        was = delivery.status
        delivery.status = DeliveryStatus.PENDING
        delivery.due_at = timezone.now()
        delivery.attempts = 0
        delivery.last_error = ""
        delivery.last_error_kind = ""
        if was == DeliveryStatus.UNCERTAIN:
            delivery.key = new_delivery_key()
        delivery.save()
        post.status = PostStatus.SCHEDULED
        post.save(update_fields=["status", "updated_at"])
        record(
            "publishing.delivery.retried",
            actor=by,
            organisation=post.organisation,
            target=delivery,
            payload={"channel": delivery.channel_id, "was": was},
        )
    return delivery


def confirm_delivery_arrived(delivery: Delivery, *, by: Actor, url: str = "") -> Delivery:
    """For an uncertain delivery: the person found the post on the channel."""
    with transaction.atomic():
        post = _locked(delivery.post)
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.UNCERTAIN:
            raise ActionError(_("Only a delivery that needs checking can be confirmed."))
        delivery.status = DeliveryStatus.PUBLISHED
        delivery.published_at = timezone.now()
        delivery.last_error = ""
        delivery.save()
        finish_post_if_done(post)
        record(
            "publishing.delivery.confirmed",
            actor=by,
            organisation=post.organisation,
            target=delivery,
            payload={"channel": delivery.channel_id, "url": url},
        )
    return delivery


def finish_post_if_done(post: Post) -> None:
    """Set the post's status from its deliveries once none is waiting or being sent."""
    finish_posts_if_done([post])


def finish_posts_if_done(posts: list[Post]) -> None:
    """:func:`finish_post_if_done` for many posts, with one read of their deliveries."""
    statuses: dict[int, set[str]] = {}
    rows = (
        Delivery.objects.filter(post__in=[p.pk for p in posts])
        .exclude(status=DeliveryStatus.CANCELLED)
        .values_list("post_id", "status")
    )
    for post_id, status in rows:
        statuses.setdefault(post_id, set()).add(status)
    for post in {p.pk: p for p in posts}.values():
        seen = statuses.get(post.pk)
        if not seen or seen & {DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.HELD}:
            continue
        status = PostStatus.PUBLISHED if seen == {DeliveryStatus.PUBLISHED} else PostStatus.FAILED
        fields: dict[str, Any] = {"status": status}
        if status == PostStatus.PUBLISHED and post.published_at is None:
            fields["published_at"] = timezone.now()
        Post.objects.filter(pk=post.pk).update(**fields)
        for name, value in fields.items():
            setattr(post, name, value)
        if status == PostStatus.PUBLISHED and post.recurrence:
            _schedule_next_occurrence(post)
        _sync_card(post)


_STEP = {
    Recurrence.DAILY: lambda d, n: d + timedelta(days=n),
    Recurrence.WEEKLY: lambda d, n: d + timedelta(weeks=n),
}


def next_occurrence(post: Post) -> datetime | None:
    """When a recurring post goes out next (in the organisation's zone: 08:00 stays 08:00)."""
    if not post.recurrence or post.scheduled_at is None:
        return None
    from zoneinfo import ZoneInfo

    local = post.scheduled_at.astimezone(ZoneInfo(post.organisation.time_zone))
    if post.recurrence == Recurrence.MONTHLY:
        month = local.month % 12 + 1
        year = local.year + (local.month == 12)
        day = local.day
        while True:
            try:
                following = local.replace(year=year, month=month, day=day)
                break
            except ValueError:  # 31 January → the last day of February
                day -= 1
    else:
        following = _STEP[Recurrence(post.recurrence)](local, 1)
    if post.recurrence_until and following.date() > post.recurrence_until:
        return None
    return following


def _schedule_next_occurrence(post: Post) -> Post | None:
    when = next_occurrence(post)
    if when is None:
        return None
    if Post.objects.filter(repeats=post.repeats or post, scheduled_at=when).exists():
        return None
    following = Post.objects.create(
        organisation=post.organisation,
        title=post.title,
        text=post.text,
        link=post.link,
        pillar=post.pillar,
        campaign=post.campaign,
        status=PostStatus.SCHEDULED,
        scheduled_at=when,
        recurrence=post.recurrence,
        recurrence_until=post.recurrence_until,
        repeats=post.repeats or post,
        author=post.author,
    )
    for variant in post.variants.all():
        variant.pk = None
        variant.post = following
        variant.save()
    PostMedia.objects.bulk_create(
        [
            PostMedia(post=following, asset_id=pm.asset_id, position=pm.position)
            for pm in post.attachments.all()
        ]
    )
    _create_deliveries(following)
    record(
        "publishing.post.recurred",
        actor=Actor.system("humas"),
        organisation=post.organisation,
        target=following,
        payload={"from": post.pk, "at": when.isoformat()},
    )
    return following


def reschedule(post: Post, *, by: Actor, when: datetime) -> Post:
    """Move a scheduled post (the calendar's drag and drop)."""
    if post.status != PostStatus.SCHEDULED:
        raise ActionError(_("Only a scheduled post can be moved."))
    return schedule_post(post, by=by, when=when)


def delete_from_networks(post: Post, *, by: Actor) -> dict[str, list[str]]:
    """Delete a published post on every network that allows it; list what stays."""
    from humas.channels.actions import delete_post
    from humas.channels.providers.base import ProviderError

    outcome: dict[str, list[str]] = {"deleted": [], "kept": []}
    deliveries = post.deliveries.filter(
        status=DeliveryStatus.PUBLISHED,
        channel_post__isnull=False,
        channel_post__deleted_at__isnull=True,
    ).select_related("channel", "channel_post")
    for delivery in deliveries:
        channel = delivery.channel
        name = str(channel)
        if not channel.provider_class.capabilities.delete:
            outcome["kept"].append(
                _("%(channel)s: this network does not let humas delete posts.") % {"channel": name}
            )
            continue
        try:
            delete_post(delivery.channel_post, by=by)  # type: ignore[arg-type]
            outcome["deleted"].append(name)
        except (ProviderError, ActionError) as exc:
            outcome["kept"].append(f"{name}: {exc}")
    with transaction.atomic():
        record(
            "publishing.post.deleted_from_networks",
            actor=by,
            organisation=post.organisation,
            target=post,
            payload=outcome,
        )
    return outcome


# --- the production board -----------------------------------------------------------------

_STAGE_OF_STATUS = {
    PostStatus.IN_REVIEW: Stage.REVIEW,
    PostStatus.APPROVED: Stage.APPROVED,
    PostStatus.SCHEDULED: Stage.SCHEDULED,
    PostStatus.PUBLISHING: Stage.SCHEDULED,
    PostStatus.PUBLISHED: Stage.PUBLISHED,
}


def _sync_card(post: Post) -> None:
    """A card linked to a post follows the post through review, approval and publishing."""
    stage = _STAGE_OF_STATUS.get(PostStatus(post.status))
    if stage is not None:
        Card.objects.filter(post=post).exclude(stage=stage).update(stage=stage)


def save_card(org: Organisation, *, by: Actor, card: Card | None = None, **fields: Any) -> Card:
    assignee = fields.get("assignee")
    if (
        assignee is not None
        and not Membership.objects.filter(organisation=org, user=assignee, is_active=True).exists()
    ):
        raise ActionError(_("Cards can only be assigned to members of this organisation."))
    with transaction.atomic():
        created = card is None
        card = card or Card(organisation=org, created_by=by.user)
        before = card.stage
        for name, value in fields.items():
            setattr(card, name, value)
        card.save()
        record(
            "publishing.card.created" if created else "publishing.card.updated",
            actor=by,
            organisation=org,
            target=card,
            payload={k: (str(v) if not isinstance(v, str) else v) for k, v in fields.items()}
            | ({"stage": {"from": before, "to": card.stage}} if before != card.stage else {}),
        )
    if assignee is not None and assignee != by.user:
        notify(
            org,
            [assignee],
            kind="publishing.card_assigned",
            title=_("You were assigned “%(title)s”") % {"title": card.title},
            url=reverse("publishing:board"),
        )
    return card


def move_card(card: Card, *, by: Actor, stage: str) -> Card:
    if stage not in Stage.values:
        raise ActionError(_("Unknown stage."))
    return save_card(card.organisation, by=by, card=card, stage=stage)


def comment_on_card(card: Card, *, by: Actor, text: str) -> CardComment:
    if not text.strip():
        raise ActionError(_("Write a comment first."))
    with transaction.atomic():
        comment = CardComment.objects.create(card=card, author=by.user, text=text.strip())
        record(
            "publishing.card.commented",
            actor=by,
            organisation=card.organisation,
            target=card,
            payload={"comment": comment.pk},
        )
    return comment


def card_to_post(card: Card, *, by: Actor, channels: Sequence[ChannelAccount] = ()) -> Post:
    """Start a post from a card's title and notes, without retyping them."""
    if card.post_id:
        raise ActionError(_("This card already has a post."))
    org = card.organisation
    if not channels:
        channels = list(
            ChannelAccount.objects.filter(organisation=org, status=ChannelStatus.ACTIVE).filter(
                ~Q(network="rss")
            )
        )
    post = save_post(
        org,
        by=by,
        title=card.title,
        text=card.notes,
        pillar=card.pillar,
        campaign=card.campaign,
        drafts=[Draft(channel=c, text=card.notes) for c in channels],
    )
    with transaction.atomic():
        card.post = post
        card.save(update_fields=["post"])
        record(
            "publishing.card.became_post",
            actor=by,
            organisation=org,
            target=card,
            payload={"post": post.pk},
        )
    return post
