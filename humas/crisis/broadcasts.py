"""Emergency broadcasts (see ``docs/broadcasts.md``): one message, filled from the
organisation's approved templates, to every chosen channel at once.

The path is short on purpose. A responder drafts (template, placeholders, channels); the
limits of every channel are checked; one designated approver approves (no two-step chain,
but the approval is audited and the broadcast can be approved only once); approving turns it
into an *urgent* publishing post, whose deliveries the urgent workers send side by side at
once (``publishing.delivery.deliver_urgent``). Later broadcasts of the same incident are
updates: on networks with threads they go under the earlier ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, Notice, notify_many
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation, User
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.channels.providers import provider_class
from humas.channels.providers.base import PostContent
from humas.crisis import broadcast_templates as templates
from humas.crisis.models import (
    PLACEHOLDERS,
    Broadcast,
    BroadcastApprover,
    BroadcastStatus,
    BroadcastTemplate,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
)
from humas.publishing import actions as publishing
from humas.publishing.compose import provider_for_limits
from humas.publishing.models import Delivery, DeliveryStatus

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


# --- who approves ------------------------------------------------------------------------------


def approvers(org: Organisation) -> list[User]:
    """The designated approvers who are still active members; when none is designated,
    everyone who may declare incidents (so a new organisation is never stuck)."""
    members = {
        m.user_id: m
        for m in Membership.objects.filter(
            organisation=org, is_active=True, user__is_active=True
        ).select_related("user")
    }
    designated = [
        members[a.user_id].user
        for a in BroadcastApprover.objects.filter(organisation=org).order_by("user__email")
        if a.user_id in members
    ]
    if designated:
        return designated
    return sorted(
        (m.user for m in members.values() if m.has_perm("crisis.declare")), key=lambda u: u.email
    )


def may_approve(org: Organisation, user: User | None) -> bool:
    return user is not None and any(u.pk == user.pk for u in approvers(org))


def set_approvers(org: Organisation, *, by: Actor, users: Sequence[User]) -> list[User]:
    """Designate who approves broadcasts; each must be a member who may declare incidents."""
    with transaction.atomic():
        allowed = {
            m.user_id
            for m in Membership.objects.filter(organisation=org, is_active=True, user__in=users)
            if m.has_perm("crisis.declare")
        }
        refused = [u.email for u in users if u.pk not in allowed]
        if refused:
            raise ActionError(
                _("Only members who may declare incidents can approve broadcasts: %(who)s")
                % {"who": ", ".join(refused)}
            )
        BroadcastApprover.objects.filter(organisation=org).exclude(user__in=users).delete()
        for user in users:
            BroadcastApprover.objects.get_or_create(organisation=org, user=user)
        record(
            "crisis.broadcast.approvers_set",
            actor=by,
            organisation=org,
            target=org,
            payload={"approvers": sorted(u.pk for u in users)},
        )
    return list(users)


# --- composing ---------------------------------------------------------------------------------


def usable_channels(org: Organisation) -> list[ChannelAccount]:
    """The organisation's connected channels that can publish."""
    return [
        c
        for c in ChannelAccount.objects.filter(organisation=org, status=ChannelStatus.ACTIVE)
        if provider_class(c.network).capabilities.publish
    ]


def approved_templates(org: Organisation, hazard: str) -> dict[str, BroadcastTemplate]:
    """The hazard's approved templates by language (the built-ins are seeded on first use)."""
    templates.seed_templates(org)
    return {
        t.language: t
        for t in BroadcastTemplate.objects.filter(
            organisation=org, hazard=hazard, approved_at__isnull=False
        )
    }


def content_for(broadcast: Broadcast, channel: ChannelAccount) -> tuple[str, list[str]]:
    """The text and the follow-up parts for one channel: the first language first; the other
    languages as thread parts where the network has threads, else below it in one post."""
    texts = [
        broadcast.texts[lang].strip() for lang in broadcast.languages if lang in broadcast.texts
    ]
    texts = [t for t in texts if t]
    if not texts:
        return "", []
    if provider_class(channel.network).capabilities.threads:
        return texts[0], texts[1:]
    return "\n\n".join(texts), []


def limit_problems(broadcast: Broadcast) -> dict[int, list[str]]:
    """Each chosen channel's problems with this broadcast (empty: it fits)."""
    found: dict[int, list[str]] = {}
    for channel in broadcast.channels.all():
        text, thread = content_for(broadcast, channel)
        problems = list(
            provider_for_limits(channel).validate(
                PostContent(text=text, thread=[PostContent(text=t) for t in thread])
            )
        )
        if channel.status != ChannelStatus.ACTIVE:
            problems.append(_("This channel needs reconnecting."))
        found[channel.pk] = problems
    return found


def unfilled(broadcast: Broadcast) -> list[str]:
    """Placeholders still written as ``{name}`` in the texts."""
    names: list[str] = []
    for text in broadcast.texts.values():
        for name in templates.placeholders_in(text):
            # Only our placeholder names: a citizen-facing "RW {3}" typed in a value is text.
            if name in PLACEHOLDERS and name not in names:
                names.append(name)
    return names


def _clean_languages(languages: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for lang in languages:
        if _LANGUAGE.match(lang) and lang not in cleaned:
            cleaned.append(lang)
    return cleaned


def _thread_root(incident: Incident) -> Broadcast | None:
    """The incident's first approved broadcast: later ones are its updates."""
    return (
        incident.broadcasts.filter(status=BroadcastStatus.APPROVED, parent__isnull=True)
        .order_by("approved_at", "pk")
        .first()
    )


def draft_broadcast(
    incident: Incident,
    *,
    by: Actor,
    hazard: str,
    languages: Sequence[str],
    values: Mapping[str, str],
    channels: Sequence[ChannelAccount],
) -> Broadcast:
    """Fill the hazard's approved templates for ``languages`` with ``values``; the draft waits
    for one designated approver, who is told at once (in humas, by e-mail and Telegram)."""
    org = incident.organisation
    languages = _clean_languages(languages)
    if not languages:
        raise ActionError(_("Choose at least one language."))
    if not channels:
        raise ActionError(_("Choose at least one channel."))
    if any(c.organisation_id != org.pk for c in channels):
        raise ActionError(_("Choose only this organisation's channels."))
    found = approved_templates(org, hazard)
    absent = [lang for lang in languages if lang not in found]
    if absent:
        raise ActionError(
            _("There is no approved template for this hazard in: %(languages)s")
            % {"languages": ", ".join(absent)}
        )
    values = {k: str(v).strip() for k, v in values.items() if k in PLACEHOLDERS}
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status != IncidentStatus.ACTIVE:
            raise ActionError(_("Broadcasts are sent for an active incident; confirm it first."))
        broadcast = Broadcast.objects.create(
            organisation=org,
            incident=locked,
            parent=_thread_root(locked),
            hazard=hazard,
            languages=languages,
            values=values,
            texts={lang: templates.fill(found[lang].text, values) for lang in languages},
            created_by=by.user,
        )
        broadcast.channels.set(channels)
        record(
            "crisis.broadcast.drafted",
            actor=by,
            organisation=org,
            target=broadcast,
            payload={
                "incident": locked.pk,
                "hazard": hazard,
                "languages": languages,
                "channels": sorted(c.pk for c in channels),
            },
        )
        transaction.on_commit(lambda: _ask_approvers(broadcast, by))
    return broadcast


def _ask_approvers(broadcast: Broadcast, by: Actor) -> None:
    org = broadcast.organisation
    people = [u for u in approvers(org) if by.user is None or u.pk != by.user.pk]
    if not people:
        return
    with translation.override(org.default_language):
        title = _("Emergency broadcast waiting for your approval: %(title)s") % {
            "title": broadcast.incident.title
        }
        notify_many(
            org,
            [
                Notice(
                    users=people,
                    kind="crisis.broadcast",
                    title=title[:200],
                    body=_("Every minute counts: read it and approve it on its page."),
                    url=broadcast_url(broadcast),
                )
            ],
            email=True,
            telegram=True,
        )


def broadcast_url(broadcast: Broadcast) -> str:
    return reverse("crisis:broadcast", args=[broadcast.pk])


def _locked_draft(broadcast: Broadcast) -> Broadcast:
    locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if locked.status == BroadcastStatus.APPROVED:
        raise ActionError(_("This broadcast was already approved and sent; it goes out once."))
    if locked.status != BroadcastStatus.DRAFT:
        raise ActionError(_("This broadcast was cancelled."))
    return locked


def edit_broadcast(
    broadcast: Broadcast,
    *,
    by: Actor,
    texts: Mapping[str, str],
    channels: Sequence[ChannelAccount],
) -> Broadcast:
    """Change a draft's texts or channels before approval."""
    org = broadcast.organisation
    if not channels:
        raise ActionError(_("Choose at least one channel."))
    if any(c.organisation_id != org.pk for c in channels):
        raise ActionError(_("Choose only this organisation's channels."))
    with transaction.atomic():
        locked = _locked_draft(broadcast)
        new_texts = {lang: str(texts.get(lang, "")).strip() for lang in locked.languages}
        if not any(new_texts.values()):
            raise ActionError(_("A broadcast needs a text."))
        locked.texts = new_texts
        locked.save(update_fields=["texts"])
        locked.channels.set(channels)
        record(
            "crisis.broadcast.edited",
            actor=by,
            organisation=org,
            target=locked,
            payload={"channels": sorted(c.pk for c in channels)},
        )
    return locked


def cancel_broadcast(broadcast: Broadcast, *, by: Actor) -> Broadcast:
    with transaction.atomic():
        locked = _locked_draft(broadcast)
        locked.status = BroadcastStatus.CANCELLED
        locked.save(update_fields=["status"])
        record(
            "crisis.broadcast.cancelled", actor=by, organisation=locked.organisation, target=locked
        )
    return locked


def _follow_ups(
    broadcast: Broadcast, channels: Sequence[ChannelAccount]
) -> dict[int, dict[str, str]]:
    """Where an update goes on each channel with threads: under the latest earlier broadcast
    of the thread published there, with the first one as the thread's root. A channel the
    first broadcast never reached is left out (the update stands alone there)."""
    root = broadcast.parent
    threaded = [c.pk for c in channels if provider_class(c.network).capabilities.threads]
    if root is None or root.post_id is None or not threaded:
        return {}
    earlier = root.updates.filter(status=BroadcastStatus.APPROVED, post__isnull=False).exclude(
        pk=broadcast.pk
    )
    # The thread in the order it was published: the root, then its updates.
    order = [root.post_id, *earlier.order_by("approved_at", "pk").values_list("post_id", flat=True)]
    found: dict[tuple[int, int], str] = {
        (post_id, channel_id): external_id
        for post_id, channel_id, external_id in Delivery.objects.filter(
            post__in=order,
            channel__in=threaded,
            status=DeliveryStatus.PUBLISHED,
            channel_post__isnull=False,
        ).values_list("post_id", "channel_id", "channel_post__external_id")
    }
    under: dict[int, dict[str, str]] = {}
    for channel_id in threaded:
        published = [found[(p, channel_id)] for p in order if (p, channel_id) in found]
        if (root.post_id, channel_id) in found:
            under[channel_id] = {"id": published[-1], "root": published[0]}
    return under


def approve_broadcast(broadcast: Broadcast, *, by: Actor) -> Broadcast:
    """The designated approver's one step: the broadcast goes out now, once.

    Approving twice (two approvers at the same moment, a double click) sends it once: the
    row is locked and only a draft can be approved; the second gets a clear message.
    """
    org = broadcast.organisation
    if not may_approve(org, by.user):
        raise ActionError(_("Only a designated broadcast approver can approve this."))
    with transaction.atomic():
        locked = _locked_draft(broadcast)
        incident = Incident.objects.select_for_update().get(pk=locked.incident_id)
        if incident.status != IncidentStatus.ACTIVE:
            raise ActionError(_("The incident is no longer active."))
        names = unfilled(locked)
        if names:
            raise ActionError(
                _("Fill in every placeholder first: %(names)s")
                % {"names": ", ".join(f"{{{n}}}" for n in names)}
            )
        problems = {pk: p for pk, p in limit_problems(locked).items() if p}
        if problems:
            channels = {c.pk: str(c) for c in locked.channels.all()}
            raise ActionError(
                _("Some channels cannot take this text: %(problems)s")
                % {
                    "problems": "; ".join(
                        f"{channels[pk]}: {' '.join(p)}" for pk, p in problems.items()
                    )
                }
            )
        parts = []
        chosen = list(locked.channels.order_by("pk"))
        follow_ups = _follow_ups(locked, chosen)
        for channel in chosen:
            text, thread = content_for(locked, channel)
            under = follow_ups.get(channel.pk)
            parts.append(
                publishing.UrgentPart(
                    channel=channel,
                    text=text,
                    thread=thread,
                    options={"in_reply_to": under} if under else {},
                )
            )
        prefix = _("Update") if locked.parent_id else _("Emergency")
        post = publishing.publish_urgent(
            org,
            by=by,
            author=locked.created_by,
            title=f"{prefix}: {incident.title}",
            parts=parts,
        )
        locked.post = post
        locked.status = BroadcastStatus.APPROVED
        locked.approved_by = by.user
        locked.approved_at = timezone.now()
        locked.save(update_fields=["post", "status", "approved_by", "approved_at"])
        IncidentEvent.objects.create(
            incident=incident,
            at=locked.approved_at,
            kind=IncidentEventKind.BROADCAST,
            text=next(iter(locked.texts.values()), "")[:5000],
            actor=by.user,
            broadcast=locked,
        )
        record(
            "crisis.broadcast.approved",
            actor=by,
            organisation=org,
            target=locked,
            payload={
                "incident": incident.pk,
                "post": post.pk,
                "update_of": locked.parent_id,
                "channels": [p.channel.pk for p in parts],
            },
        )
    return locked


# --- following it ------------------------------------------------------------------------------


@dataclass
class ChannelResult:
    delivery: Delivery
    channel: ChannelAccount
    status: str
    label: str
    url: str = ""
    error: str = ""
    seconds: float | None = None  # from approval to published
    retryable: bool = False


@dataclass
class Progress:
    rows: list[ChannelResult] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        open_ = {DeliveryStatus.PENDING, DeliveryStatus.SENDING}
        return all(r.status not in open_ for r in self.rows)

    @property
    def published(self) -> int:
        return sum(r.status == DeliveryStatus.PUBLISHED for r in self.rows)


def progress(broadcast: Broadcast) -> Progress:
    """Each channel's state, as the live page shows it."""
    if broadcast.post_id is None:
        return Progress()
    rows = []
    deliveries = (
        Delivery.objects.filter(post_id=broadcast.post_id)
        .exclude(status=DeliveryStatus.CANCELLED)
        .select_related("channel", "channel_post")
        .order_by("channel__network", "channel_id", "-pk")
    )
    seen: set[int] = set()
    for d in deliveries:
        if d.channel_id in seen:
            continue  # an older attempt of a delivery made again
        seen.add(d.channel_id)
        seconds = None
        if d.published_at and broadcast.approved_at:
            seconds = max(0.0, (d.published_at - broadcast.approved_at).total_seconds())
        rows.append(
            ChannelResult(
                delivery=d,
                channel=d.channel,
                status=d.status,
                label=str(DeliveryStatus(d.status).label),
                url=d.channel_post.url if d.channel_post else "",
                error=d.last_error,
                seconds=seconds,
                retryable=d.status in (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN),
            )
        )
    return Progress(rows)


def retry_channel(broadcast: Broadcast, delivery: Delivery, *, by: Actor) -> Delivery:
    """Send a failed channel's delivery again, still at top priority (it stays urgent)."""
    if delivery.post_id != broadcast.post_id or broadcast.post_id is None:
        raise ActionError(_("This delivery is not part of the broadcast."))
    return publishing.retry_delivery(
        delivery, by=by, send_again=delivery.status == DeliveryStatus.UNCERTAIN
    )
